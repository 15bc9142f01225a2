"""From a TAP query to a Gammapy analysis: download event lists through DataLink.

A TAP query on ``ivoa.obscore`` selects runs; for each run this module asks
the service's DataLink endpoint what belongs to the dataset, downloads the
event list (``#this``, content_qualifier ``event-list``) and the instrument
response functions (``#calibration`` rows with content_qualifier ``aeff``,
``edisp``, ``psf``, ``bkgrate``), writes the GADF index files that Gammapy
reads (``obs-index.fits.gz`` and ``hdu-index.fits.gz``) and returns a
:class:`gammapy.data.DataStore`.

In one call::

    from hess_dr.client import datastore_from_tap

    data_store = datastore_from_tap(
        "http://127.0.0.1:8080/tap",
        "SELECT obs_publisher_did, obs_id FROM ivoa.obscore"
        " WHERE obs_collection = 'HESS-DL3-DR1' AND dataproduct_type = 'event'"
        " AND 1 = CONTAINS(POINT('ICRS', 83.633, 22.0145), s_region)",
        "crab-dl3")
    observations = data_store.get_observations()

Step by step, with pyvo::

    import pyvo
    from hess_dr import client

    tap = pyvo.dal.TAPService("http://127.0.0.1:8080/tap")
    results = tap.run_sync(
        "SELECT obs_publisher_did, obs_id FROM ivoa.obscore"
        " WHERE obs_id IN ('23523', '23526', '23559', '23592')")
    downloads = client.download_datasets(results, "crab-dl3")
    for run in downloads:
        print(run["obs_id"], run["event_list"].name, sorted(run["calibration"]))
    data_store = client.build_datastore(downloads, "crab-dl3")
    print(data_store.obs_table["OBS_ID", "RA_PNT", "DEC_PNT", "LIVETIME"])

and then any Gammapy analysis, e.g. a 1D spectrum of the Crab::

    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (ReflectedRegionsBackgroundMaker, SafeMaskMaker,
                                SpectrumDatasetMaker)
    from gammapy.maps import MapAxis, RegionGeom

    on_region = CircleSkyRegion(SkyCoord(83.633, 22.0145, unit="deg"), 0.11 * u.deg)
    energy = MapAxis.from_energy_bounds(0.5, 40, 16, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(RegionGeom.create(on_region, axes=[energy]),
                                   energy_axis_true=energy_true)
    maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"])
    bkg_maker = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(methods=["aeff-default"])
    datasets = Datasets()
    for obs in observations:
        dataset = maker.run(empty.copy(name=str(obs.obs_id)), obs)
        datasets.append(safe.run(bkg_maker.run(dataset, obs), obs))
    print(datasets.stack_reduce().info_dict())

Files
-----
Everything lands below ``dest_dir``: ``data/obs_<OBS_ID>_events.fits[.gz|.bz2]``
(the ``#this`` file: EVENTS, GTI and, for H.E.S.S., the run's IRFs),
``data/obs_<OBS_ID>_<aeff|edisp|psf|bkg>.fits[.gz|.bz2]`` (the ``#calibration``
files), ``terms-of-use.txt`` (the data's terms of use, which must travel with
every copy) and the two index files.

Robustness
----------
- A service whose DataLink rows carry no ``content_qualifier`` (DataLink
  1.0, DaCHS < 2.8) is understood: the IRF type comes from the link
  description and is confirmed from the downloaded file's ``HDUCLAS2``
  (else ``EXTNAME``) header.
- If a run has no ``#calibration`` link (or a download fails), the IRFs
  stored in the event-list file itself are indexed instead; each run's
  ``notes`` say so.
- Without any DataLink (a plain astropy table, no ``datalink_url``), the
  row's ``access_url`` is used as the event list when ``access_format`` is
  not itself a DataLink document.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from . import files
from .dl3 import IRF_TYPES, find_events_hdu, find_gti_hdu, response_hdus
from .events import BZIP2_MAGIC, GZIP_MAGIC
from .timeref import TimeReference, TimeRefError, time_reference
from .values import finite_float as _float
from .values import text as _text

__all__ = ["download_datasets", "build_datastore", "datastore_from_tap",
           "DownloadError", "IRF_QUALIFIERS"]

DATALINK_MIME = "application/x-votable+xml;content=datalink"

#: DataLink content_qualifier of an IRF -> GADF HDU_TYPE.
IRF_QUALIFIERS = {"aeff": "aeff", "edisp": "edisp", "psf": "psf", "bkgrate": "bkg",
                  "bkg": "bkg", "rad_max": "rad_max"}

# Words of a link description -> HDU_TYPE (services without content_qualifier)
_DESCRIPTION_WORDS = (("effective area", "aeff"), ("aeff", "aeff"),
                      ("energy dispersion", "edisp"), ("edisp", "edisp"),
                      ("migration", "edisp"), ("point spread", "psf"), ("psf", "psf"),
                      ("background", "bkg"), ("bkg", "bkg"), ("rad_max", "rad_max"),
                      ("directional cut", "rad_max"))

#: Obs-index columns copied from the EVENTS header (GADF obs-index names),
#: with their units.
_OBS_COLUMNS = {
    "RA_PNT": "deg", "DEC_PNT": "deg", "GLON_PNT": "deg", "GLAT_PNT": "deg",
    "ZEN_PNT": "deg", "ALT_PNT": "deg", "AZ_PNT": "deg", "RA_OBJ": "deg",
    "DEC_OBJ": "deg", "ONTIME": "s", "LIVETIME": "s", "DEADC": "",
    "TSTART": "s", "TSTOP": "s", "N_TELS": "", "MUONEFF": "",
}
_OBS_TEXT_COLUMNS = ("OBJECT", "OBS_MODE", "TELLIST", "DATE-OBS", "TIME-OBS",
                     "DATE-END", "TIME-END", "TELESCOP", "INSTRUME", "EV_CLASS")

_CHUNK = 1 << 20
_TIMEOUT = 120


class DownloadError(RuntimeError):
    """A run whose event list could not be obtained."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def _value(row, name: str):
    """A row's field as a plain str/number, or None if absent, masked or ''."""
    try:
        value = row[name]
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, np.ma.MaskedArray):
        if value.mask.all():
            return None
        value = value.data
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _semantics(value) -> str | None:
    """'#this' for '#this', 'this' or 'http://www.ivoa.net/rdf/datalink/core#this'."""
    if not value:
        return None
    value = str(value).strip()
    if "#" in value:
        return "#" + value.rsplit("#", 1)[1]
    return value if value.startswith("#") else "#" + value


