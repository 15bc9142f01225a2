"""bzip2-compressed event lists (``*.fits.bz2``), which astropy and so
Gammapy 1.3 read, are published exactly as gzipped ones: listed by the
import, read once, the same row values, a clear error for a broken stream,
the same cutouts, IRF products and bundles."""
from __future__ import annotations

import bz2
import glob
import gzip
import io
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits

from hess_dr_dev import synthetic as synth
from unit_support import make_collection

from hess_dr import dl3, ingest, products, sources
from hess_dr.config import Config
from hess_dr.cutout import cutout
from hess_dr.soda import parse_cutout

#: Row values that name or stamp the file itself (path, mtime, size, hash).
FILE_SPECIFIC = {"accref", "access_path", "source_path", "source_mtime", "layout"}


@pytest.fixture
def three_files(tmp_path):
    """The same event list (with IRFs) plain, gzipped and bzip2-compressed."""
    plain = synth.write_quirk(tmp_path, "uncompressed")  # uncompressed.fits
    raw = plain.read_bytes()
    gz = tmp_path / "uncompressed.fits.gz"
    gz.write_bytes(gzip.compress(raw, mtime=0))
    bz = tmp_path / "uncompressed.fits.bz2"
    bz.write_bytes(bz2.compress(raw))
    assert bz.read_bytes()[:3] == b"BZh"
    return {"fits": plain, "gz": gz, "bz2": bz}


def publish(tmp_path, path):
    collection = make_collection(tmp_path, defaults={})
    configuration = Config(source=tmp_path / "hess_dr.yaml", collections=(collection,))
    return ingest.ingest(str(path), configuration, str(tmp_path / "inputs"), "hess_dr")


def test_gammapy_reads_the_bz2_file(three_files):
    from gammapy.data import EventList, Observation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = EventList.read(three_files["fits"])
        events = EventList.read(three_files["bz2"])
        observation = Observation.read(three_files["bz2"])
    assert len(events.table) == len(plain.table) == 3
    np.testing.assert_array_equal(events.table["ENERGY"], plain.table["ENERGY"])
    assert observation.obs_id == synth.QUIRK_OBS_ID
    assert observation.aeff is not None


def test_bz2_rows_equal_gzip_and_plain_rows(tmp_path, three_files):
    outcomes = {kind: publish(tmp_path, path) for kind, path in three_files.items()}
    for kind, outcome in outcomes.items():
        assert outcome.level == "ok", (kind, outcome.message)
    bz = outcomes["bz2"].obs
    # real values, as the file says
    assert bz["obs_id"] == str(synth.QUIRK_OBS_ID)
    assert bz["event_count"] == 3
    assert bz["energy_min"] == pytest.approx(min(synth.QUIRK_ENERGIES_TEV) * 1e12, rel=1e-6)
    assert bz["energy_max"] == pytest.approx(max(synth.QUIRK_ENERGIES_TEV) * 1e12, rel=1e-6)
    assert bz["irf_types"] == "aeff edisp psf bkg"
    assert bz["t_min"] is not None and bz["s_resolution"] is not None
    assert bz["accref"].endswith("uncompressed.fits.bz2")
    for kind in ("gz", "fits"):
        other = outcomes[kind].obs
        assert set(other) == set(bz)
        assert {k: other[k] for k in other if k not in FILE_SPECIFIC} \
            == {k: bz[k] for k in bz if k not in FILE_SPECIFIC}, kind
        assert [{k: v for k, v in g.items() if k not in FILE_SPECIFIC}
                for g in outcomes[kind].gtis] \
            == [{k: v for k, v in g.items() if k not in FILE_SPECIFIC}
                for g in outcomes["bz2"].gtis]
    run_bz, run_gz = (dl3.read_run(three_files[k], make_collection(tmp_path, defaults={}))
                      for k in ("bz2", "gz"))
    assert (run_bz.tstart, run_bz.tstop, run_bz.event_count) \
        == (run_gz.tstart, run_gz.tstop, run_gz.event_count)


