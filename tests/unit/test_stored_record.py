"""What the import stores for serving (hess_dr.layout, hess_dr.stored,
hess_dr.events) and the FITS pieces cutouts are made of (hess_dr.fitsbytes)."""
from __future__ import annotations

import io
import json
import os
import warnings

import numpy as np
import pytest
from astropy.io import fits

from hess_dr import cutout, dl3, fitsbytes, ingest, layout, rows, serve, stored
from hess_dr.config import Config
from hess_dr.events import EventCache, events_dir
from hess_dr.soda import parse_cutout
from hess_dr_dev import synthetic as synth
from unit_support import SAMPLE_DIR, make_collection


def _imported(path, collection, tmp_path):
    """(obs row fields, GTI lists) as the import stores them."""
    cfg = Config(source=tmp_path / "hess_dr.yaml", collections=(collection,))
    outcome = ingest.ingest(str(path), cfg, str(tmp_path), "hess_dr", str(tmp_path / "cache"))
    assert outcome.level == "ok", outcome.message
    return (stored.row_fields(outcome.obs), [g["met_start"] for g in outcome.gtis],
            [g["met_stop"] for g in outcome.gtis])


def test_layout_of_a_separate_irf_file_holds_no_absolute_path(tmp_path):
    events = synth.write_event_list(tmp_path / "events" / "run_1.fits.gz", obs_id=1)
    synth.write_irf_file(tmp_path / "irf" / "irf.fits.gz")
    synth.write_hdu_index(tmp_path, (
        synth.hdu_index_rows(1, "run_1.fits.gz", file_dir="events", types=("events", "gti"))
        + synth.hdu_index_rows(1, "irf.fits.gz", file_dir="irf",
                               types=("aeff", "edisp", "psf", "bkg"))))
    run = dl3.read_run(events, make_collection(tmp_path))
    assert {ref.hdu_type for ref in run.irfs} == {"aeff", "edisp", "psf", "bkg"}
    text = run.layout.to_json(events)
    assert str(tmp_path) not in text
    doc = json.loads(text)
    assert {entry[3] for entry in doc["irfs"]} == {"../irf/irf.fits.gz"}
    again = layout.Layout.from_json(text, events)
    assert again == run.layout
    assert all(os.path.isabs(ref.path) for ref in again.irfs)


def test_record_is_used_while_the_files_are_unchanged(tmp_path):
    collection = make_collection(tmp_path)
    path = synth.write_event_list(tmp_path / "run.fits", obs_id=5, irfs=True)
    row, start, stop = _imported(path, collection, tmp_path)
    record = stored.record_for(row, path, start, stop, collection)
    assert isinstance(record, stored.StoredRun)
    assert record.obs_id == "5" and record.layout.stamp.sha256
    np.testing.assert_array_equal(record.gti.start_met, start)
    # the file is rewritten (other events): the record is stale, the file
    # is read again
    synth.write_event_list(path, obs_id=5, irfs=True, n_events=7, seed=3)
    os.utime(path, ns=(1, 1))
    assert not record.layout.current(path)
    fresh = stored.record_for(row, path, start, stop, collection)
    assert isinstance(fresh, dl3.Run) and fresh.event_count == 7


def test_record_without_a_layout_falls_back_to_reading(tmp_path):
    collection = make_collection(tmp_path)
    path = synth.write_event_list(tmp_path / "run.fits", obs_id=6)
    row, start, stop = _imported(path, collection, tmp_path)
    row["layout"] = None  # an import by an older hess_dr
    with pytest.raises(stored.StaleRecord):
        stored.stored_run(row, path, start, stop)
    assert isinstance(stored.record_for(row, path, start, stop, collection), dl3.Run)


def test_short_gti_lists_travel_in_the_layout(tmp_path):
    collection = make_collection(tmp_path)
    few = synth.write_event_list(tmp_path / "few.fits", obs_id=7,
                                 gti=[(123890826.0 + 10 * i, 123890830.0 + 10 * i)
                                      for i in range(3)])
    many = synth.write_event_list(tmp_path / "many.fits", obs_id=8,
                                  gti=[(123890826.0 + 2 * i, 123890827.0 + 2 * i)
                                       for i in range(layout.MAX_STORED_GTIS + 1)])
    assert dl3.read_run(few, collection).layout.gti == (
        tuple(123890826.0 + 10 * i for i in range(3)),
        tuple(123890830.0 + 10 * i for i in range(3)))
    assert dl3.read_run(many, collection).layout.gti is None


def test_the_import_fills_the_event_cache(tmp_path):
    collection = make_collection(SAMPLE_DIR)
    path = SAMPLE_DIR / "hess_dl3_dr1_obs_id_023526.fits.gz"
    cache = EventCache(events_dir(tmp_path / "cache"))
    run = dl3.read_run(path, collection, cache=cache)
    table = cache.load(run.layout)
    assert table is not None and len(table) == run.event_count
    with fits.open(path) as hdus:
        np.testing.assert_array_equal(table.values("ENERGY"), hdus["EVENTS"].data["ENERGY"])
        assert table.records.tobytes() == hdus["EVENTS"].data.view(np.ndarray).tobytes()
    for ref in run.irfs:
        piece = cache.irf_piece(run.layout, ref)
        header, data = fitsbytes.split_hdu(piece)
        assert header["EXTNAME"] == ref.hdu
    # cutouts from the cache equal cutouts from the file
    spec = parse_cutout({"ENERGY": "1 10", "CIRCLE": "83.63 22.01 1"})
    from_cache = fits.open(io.BytesIO(cutout.cutout_bytes(run, spec, cache)))
    from_file = fits.open(io.BytesIO(cutout.cutout_bytes(run, spec)))
    with from_cache, from_file:
        for a, b in zip(from_cache, from_file):
            assert a.data is None or a.data.tobytes() == b.data.tobytes()