def _qualifier(value) -> str | None:
    """Bare term of a content_qualifier (a term or a vocabulary URI)."""
    if not value:
        return None
    return str(value).strip().rsplit("#", 1)[-1].lower() or None


def _safe_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")
    return cleaned[:80] or "run"


def _obs_id_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return _text(value)


def _make_session(session):
    if session is not None:
        return session
    from pyvo.utils.http import create_session
    return create_session()


# --------------------------------------------------------------------------
# DataLink
# --------------------------------------------------------------------------

class _Link:
    """One usable row of a DataLink response."""

    def __init__(self, semantics, url, content_type, description, qualifier, length):
        self.semantics = semantics
        self.url = url
        self.content_type = content_type
        self.description = description or ""
        self.qualifier = qualifier
        self.length = length

    def guess_irf_type(self) -> str | None:
        """HDU type from content_qualifier, else from the description."""
        if self.qualifier in IRF_QUALIFIERS:
            return IRF_QUALIFIERS[self.qualifier]
        text = self.description.lower()
        for words, hdu_type in _DESCRIPTION_WORDS:
            if words in text:
                return hdu_type
        return None


def _parse_links(datalink) -> tuple[list[_Link], list[str]]:
    """Usable links (an access_url, no error) and the error messages."""
    links, errors = [], []
    for row in datalink:
        error = _value(row, "error_message")
        url = _value(row, "access_url")
        if error:
            errors.append(str(error))
            continue
        if not url:  # service descriptors (#cutout, #proc) and empty rows
            continue
        length = _value(row, "content_length")
        links.append(_Link(_semantics(_value(row, "semantics")), str(url),
                           _value(row, "content_type"), _value(row, "description"),
                           _qualifier(_value(row, "content_qualifier")),
                           int(length) if isinstance(length, (int, float)) else None))
    return links, errors


