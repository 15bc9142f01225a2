"""hess_dr.links: where each #calibration link of a dataset points."""
from hess_dr import links

DID = "ivo://x/~?hess_dr/run_1.fits.gz"
FILE = "http://server/getproduct/hess_dr/run_1.fits.gz"
PROD = "http://server/hess_dr/q/prod/dlget"


def _calibration(**kwargs):
    found = links.dataset_links(DID, file_url=FILE, file_size=1234, prod_url=PROD,
                                rights_url=None, **kwargs)
    return [(l.content_qualifier, l.access_url, l.content_type, l.content_length)
            for l in found if l.semantics == "#calibration"]


def test_irfs_in_the_event_file_link_to_it():
    assert _calibration(irf_types="aeff edisp psf bkg",
                        irfs_in_file={"aeff", "edisp", "psf", "bkg"}) == [
        (qualifier, FILE, links.GADF_MIME, 1234)
        for qualifier in ("aeff", "edisp", "psf", "bkgrate")]


def test_irfs_in_separate_files_link_to_their_single_irf_products():
    assert _calibration(irf_types="aeff edisp psf", irfs_in_file={"psf"}) == [
        ("aeff", links.product_url(PROD, DID, "aeff"), links.GADF_MIME, None),
        ("edisp", links.product_url(PROD, DID, "edisp"), links.GADF_MIME, None),
        ("psf", FILE, links.GADF_MIME, 1234)]


def test_extensions_of_served_media_types():
    assert [links.extension_for(m) for m in (
        "application/x-fits-gadf", "image/png", "application/x-votable+xml",
        "text/plain;charset=utf-8", "application/x-unknown")] == [
        ".fits", ".png", ".vot", ".txt", ".dat"]