def test_serve_jobs_are_picklable_and_produce_the_files(tmp_path):
    import pickle
    collection = make_collection(SAMPLE_DIR)
    path = SAMPLE_DIR / "hess_dl3_dr1_obs_id_023523.fits.gz"
    cfg = Config(source=tmp_path / "hess_dr.yaml", collections=(collection,))
    outcome = ingest.ingest(str(path), cfg, str(tmp_path), "hess_dr", str(tmp_path / "c"))
    job = serve.Job(row=stored.row_fields(outcome.obs), path=str(path),
                    gti_start=np.array([g["met_start"] for g in outcome.gtis]),
                    gti_stop=np.array([g["met_stop"] for g in outcome.gtis]),
                    collection=collection, cache_dir=str(tmp_path / "c"))
    job = pickle.loads(pickle.dumps(job))
    with fits.open(io.BytesIO(serve.irf_job(job, "psf"))) as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "PSF"]
    with fits.open(io.BytesIO(serve.bundle_job(job))) as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "EVENTS", "GTI", "AEFF", "EDISP", "PSF",
                                          "BKG"]
        assert len(hdus["EVENTS"].data) == outcome.obs["event_count"]
    png = serve.preview_job(job, "preview-image")
    assert png.startswith(b"\x89PNG")
    key = outcome.obs["layout"]
    assert json.loads(key)["file"][2] in {p.name.split("-")[0]
                                          for p in (tmp_path / "c" / "previews").rglob("*.png")}


# --------------------------------------------------------------------------
# FITS pieces
# --------------------------------------------------------------------------

def _verified(data: bytes) -> fits.HDUList:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy warns on a wrong checksum
        hdus = fits.open(io.BytesIO(data), checksum=True)
        for hdu in hdus:
            hdu.data  # noqa: B018
    return hdus


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_hdu_bytes_write_checksums_astropy_verifies(n):
    rng = np.random.default_rng(n)
    rows_ = np.empty(n, dtype=[("A", ">f8"), ("B", ">i4")])
    rows_["A"], rows_["B"] = rng.random(n), rng.integers(0, 2**31 - 1, n)
    header = fits.BinTableHDU.from_columns(
        [fits.Column("A", "D"), fits.Column("B", "J")], nrows=n).header
    header["CHECKSUM"], header["DATASUM"] = "stale", "1"
    data = (fitsbytes.hdu_bytes(fits.PrimaryHDU().header)
            + fitsbytes.hdu_bytes(header, rows_.tobytes())
            + fitsbytes.hdu_bytes(fitsbytes.Cards(header.tostring()), rows_.tobytes()))
    with _verified(data) as hdus:
        assert len(hdus) == 3
        for hdu in hdus[1:]:
            np.testing.assert_array_equal(hdu.data["A"], rows_["A"])
            assert hdu.header.count("CHECKSUM") == 1


def test_datasum_equals_astropys():
    rows_ = np.arange(5000, dtype=">f8")
    hdu = fits.BinTableHDU.from_columns([fits.Column("X", "D", array=rows_)])
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer, checksum=True)
    with fits.open(io.BytesIO(buffer.getvalue())) as theirs:
        expected = theirs[1].header["DATASUM"]
    with _verified(fitsbytes.hdu_bytes(fits.PrimaryHDU().header)
                   + fitsbytes.hdu_bytes(hdu.header, rows_.tobytes())) as ours:
        assert ours[1].header["DATASUM"] == expected


def test_cards_edit_like_astropy_headers():
    base = fits.Header()
    base["OBJECT"] = ("Crab", "target")
    base["TSTART"] = (1.5, "start")
    base.add_history("first")
    theirs, ours = base.copy(), fitsbytes.Cards(base.tostring())
    for header in (theirs, ours):
        header["TSTART"] = 2.25                        # value only: comment kept
        header["NEWKEY"] = (True, "added")
        header.set("AFTER", 3, "placed", after="OBJECT")
        header.remove("OBJECT")
        header.remove("MISSING", ignore_missing=True)
        header.add_history("second " + "x" * 100)     # longer than a card
        header["LONGSTR"] = "y" * 100                  # CONTINUE cards
        header["LONGSTR"] = "z" * 90                   # ... replaced with theirs
    assert ours.tostring() == theirs.tostring()
    assert "TSTART" in ours and "OBJECT" not in ours
    assert ours["TSTART"] == 2.25 and ours.get("NOPE", 7) == 7
    assert fits.Header.fromstring(ours.tostring())["LONGSTR"] == "z" * 90