def _datalink_for_row(row, did: str, datalink_url: str | None, session):
    """The DatalinkResults of one row (pyvo), or None when there is none."""
    from pyvo.dal.adhoc import DatalinkResults
    if datalink_url:
        sep = "&" if "?" in datalink_url else "?"
        url = f"{datalink_url}{sep}{urllib.parse.urlencode({'ID': did})}"
        return DatalinkResults.from_result_url(url, session=session)
    if hasattr(row, "getdatalink"):  # a pyvo record of TAPResults
        return row.getdatalink()
    access_format = (_value(row, "access_format") or "").replace(" ", "").lower()
    if access_format == DATALINK_MIME and _value(row, "access_url"):
        return DatalinkResults.from_result_url(_value(row, "access_url"), session=session)
    return None


def _colnames(results) -> list[str]:
    if hasattr(results, "fieldnames"):
        return list(results.fieldnames)
    return list(getattr(results, "colnames", []))


# --------------------------------------------------------------------------
# downloading
# --------------------------------------------------------------------------

def _download(session, url: str, directory: Path, stem: str,
              expected_length: int | None = None, suffix: str | None = None) -> Path:
    """Stream ``url`` to ``directory/stem<suffix>`` (atomically).

    Without ``suffix`` the file is FITS, and the suffix is ``.fits.gz``,
    ``.fits.bz2`` or ``.fits`` from the content's first bytes.
    """
    directory.mkdir(parents=True, exist_ok=True)

    def stream(out) -> Path:
        with session.get(url, stream=True, timeout=_TIMEOUT) as response:
            response.raise_for_status()
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            size, head = 0, b""
            for chunk in response.iter_content(_CHUNK):
                if not head:
                    head = chunk[:8]
                out.write(chunk)
                size += len(chunk)
        chosen = suffix
        if chosen is None:
            if head[:2] == GZIP_MAGIC:
                chosen = ".fits.gz"
            elif head[:3] == BZIP2_MAGIC:
                chosen = ".fits.bz2"
            elif head.startswith(b"SIMPLE"):
                chosen = ".fits"
            else:
                raise DownloadError(f"{url}: not a FITS file (starts with {head!r})")
        # (a content-encoded transfer is decoded, so its size says nothing)
        if expected_length and not encoded and size != expected_length:
            raise DownloadError(f"{url}: got {size} bytes, the link says {expected_length}")
        return directory / f"{stem}{chosen}"

    return files.write_atomically(directory / stem, stream)


def _response_hdus(path: Path) -> dict[str, tuple[str, str]]:
    """{hdu_type: (EXTNAME, HDU_CLASS)} of the IRF HDUs of a FITS file, found
    and classified as the import finds them (:func:`hess_dr.dl3.response_hdus`)."""
    with fits.open(path, memmap=False) as hdus:
        return response_hdus(hdus)


def _header_obs_id(path: Path) -> str | None:
    with fits.open(path, memmap=False) as hdus:
        events = find_events_hdu(hdus)
        if events is None:
            raise DownloadError(f"{path}: no EVENTS table in the downloaded event list")
        return _obs_id_text(events.header.get("OBS_ID", hdus[0].header.get("OBS_ID")))


def download_datasets(tap_results_or_table, dest_dir, session=None, *,
                      datalink_url: str | None = None,
                      calibration: bool = True) -> list[dict]:
    """Download the event list and IRFs of every row through DataLink.

    Parameters
    ----------
    tap_results_or_table : pyvo.dal.TAPResults or astropy.table.Table
        Rows with an ``obs_publisher_did`` column (and ideally ``obs_id``).
        For pyvo results the service's DataLink descriptor is used
        (``row.getdatalink()``); for an astropy table pass ``datalink_url``,
        or include ``access_url``/``access_format``.
    dest_dir : path-like
        Files go to ``dest_dir/data/``; the terms of use to
        ``dest_dir/terms-of-use.txt``.  Created if missing.
    session : requests.Session, optional
        Used for DataLink requests and downloads (authentication, proxies);
        default: a pyvo session.
    datalink_url : str, optional
        The DataLink ``dlmeta`` endpoint (e.g.
        ``http://host/hess_dr/q/dl/dlmeta``), queried as ``?ID=<did>``;
        overrides the descriptor of pyvo results.
    calibration : bool
        Download the ``#calibration`` IRF files.  False fetches only the
        event lists (GADF DL3 files that carry their IRFs, as H.E.S.S.'s do).

    Returns
    -------
    list of dict
        One dict per row, in the rows' order, with keys

        ``obs_publisher_did`` (str), ``obs_id`` (str),
        ``event_list`` (pathlib.Path, the ``#this`` file),
        ``calibration`` (dict: GADF HDU type ``aeff``/``edisp``/``psf``/
        ``bkg``/``rad_max`` -> pathlib.Path, type read from the file),
        ``terms_of_use`` (pathlib.Path or None) and
        ``notes`` (list of str: fallbacks taken, links that failed).

    Raises
    ------
    ValueError
        If the rows have no ``obs_publisher_did`` column.
    DownloadError
        If a run's event list cannot be found or downloaded.
    """
    if "obs_publisher_did" not in _colnames(tap_results_or_table):
        raise ValueError("the query results need an obs_publisher_did column "
                         "(SELECT obs_publisher_did, obs_id FROM ivoa.obscore ...)")
    session = _make_session(session)
    dest_dir = Path(dest_dir)
    data_dir = dest_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    used_names: dict[str, str] = {}
    terms: dict[str, Path] = {}
    downloads = []
    for row in tap_results_or_table:  # pyvo records or astropy rows
        did = _value(row, "obs_publisher_did")
        if not did:
            raise DownloadError("a row has an empty obs_publisher_did")
        downloads.append(_download_run(row, str(did), data_dir, dest_dir, session,
                                       datalink_url, calibration, used_names, terms))
    return downloads


