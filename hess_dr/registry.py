"""The registry records of the configured collections.

Every collection of the operator configuration becomes one VOResource
record (a ``vs:CatalogService``) when ``dachs pub hess_dr/q`` runs: q.rd
makes one service per collection from :func:`records` (a ``LOOP``), whose
metadata DaCHS turns into the record.  This module decides what goes in:

- curation from the configuration: title, short name, description,
  publisher, creators, contact, reference URL, rights and UAT subjects,
  each with a fallback (the service-wide values, then values made from
  the other keys);
- the collection's coverage as the last import computed it (rows of
  ``hess_dr.coverage``, see :mod:`hess_dr.coverage`): a spatial MOC,
  temporal and spectral intervals, waveband Gamma-ray;
- the facility and instruments of the collection.

The result is plain strings for the RD's macros; multi-valued items go
into a DaCHS meta stream (``key: value`` lines).
"""
from __future__ import annotations

import re
import urllib.parse
from typing import Mapping

from . import coverage as hcoverage
from .config import Collection, Config

#: Prefix of the services q.rd makes for the collections (the record's
#: identifier is ivo://<authority>/hess_dr/q/<id>).
ID_PREFIX = "coll_"


def service_id(collection: Collection) -> str:
    """The id of the collection's service in q.rd: letters, digits, '_'."""
    return ID_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", collection.name)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _escape_macros(text: str) -> str:
    """Text that DaCHS will not read as macros (a backslash starts one)."""
    return text.replace("\\", "\\\\")


def title(collection: Collection) -> str:
    return _one_line(collection.title) or f"{collection.title_prefix} event lists"


def short_name(collection: Collection) -> str:
    return collection.short_name or collection.name[:16]


def description(configuration: Config, collection: Collection) -> str:
    if collection.description:
        return _one_line(collection.description)
    facility = collection.facility_name or collection.instrument_name
    made_by = f" of {facility}" if facility else ""
    return (f"Gamma-ray event lists{made_by} (collection {collection.obs_collection}) in"
            " the GADF DL3 format, published through ObsCore (dataproduct_type 'event')"
            " with the high-energy extension ivoa.obscore_hea, GADF observation"
            " metadata (hess_dr.obs_index) and good time intervals (hess_dr.gti), with"
            " DataLink, server-side event cutouts (SODA) and a search form.")


def publisher(configuration: Config, collection: Collection) -> str:
    return (collection.publisher or configuration.publisher
            or configuration.contact_name or "hess_dr operators")


def contact(configuration: Config, collection: Collection) -> tuple[str, str | None]:
    """(name, e-mail) of the collection's contact."""
    if collection.contact_name or collection.contact_email:
        return (collection.contact_name or publisher(configuration, collection),
                collection.contact_email or configuration.contact_email)
    return (configuration.contact_name or publisher(configuration, collection),
            configuration.contact_email)


def creators(configuration: Config, collection: Collection) -> tuple[str, ...]:
    return collection.creators or (publisher(configuration, collection),)


def reference_url(configuration: Config, collection: Collection) -> str | None:
    """The configured web page of the collection, else its rights page;
    None lets DaCHS point at the record's info page."""
    return collection.reference_url or collection.rights_url


def rights(configuration: Config, collection: Collection) -> str:
    return (collection.rights or "").strip() or "See the terms of use of the data provider."


def form_url(server_url: str, form_path: str, collection: Collection) -> str:
    """The search form with this collection chosen."""
    query = urllib.parse.urlencode({"collection": collection.obs_collection})
    return f"{server_url.rstrip('/')}/{form_path.lstrip('/')}?{query}"


def meta_stream(configuration: Config, collection: Collection,
                cov: hcoverage.Coverage | None) -> str:
    """The multi-valued metadata of the record as DaCHS meta-stream lines."""
    lines = [f"publisher: {_one_line(publisher(configuration, collection))}"]
    name, email = contact(configuration, collection)
    lines.append(f"contact.name: {_one_line(name)}")
    if email:
        lines.append(f"contact.email: {email}")
    if configuration.contact_address and not (collection.contact_name
                                              or collection.contact_email):
        lines.append(f"contact.address: {_one_line(configuration.contact_address)}")
    # DaCHS splits a creator meta at ';' into one creator per name
    lines.append("creator: " + "; ".join(_one_line(c) for c in
                                         creators(configuration, collection)))
    for subject in collection.subjects or ("gamma-ray-astronomy",):
        lines.append(f"subject: {subject}")
    url = reference_url(configuration, collection)
    if url:
        lines.append(f"referenceURL: {url}")
    if collection.source:
        lines.append(f"source: {_one_line(collection.source)}")
    facilities = list(cov.facilities) if cov and cov.facilities else []
    if collection.facility_name and collection.facility_name not in facilities:
        facilities.insert(0, collection.facility_name)
    for facility in facilities:
        lines.append(f"facility: {_one_line(facility)}")
    instruments = list(cov.instruments) if cov and cov.instruments else []
    if not instruments and collection.instrument_name:
        instruments = [collection.instrument_name]
    for instrument in instruments:
        lines.append(f"instrument: {_one_line(instrument)}")
    lines.append(f"coverage.waveband: {hcoverage.WAVEBAND}")
    if cov is not None:
        if cov.moc:
            lines.append(f"coverage.spatial: {cov.moc}")
        for lo, hi in cov.temporal:
            lines.append(f"coverage.temporal: {lo:.10g} {hi:.10g}")
        if cov.spectral:
            lines.append(f"coverage.spectral: {cov.spectral[0]:.10g} {cov.spectral[1]:.10g}")
    return "\n".join(_escape_macros(line) for line in lines)


def records(configuration: Config, coverages: Mapping[str, hcoverage.Coverage],
            server_url: str, form_path: str) -> list[dict]:
    """One dict of strings per collection, for q.rd's LOOP.

    Parameters
    ----------
    configuration : hess_dr.config.Config
    coverages : mapping
        Collection name -> its coverage (missing before the first import).
    server_url : str
        DaCHS's ``[web]serverURL``.
    form_path : str
        Path of the search form below the server (``hess_dr/q/web/form``).
    """
    result, ids = [], {}
    for collection in configuration.collections:
        record_id = service_id(collection)
        if record_id in ids:
            raise ValueError(f"collections {ids[record_id]!r} and {collection.name!r}"
                             f" give the same record id {record_id}")
        ids[record_id] = collection.name
        cov = coverages.get(collection.name)
        result.append({
            "id": record_id,
            "collection": collection.name,
            "obs_collection": _escape_macros(collection.obs_collection),
            "title": _escape_macros(title(collection)),
            "shortName": _escape_macros(short_name(collection)),
            "description": _escape_macros(description(configuration, collection)),
            "rights": _escape_macros(rights(configuration, collection)),
            "metaStream": meta_stream(configuration, collection, cov),
            "formURL": _escape_macros(form_url(server_url, form_path, collection)),
            "nRuns": str(cov.n_runs if cov else 0),
        })
    return result