@pytest.mark.parametrize("damage, fragment", [
    (lambda data: data[:len(data) // 2], "Compressed data ended"),
    (lambda data: data[:4] + b"not a bzip2 stream" * 100, "Invalid data stream"),
])
def test_broken_bz2_stream_is_a_clear_error(tmp_path, three_files, damage, fragment):
    broken = tmp_path / "broken_run.fits.bz2"
    broken.write_bytes(damage(three_files["bz2"].read_bytes()))
    with pytest.raises(dl3.DL3Error) as error:
        dl3.read_run(broken, make_collection(tmp_path, defaults={}))
    assert error.value.path == str(broken)
    assert str(broken) in str(error.value)
    assert "truncated or corrupt bzip2 stream" in error.value.reason
    assert fragment in error.value.reason
    outcome = publish(tmp_path, broken)
    assert outcome.level == "warning"
    assert str(broken) in outcome.message and "bzip2 stream" in outcome.message


def test_source_patterns_list_bz2_files(tmp_path, three_files):
    patterns = sources.source_patterns(str(tmp_path))
    assert os.path.join(glob.escape(str(tmp_path)), "*.fits.bz2") in patterns
    found = {name for pattern in patterns for name in glob.glob(pattern)}
    assert {str(p) for p in three_files.values()} <= found


def test_file_stem_strips_bz2():
    assert dl3.file_stem("run_42.fits.bz2") == "run_42"
    assert dl3.file_stem("run_42.FITS.BZ2") == "run_42"


def _comparable(hdulist):
    """HDU names, headers without the cards naming the source file or the
    moment the product was written (DATE: two products written a second
    apart differ there), data."""
    result = []
    for hdu in hdulist:
        header = hdu.header.copy()
        for key in ("ORIGFILE", "HISTORY", "CHECKSUM", "DATASUM", "DATE"):
            header.remove(key, ignore_missing=True, remove_all=True)
        data = None if hdu.data is None else {name: np.asarray(hdu.data[name]).tolist()
                                              for name in hdu.data.columns.names}
        result.append((hdu.name, list(header.items()), data))
    return result


def test_cutout_of_bz2_equals_cutout_of_gz(tmp_path, three_files):
    collection = make_collection(tmp_path, defaults={})
    spec = parse_cutout({"ENERGY": "0.6 10", "POS": "CIRCLE 83.7 22.0 1.0"})
    outs = {kind: cutout(dl3.read_run(three_files[kind], collection, resolve_psf=False), spec)
            for kind in ("gz", "bz2")}
    assert 0 < len(outs["bz2"]["EVENTS"].data) < 3
    assert outs["bz2"]["EVENTS"].header["ORIGFILE"] == "uncompressed.fits.bz2"
    assert _comparable(outs["bz2"]) == _comparable(outs["gz"])


def test_irf_products_and_bundle_of_bz2_equal_those_of_gz(tmp_path, three_files):
    collection = make_collection(tmp_path, defaults={})
    runs = {kind: dl3.read_run(three_files[kind], collection, resolve_psf=False)
            for kind in ("gz", "bz2")}
    def same(make):
        with fits.open(io.BytesIO(make(runs["bz2"]))) as bz, \
                fits.open(io.BytesIO(make(runs["gz"]))) as gz:
            assert len(bz) > 1
            assert _comparable(bz) == _comparable(gz)

    for hdu_type in ("aeff", "edisp", "psf", "bkg"):
        same(lambda run: products.single_irf_bytes(run, hdu_type))
    same(products.bundle_bytes)


def test_previews_of_bz2_equal_those_of_gz(tmp_path, three_files):
    from hess_dr import preview
    collection = make_collection(tmp_path, defaults={})
    runs = {kind: dl3.read_run(three_files[kind], collection, resolve_psf=False)
            for kind in ("gz", "bz2")}
    png = preview.run_summary_png(runs["bz2"])
    assert png.startswith(b"\x89PNG")
    assert png == preview.run_summary_png(runs["gz"])
    assert preview.counts_map_png(runs["bz2"]) == preview.counts_map_png(runs["gz"])


class _Response:
    def __init__(self, body):
        self.body, self.headers = body, {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def raise_for_status(self):
        pass

    def iter_content(self, size):
        for start in range(0, len(self.body), size):
            yield self.body[start:start + size]


class _Session:
    def __init__(self, body):
        self.body = body

    def get(self, url, **kwargs):
        return _Response(self.body)


@pytest.mark.parametrize("kind, suffix", [("bz2", ".fits.bz2"), ("gz", ".fits.gz"),
                                          ("fits", ".fits")])
def test_client_saves_a_download_with_its_compression_suffix(tmp_path, three_files,
                                                             kind, suffix):
    from hess_dr import client
    body = three_files[kind].read_bytes()
    path = client._download(_Session(body), "http://example.org/x", tmp_path / "dl",
                            "obs_4242_events", len(body))
    assert path.name == "obs_4242_events" + suffix
    assert path.read_bytes() == body