def _download_run(row, did, data_dir, dest_dir, session, datalink_url, calibration,
                  used_names, terms) -> dict:
    notes: list[str] = []
    links: list[_Link] = []
    errors: list[str] = []
    try:
        datalink = _datalink_for_row(row, did, datalink_url, session)
    except Exception as exc:  # pyvo raises DALServiceError, DALFormatError, HTTP errors
        datalink = None
        notes.append(f"DataLink request failed: {exc}")
    if datalink is not None:
        links, errors = _parse_links(datalink)
        notes.extend(f"DataLink error: {message}" for message in errors)
    elif not notes:
        notes.append("no DataLink service for this row")

    # the event list: #this (event-list), else #package (event-bundle),
    # else the row's access_url
    this = ([l for l in links if l.semantics == "#this" and l.qualifier in (None, "event-list")]
            or [l for l in links if l.semantics == "#this"])
    package = [l for l in links if l.semantics == "#package"]
    if this:
        source = this[0]
    elif package:
        source = package[0]
        notes.append("no #this link: event list taken from the #package link")
    else:
        refusals = [message for message in errors
                    if message.startswith(("AuthenticationFault", "AuthorizationFault"))]
        if refusals:  # proprietary data: say why rather than fail on the file
            raise DownloadError(f"{did}: {refusals[0]}")
        access_url = _value(row, "access_url")
        access_format = (_value(row, "access_format") or "").replace(" ", "").lower()
        if not access_url or access_format == DATALINK_MIME:
            raise DownloadError(f"{did}: no event list link ({'; '.join(notes) or 'no links'})")
        source = _Link("#this", str(access_url), access_format, "", "event-list", None)
        notes.append("event list taken from the row's access_url")

    obs_id = _obs_id_text(_value(row, "obs_id"))
    stem = _safe_name(obs_id) if obs_id else "did_" + hashlib.sha1(did.encode()).hexdigest()[:12]
    stem = _unique(stem, did, used_names)
    try:
        event_list = _download(session, source.url, data_dir, f"obs_{stem}_events",
                               source.length)
    except DownloadError:
        raise
    except Exception as exc:
        raise DownloadError(f"{did}: cannot download the event list {source.url}: {exc}") from exc
    header_obs_id = _header_obs_id(event_list)
    if obs_id is None and header_obs_id:
        obs_id = header_obs_id
        new_stem = _unique(_safe_name(obs_id), did, used_names)
        renamed = event_list.with_name(event_list.name.replace(f"obs_{stem}_", f"obs_{new_stem}_", 1))
        os.replace(event_list, renamed)
        event_list, stem = renamed, new_stem
    elif header_obs_id and obs_id != header_obs_id:
        notes.append(f"OBS_ID of the file ({header_obs_id}) differs from the row's ({obs_id})")

    irfs: dict[str, Path] = {}
    if calibration:
        # an IRF linked to the event list file itself is already here
        for link in (l for l in links if l.semantics == "#calibration"
                     and l.url != source.url):
            guess = link.guess_irf_type()
            name = f"obs_{stem}_{guess or 'calibration_' + str(len(irfs))}"
            try:
                path = _download(session, link.url, data_dir, name, link.length)
                found = _response_hdus(path)
            except Exception as exc:
                notes.append(f"#calibration {link.qualifier or link.description!r} failed: {exc}")
                continue
            if len(found) != 1:
                notes.append(f"#calibration file {path.name} holds {sorted(found) or 'no'}"
                             " IRF HDUs; ignored")
                path.unlink()
                continue
            hdu_type = next(iter(found))
            if hdu_type != guess:
                if guess is not None:
                    notes.append(f"{path.name}: link says {guess}, file holds {hdu_type}")
                final = data_dir / path.name.replace(name, f"obs_{stem}_{hdu_type}", 1)
                os.replace(path, final)
                path = final
            if hdu_type in irfs:
                notes.append(f"second #calibration file for {hdu_type} ignored")
                path.unlink()
                continue
            irfs[hdu_type] = path
    in_file = _response_hdus(event_list)
    missing = [t for t in in_file if t not in irfs]
    if missing:
        notes.append(f"IRFs from the event list file: {', '.join(missing)}"
                     + ("" if calibration else " (calibration=False)"))

    terms_path = _download_terms(links, dest_dir, session, terms, notes)
    return {"obs_publisher_did": did, "obs_id": obs_id, "event_list": event_list,
            "calibration": irfs, "terms_of_use": terms_path, "notes": notes}


