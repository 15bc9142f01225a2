"""hess_dr.preview: PNG previews of event lists and their file cache."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from matplotlib import image as mpimg

from hess_dr_dev import synthetic as synth
from unit_support import CHECKOUT, SAMPLE_DIR, make_collection
from hess_dr import dl3, preview

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BUILDERS = [preview.counts_map_png, preview.run_summary_png]


def decode(png: bytes) -> np.ndarray:
    """RGB(A) pixels of a PNG, floats in [0, 1]."""
    return mpimg.imread(io.BytesIO(png), format="png")


def assert_sane_png(png: bytes) -> np.ndarray:
    assert isinstance(png, bytes)
    assert png.startswith(PNG_SIGNATURE)
    pixels = decode(png)
    height, width = pixels.shape[:2]
    assert 300 <= height <= 2000 and 300 <= width <= 2000, pixels.shape
    rgb = pixels[..., :3]
    # not blank: many distinct colours, not one flat fill
    assert rgb.std() > 0.05
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20
    return pixels


@pytest.fixture(scope="module")
def crab_run():
    path = SAMPLE_DIR / "hess_dl3_dr1_obs_id_023523.fits.gz"
    return dl3.read_run(path, make_collection(SAMPLE_DIR))


@pytest.fixture(scope="module")
def msh_run():
    path = SAMPLE_DIR / "hess_dl3_dr1_obs_id_020136.fits.gz"
    return dl3.read_run(path, make_collection(SAMPLE_DIR))


def synthetic_run(tmp_path: Path, name: str = "run.fits.gz", **kwargs) -> dl3.Run:
    path = synth.write_event_list(tmp_path / name, **kwargs)
    return dl3.read_run(path, make_collection(tmp_path))


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------

@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_real_run_gives_readable_png(builder, crab_run):
    pixels = assert_sane_png(builder(crab_run))
    if builder is preview.run_summary_png:
        assert pixels.shape[1] > pixels.shape[0]  # three panels side by side


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_different_runs_give_different_images(builder, crab_run, msh_run):
    a, b = builder(crab_run), builder(msh_run)
    assert a != b
    pa, pb = decode(a), decode(b)
    assert pa.shape == pb.shape  # same layout...
    assert np.abs(pa - pb).mean() > 1e-3  # ...different content


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_same_run_gives_identical_bytes(builder, crab_run):
    assert builder(crab_run) == builder(crab_run)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_empty_event_list(builder, tmp_path):
    run = synthetic_run(tmp_path, n_events=0)
    assert run.event_count == 0
    assert_sane_png(builder(run))


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_run_without_pointing(builder, tmp_path):
    # survey data: no RA_PNT/DEC_PNT anywhere; events around (250, -45)
    rng = np.random.default_rng(3)
    ra, dec = 250 + rng.normal(0, 1, 300), -45 + rng.normal(0, 1, 300)
    run = synthetic_run(tmp_path, ra=ra, dec=dec, energies=np.full(300, 2.0) * u.TeV,
                        header_overrides={"RA_PNT": None, "DEC_PNT": None,
                                          "RA_OBJ": None, "DEC_OBJ": None})
    assert run.ra_pnt is None and run.dec_pnt is None
    assert_sane_png(builder(run))


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_no_pointing_and_no_events(builder, tmp_path):
    run = synthetic_run(tmp_path, n_events=0,
                        header_overrides={"RA_PNT": None, "DEC_PNT": None})
    assert_sane_png(builder(run))


def test_map_centred_on_events_without_pointing(tmp_path):
    """Without a pointing the events still land on the map (its centre)."""
    rng = np.random.default_rng(5)
    ra, dec = 120 + rng.normal(0, 0.05, 2000), 30 + rng.normal(0, 0.05, 2000)
    run = synthetic_run(tmp_path, ra=ra, dec=dec,
                        header_overrides={"RA_PNT": None, "DEC_PNT": None,
                                          "RA_OBJ": None, "DEC_OBJ": None})
    pixels = decode(preview.counts_map_png(run))[..., :3]
    height, width = pixels.shape[:2]
    # the top of the colour map (pale yellow) marks the hot spot; the colour
    # bar, which has it too, is in the right fifth of the image
    r, g, b = (pixels[:, : int(width * 0.8), i] for i in range(3))
    ys, xs = np.nonzero((r > 0.9) & (g > 0.8) & (b < 0.75))
    assert len(ys) > 0
    assert 0.35 * height < np.median(ys) < 0.65 * height
    assert 0.3 * width < np.median(xs) < 0.6 * width


def test_summary_with_many_gtis_and_odd_units(tmp_path):
    """Thousands of GTIs and energies in MeV (OGIP-like) still render."""
    tstart, tstop = 1000.0, 21000.0
    starts = np.arange(tstart, tstop, 10.0)
    gti = list(zip(starts, starts + 6.0))
    times = np.sort(np.random.default_rng(1).choice(starts, 500) + 3.0)
    run = synthetic_run(tmp_path, tstart=tstart, tstop=tstop, gti=gti, times=times,
                        energies=np.geomspace(0.1, 50, 500) * u.TeV, energy_unit="MeV")
    assert len(run.gti) == len(gti)
    assert_sane_png(preview.run_summary_png(run))


def test_import_keeps_the_process_backend():
    """Importing and using hess_dr.preview does not switch the backend a
    process has chosen (e.g. a GUI or svg backend in a notebook)."""
    code = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "from hess_dr import preview, dl3\n"
        "from unit_support import SAMPLE_DIR, make_collection\n"
        "run = dl3.read_run(SAMPLE_DIR / 'hess_dl3_dr1_obs_id_023523.fits.gz',"
        " make_collection(SAMPLE_DIR))\n"
        "assert preview.counts_map_png(run).startswith(b'\\x89PNG')\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(CHECKOUT), str(CHECKOUT / "tests" / "unit"), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=CHECKOUT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_concurrent_rendering_is_consistent(crab_run):
    expected = preview.run_summary_png(crab_run)
    results, errors = [], []

    def work():
        try:
            results.append(preview.run_summary_png(crab_run))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [expected] * 4


# --------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------

class CountingBuilder:
    def __init__(self, png: bytes = PNG_SIGNATURE + b"fake image"):
        self.png = png
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return self.png


def test_file_key_is_the_content_sha256(tmp_path):
    import hashlib
    path = tmp_path / "f.fits"
    path.write_bytes(b"abc" * 1000)
    assert preview.file_key(path) == hashlib.sha256(b"abc" * 1000).hexdigest()
    path.write_bytes(b"abd" * 1000)
    assert preview.file_key(path) == hashlib.sha256(b"abd" * 1000).hexdigest()


def test_cache_miss_then_hit(tmp_path):
    key = "ab" + "0" * 62
    builder = CountingBuilder()
    png, from_cache = preview.cached_png(tmp_path, key, "preview-image", builder)
    assert (png, from_cache, builder.calls) == (builder.png, False, 1)
    stored = tmp_path / "ab" / f"{key}-preview-image.png"
    assert stored.read_bytes() == builder.png
    again, from_cache = preview.cached_png(tmp_path, key, "preview-image", builder)
    assert (again, from_cache, builder.calls) == (builder.png, True, 1)
    # another kind, another key: built separately
    preview.cached_png(tmp_path, key, "preview-plot", builder)
    preview.cached_png(tmp_path, "cd" + "1" * 62, "preview-image", builder)
    assert builder.calls == 3
    # nothing but the three PNGs (no temporary files left behind)
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == sorted([f"{key}-preview-image.png", f"{key}-preview-plot.png",
                            f"{'cd' + '1' * 62}-preview-image.png"])


def test_cache_with_real_previews(tmp_path, crab_run):
    cache = tmp_path / "cache"
    first, hit1 = preview.cached_preview(crab_run, "preview-plot", cache)
    second, hit2 = preview.cached_preview(crab_run, "preview-plot", cache)
    assert (hit1, hit2) == (False, True)
    assert first == second
    assert_sane_png(first)
    key = preview.file_key(crab_run.path)
    assert (cache / key[:2] / f"{key}-preview-plot.png").read_bytes() == first


def test_changed_file_gets_a_new_preview(tmp_path):
    cache = tmp_path / "cache"
    run1 = synthetic_run(tmp_path / "a", seed=1)
    png1, _ = preview.cached_preview(run1, "preview-image", cache)
    # same path, new content
    run2 = synthetic_run(tmp_path / "a", seed=2)
    png2, from_cache = preview.cached_preview(run2, "preview-image", cache)
    assert not from_cache
    assert png1 != png2


def test_corrupt_cache_entry_is_rebuilt(tmp_path):
    key = "ef" + "2" * 62
    path = tmp_path / "ef" / f"{key}-preview-image.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(PNG_SIGNATURE[:4])  # an interrupted copy by hand
    builder = CountingBuilder()
    png, from_cache = preview.cached_png(tmp_path, key, "preview-image", builder)
    assert (png, from_cache, builder.calls) == (builder.png, False, 1)
    assert path.read_bytes() == builder.png


@pytest.mark.parametrize("key,kind", [("../../etc", "x"), ("ab" * 32, "../x"),
                                      ("", "preview-image"), ("ab" * 32, "a/b")])
def test_cache_refuses_path_tricks(tmp_path, key, kind):
    with pytest.raises(ValueError):
        preview.cached_png(tmp_path, key, kind, CountingBuilder())


def test_cache_refuses_non_png_builder_output(tmp_path):
    with pytest.raises(ValueError):
        preview.cached_png(tmp_path, "ab" * 32, "preview-image", lambda: b"<html>")
    assert not list(tmp_path.rglob("*.png"))


def test_concurrent_cache_requests(tmp_path):
    key = "12" + "3" * 62
    payload = PNG_SIGNATURE + os.urandom(200_000)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def builder():
        return payload

    def work():
        try:
            barrier.wait()
            results.append(preview.cached_png(tmp_path, key, "preview-plot", builder)[0])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [payload] * 8
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{key}-preview-plot.png"]
    assert files[0].read_bytes() == payload


def test_unknown_preview_kind(tmp_path, crab_run):
    with pytest.raises(ValueError):
        preview.cached_preview(crab_run, "thumbnail", tmp_path)
