"""The DataLink rows of one event list: semantics, content_qualifier, URLs.

Pure: given what hess_dr.obs_index holds about a dataset and the service's
URLs, return the links.  The RD's metaMaker turns each :class:`Link` into a
DaCHS LinkDef.

Derived products (single IRFs, the event bundle, previews, the GTI table,
the terms of use, the provenance of the publication) are served on demand
by the ``prod`` service of q.rd:
``<prod_url>?ID=<pubDID>&PRODUCT=<name>``, with PRODUCT one of
:data:`PRODUCTS`.
"""
from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Collection

#: DataLink 1.1 content_qualifier of each IRF type (GADF HDU type ->
#: ObsCore-HEA product type).
IRF_QUALIFIERS = {"aeff": "aeff", "edisp": "edisp", "psf": "psf", "bkg": "bkgrate",
                  "rad_max": "rad_max"}

IRF_DESCRIPTIONS = {
    "aeff": "Effective area of the run (GADF FITS, one IRF)",
    "edisp": "Energy dispersion of the run (GADF FITS, one IRF)",
    "psf": "Point spread function of the run (GADF FITS, one IRF)",
    "bkg": "Background rate model of the run (GADF FITS, one IRF)",
    "rad_max": "Directional cut radius (RAD_MAX) of the run (GADF FITS, one IRF)",
}

#: PRODUCT values of the ``prod`` service -> media type.
PRODUCTS = {
    **{irf: "application/x-fits-gadf" for irf in IRF_QUALIFIERS},
    "bundle": "application/x-fits-gadf",
    "preview-image": "image/png",
    "preview-plot": "image/png",
    "gti": "application/x-votable+xml",
    "terms": "text/plain;charset=utf-8",
    "provenance": "application/json",
}

#: PRODUCT values that are metadata (public for every run); the others
#: show the data (events, IRFs, previews) and follow the run's access
#: rights (:mod:`hess_dr.access`).
PUBLIC_PRODUCTS = frozenset({"gti", "terms", "provenance"})
#: DataLink semantics of the links that give data: for requesters who may
#: not read a proprietary run they are error rows (links to the public
#: products stay).
DATA_SEMANTICS = frozenset({"#this", "#calibration", "#package", "#preview-image",
                            "#preview-plot", "#cutout"})

GADF_MIME = "application/x-fits-gadf"
#: Media type of event files in the OGIP form of space missions (Fermi FT1).
OGIP_MIME = "application/x-fits-ogip"

#: File name extension of each media type hess_dr serves.
EXTENSIONS = {GADF_MIME: ".fits", OGIP_MIME: ".fits", "application/fits": ".fits",
              "image/png": ".png", "application/x-votable+xml": ".vot",
              "text/plain": ".txt", "application/json": ".json"}


def extension_for(media_type: str) -> str:
    """The file name extension of a media type (parameters ignored).

    >>> extension_for("text/plain;charset=utf-8")
    '.txt'
    """
    return EXTENSIONS.get(media_type.split(";")[0].strip(), ".dat")


@dataclasses.dataclass(frozen=True)
class Link:
    """One row of a DataLink response (DataLink 1.1 column names)."""

    semantics: str
    access_url: str
    content_type: str
    description: str
    content_qualifier: str | None = None
    content_length: int | None = None


def product_url(prod_url: str, pub_did: str, product: str) -> str:
    """URL of a derived product served by the ``prod`` service."""
    query = urllib.parse.urlencode({"ID": pub_did, "PRODUCT": product})
    return f"{prod_url}?{query}"


def dataset_links(pub_did: str, *, file_url: str, file_size: int | None,
                  irf_types: str | None, prod_url: str,
                  rights_url: str | None, file_type: str = GADF_MIME,
                  irfs_in_file: Collection[str] = ()) -> list[Link]:
    """The links of one event list, in a stable order.

    An IRF that is an HDU of the event list file itself is linked to that
    file (clients such as Gammapy's TAP reader then download each run once
    and index every HDU once); an IRF kept in a separate file is linked to
    its single-IRF product.  Single-IRF files of every IRF stay available
    from the ``prod`` service (``PRODUCT=aeff`` ...).

    Parameters
    ----------
    pub_did : str
        The dataset's publisher DID (obs_publisher_did).
    file_url : str
        Where the event list file is served (DaCHS getproduct URL).
    file_size : int, optional
        Its size in bytes.
    irf_types : str, optional
        Space-separated GADF HDU types of the IRFs available for the run
        (``hess_dr.obs_index.irf_types``), e.g. ``"aeff edisp psf bkg"``.
    prod_url : str
        The ``prod`` service's dlget URL.
    rights_url : str, optional
        Where the terms of use are documented (collection configuration).
    file_type : str
        Media type of the event list file (:data:`GADF_MIME`, or
        :data:`OGIP_MIME` for OGIP event files such as Fermi-LAT FT1).
    irfs_in_file : collection of str
        The GADF HDU types of the IRFs that are HDUs of the event list file.
    """
    description = ("The event list (OGIP FITS: EVENTS and GTI)" if file_type == OGIP_MIME
                   else "The event list (GADF DL3 FITS: EVENTS, GTI and the run's IRFs)")
    links = [Link("#this", file_url, file_type, description,
                  content_qualifier="event-list", content_length=file_size)]
    available = (irf_types or "").split()
    for irf in IRF_QUALIFIERS:
        if irf in irfs_in_file:
            links.append(Link("#calibration", file_url, file_type,
                              IRF_DESCRIPTIONS[irf].split(" (")[0] + " of the run: an HDU of"
                              " the event list file", content_qualifier=IRF_QUALIFIERS[irf],
                              content_length=file_size))
        elif irf in available:
            links.append(Link("#calibration", product_url(prod_url, pub_did, irf), GADF_MIME,
                              IRF_DESCRIPTIONS[irf], content_qualifier=IRF_QUALIFIERS[irf]))
    links.append(Link("#package", product_url(prod_url, pub_did, "bundle"), GADF_MIME,
                      "Events, GTIs and every IRF of the run in one GADF FITS file",
                      content_qualifier="event-bundle"))
    links.append(Link("#preview-image", product_url(prod_url, pub_did, "preview-image"),
                      "image/png", "Counts map of the run (sky coordinates, pointing marked)"))
    links.append(Link("#preview-plot", product_url(prod_url, pub_did, "preview-plot"),
                      "image/png", "The run at a glance: energy and offset distributions,"
                      " event rate over time with the GTIs shaded"))
    links.append(Link("#auxiliary", product_url(prod_url, pub_did, "gti"),
                      "application/x-votable+xml", "Good time intervals of the run (VOTable)",
                      content_qualifier="gti"))
    links.append(Link("#documentation", product_url(prod_url, pub_did, "terms"),
                      "text/plain;charset=utf-8",
                      "Terms of use of the data (must travel with every copy)",
                      content_qualifier="terms-of-use"))
    if rights_url:
        links.append(Link("#documentation", rights_url, "text/html",
                          "Web page of the data release and its terms of use"))
    links.append(Link("#provenance", product_url(prod_url, pub_did, "provenance"),
                      PRODUCTS["provenance"],
                      "Provenance of the dataset's publication (W3C PROV-JSON): source file"
                      " and its SHA-256, import activity, configuration, software versions"))
    return links