def _unique(stem: str, did: str, used: dict) -> str:
    """File stem unique per dataset (two collections may share an OBS_ID)."""
    if used.get(stem, did) != did:
        stem = f"{stem}_{hashlib.sha1(did.encode()).hexdigest()[:8]}"
    used[stem] = did
    return stem


def _download_terms(links, dest_dir: Path, session, seen: dict, notes) -> Path | None:
    """Save the plain-text terms of use (#documentation) once per distinct text.

    ``seen`` maps the sha256 of each text already saved to its file.
    """
    link = next((l for l in links if l.semantics == "#documentation" and (
        l.qualifier == "terms-of-use" or (l.content_type or "").startswith("text/plain"))),
        None)
    if link is None:
        return None
    try:
        with session.get(link.url, timeout=_TIMEOUT) as response:
            response.raise_for_status()
            text = response.content
    except Exception as exc:
        notes.append(f"terms of use not downloaded: {exc}")
        return None
    digest = hashlib.sha256(text).hexdigest()
    if digest not in seen:
        name = "terms-of-use.txt" if not seen else f"terms-of-use-{digest[:8]}.txt"
        seen[digest] = files.write_bytes_atomically(dest_dir / name, text)
    return seen[digest]


# --------------------------------------------------------------------------
# GADF index files
# --------------------------------------------------------------------------

def _time_reference(header) -> TimeReference:
    """The time reference of an EVENTS header, as the import builds it
    (:func:`hess_dr.timeref.time_reference`; TIMESYS TT when missing)."""
    try:
        return time_reference(header, default_timesys="TT")
    except TimeRefError as exc:
        raise ValueError(f"EVENTS header: {exc}") from None


def _obs_row(obs_id, events_header, primary_header, n_events) -> dict:
    def get(key):
        value = events_header.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            value = primary_header.get(key)
        return value

    row: dict[str, Any] = {"OBS_ID": obs_id}
    for key in _OBS_COLUMNS:
        row[key] = _float(get(key))
    if row["ZEN_PNT"] is None and row["ALT_PNT"] is not None:
        row["ZEN_PNT"] = 90.0 - row["ALT_PNT"]
    if row["ALT_PNT"] is None and row["ZEN_PNT"] is not None:
        row["ALT_PNT"] = 90.0 - row["ZEN_PNT"]
    if row["DEADC"] is None and row["LIVETIME"] and row["ONTIME"]:
        row["DEADC"] = row["LIVETIME"] / row["ONTIME"]
    for key in _OBS_TEXT_COLUMNS:
        row[key.replace("-", "_")] = _text(get(key)) or ""
    row["TARGET_NAME"] = row["OBJECT"]
    row["EVENT_COUNT"] = int(n_events)
    return row


def build_datastore(downloads: list[dict], dest_dir):
    """Write GADF obs-index and hdu-index files for downloads; open them.

    Parameters
    ----------
    downloads : list of dict
        What :func:`download_datasets` returned (at least ``event_list``
        and ``calibration`` per run).
    dest_dir : path-like
        Where ``obs-index.fits.gz`` and ``hdu-index.fits.gz`` are written
        (normally the ``dest_dir`` given to :func:`download_datasets`);
        FILE_DIR entries are relative to it.

    Returns
    -------
    gammapy.data.DataStore
        ``DataStore.from_dir(dest_dir)``.

    Notes
    -----
    The obs-index is built from the EVENTS headers of the downloaded files
    (OBS_ID, RA_PNT, DEC_PNT, ZEN_PNT, ALT_PNT, AZ_PNT, ONTIME, LIVETIME,
    DEADC, TSTART, TSTOP, OBJECT, ...); its MJDREFI/MJDREFF/TIMESYS come
    from the first file, and TSTART/TSTOP of files with another time
    reference are converted to it.  In the hdu-index, ``events`` and ``gti``
    point at the event list; each IRF at its ``#calibration`` file, or at
    the event list's own HDU when there is none.  HDU_CLASS is the
    HDUCLAS4 keyword in lower case, HDU_NAME the EXTNAME.

    Raises
    ------
    ValueError
        If there is nothing to index, an event list has no EVENTS table or
        time reference, or two runs share an OBS_ID.
    """
    from gammapy.data import DataStore

    dest_dir = Path(dest_dir).resolve()
    if not downloads:
        raise ValueError("no downloaded runs to index")
    obs_rows, hdu_rows = [], []
    reference = None
    for run in downloads:
        path = Path(run["event_list"]).resolve()
        with fits.open(path, memmap=False) as hdus:
            events = find_events_hdu(hdus)
            if events is None:
                raise ValueError(f"{path}: no EVENTS table")
            gti = find_gti_hdu(hdus)
            header = events.header.copy()
            primary = hdus[0].header.copy()
            n_events = header.get("NAXIS2", 0)
        obs_id = _obs_id_text(header.get("OBS_ID", primary.get("OBS_ID"))) or run.get("obs_id")
        if obs_id is None:
            raise ValueError(f"{path}: no OBS_ID")
        row = _obs_row(obs_id, header, primary, n_events)
        time_ref = _time_reference(header)
        if reference is None:
            reference = (time_ref, header)
        elif time_ref != reference[0]:
            # express this run's MET in the index's time reference
            for key in ("TSTART", "TSTOP"):
                if row[key] is not None:
                    row[key] = float(reference[0].to_met(time_ref.to_time(row[key])))
        obs_rows.append(row)

        def add(hdu_type, hdu_class, file_path, hdu_name):
            hdu_rows.append({"OBS_ID": obs_id, "HDU_TYPE": hdu_type, "HDU_CLASS": hdu_class,
                             "FILE_DIR": os.path.relpath(file_path.parent, dest_dir),
                             "FILE_NAME": file_path.name, "HDU_NAME": hdu_name,
                             "SIZE": file_path.stat().st_size})

        add("events", "events", path, str(events.name))
        if gti is not None:
            add("gti", "gti", path, str(gti.name))
        own = _response_hdus(path)
        separate = {t: Path(p).resolve() for t, p in (run.get("calibration") or {}).items()}
        for hdu_type in IRF_TYPES:
            if hdu_type in separate:
                found = _response_hdus(separate[hdu_type])
                if hdu_type in found:
                    name, hdu_class = found[hdu_type]
                    add(hdu_type, hdu_class, separate[hdu_type], name)
                    continue
            if hdu_type in own:
                name, hdu_class = own[hdu_type]
                add(hdu_type, hdu_class, path, name)

    ids = [row["OBS_ID"] for row in obs_rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"several runs share an OBS_ID: {sorted(ids)}")
    numeric = all(re.fullmatch(r"-?\d+", str(i)) for i in ids)
    _write_obs_index(dest_dir / "obs-index.fits.gz", obs_rows, numeric, reference)
    _write_hdu_index(dest_dir / "hdu-index.fits.gz", hdu_rows, numeric)
    return DataStore.from_dir(dest_dir)


def _table_columns(rows: list[dict], units: dict, numeric_ids: bool) -> list[fits.Column]:
    columns = []
    for name in rows[0]:
        values = [row[name] for row in rows]
        if name == "OBS_ID" and numeric_ids:
            columns.append(fits.Column(name, "K", array=np.array([int(v) for v in values])))
        elif name in ("EVENT_COUNT", "SIZE"):
            columns.append(fits.Column(name, "K", array=np.array(values, dtype=np.int64)))
        elif all(v is None or isinstance(v, (int, float)) for v in values) and name != "OBS_ID":
            array = np.array([np.nan if v is None else float(v) for v in values])
            columns.append(fits.Column(name, "D", array=array, unit=units.get(name) or None))
        else:
            text = ["" if v is None else str(v) for v in values]
            width = max([len(t) for t in text] + [1])
            columns.append(fits.Column(name, f"{width}A", array=np.array(text)))
    return columns


def _index_header(hdu, hduclas2: str):
    hdu.header["HDUCLASS"] = "GADF"
    hdu.header["HDUDOC"] = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
    hdu.header["HDUVERS"] = "0.2"
    hdu.header["HDUCLAS1"] = "INDEX"
    hdu.header["HDUCLAS2"] = hduclas2


def _write_obs_index(path: Path, rows, numeric_ids, reference):
    hdu = fits.BinTableHDU.from_columns(_table_columns(rows, _OBS_COLUMNS, numeric_ids),
                                        name="OBS_INDEX")
    _index_header(hdu, "OBS")
    time_ref, header = reference
    if "MJDREFI" in header:
        hdu.header["MJDREFI"] = int(float(header["MJDREFI"]))
        hdu.header["MJDREFF"] = float(header.get("MJDREFF", 0.0))
    else:
        mjd_int, mjd_frac = divmod(float(header["MJDREF"]), 1.0)
        hdu.header["MJDREFI"] = int(mjd_int)
        hdu.header["MJDREFF"] = mjd_frac
    hdu.header["TIMEUNIT"] = "s"
    hdu.header["TIMESYS"] = _text(header.get("TIMESYS")) or time_ref.timesys
    hdu.header["TIMEREF"] = _text(header.get("TIMEREF")) or "local"
    _write(path, hdu)


def _write_hdu_index(path: Path, rows, numeric_ids):
    hdu = fits.BinTableHDU.from_columns(_table_columns(rows, {}, numeric_ids), name="HDU_INDEX")
    _index_header(hdu, "HDU")
    _write(path, hdu)


def _write(path: Path, hdu):
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    data = buffer.getvalue()
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    files.write_bytes_atomically(path, data)


# --------------------------------------------------------------------------
# all in one
# --------------------------------------------------------------------------

def datastore_from_tap(tap_url: str, adql: str, dest_dir, session=None, *,
                       datalink_url: str | None = None, calibration: bool = True,
                       maxrec: int | None = None):
    """Run an ObsCore query, download its datasets and open them with Gammapy.

    Parameters
    ----------
    tap_url : str
        The TAP service (e.g. ``http://127.0.0.1:8080/tap``).
    adql : str
        A query on ``ivoa.obscore`` selecting ``obs_publisher_did`` (and
        preferably ``obs_id``), one row per event list.
    dest_dir : path-like
        Where the files and the index files go.
    session : requests.Session, optional
        For TAP, DataLink and downloads.
    datalink_url : str, optional
        DataLink ``dlmeta`` endpoint, if the TAP results carry no DataLink
        service descriptor.
    calibration : bool
        Download the ``#calibration`` IRF files (see
        :func:`download_datasets`).
    maxrec : int, optional
        TAP row limit.

    Returns
    -------
    gammapy.data.DataStore

    Raises
    ------
    ValueError
        If the query returns no rows or no ``obs_publisher_did`` column.
    DownloadError
        If an event list cannot be downloaded.
    """
    import pyvo

    service = pyvo.dal.TAPService(tap_url, session=_make_session(session))
    results = service.run_sync(adql, maxrec=maxrec)
    if len(results) == 0:
        raise ValueError("the query returned no rows")
    downloads = download_datasets(results, dest_dir, session=session,
                                  datalink_url=datalink_url, calibration=calibration)
    return build_datastore(downloads, dest_dir)


def main(argv=None) -> int:
    """``python -m hess_dr.client TAP_URL ADQL DEST_DIR``: download and index."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("tap_url")
    parser.add_argument("adql")
    parser.add_argument("dest_dir")
    parser.add_argument("--datalink-url")
    parser.add_argument("--no-calibration", action="store_true",
                        help="only download the event lists (their own IRFs are indexed)")
    args = parser.parse_args(argv)
    store = datastore_from_tap(args.tap_url, args.adql, args.dest_dir,
                               datalink_url=args.datalink_url,
                               calibration=not args.no_calibration)
    print(store.obs_table)
    print(f"gammapy.data.DataStore.from_dir({str(Path(args.dest_dir))!r})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
