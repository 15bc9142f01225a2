"""hess_dr.ingest: one source file -> its rows or the reason it is skipped."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from unit_support import SAMPLE_DIR, make_collection

from hess_dr import ingest
from hess_dr_dev import synthetic
from hess_dr.config import Config

CRAB = "hess_dl3_dr1_obs_id_023523.fits.gz"


@pytest.fixture
def configuration(tmp_path) -> Config:
    return Config(source=tmp_path / "hess_dr.yaml", collections=(make_collection(tmp_path),))


def test_a_good_file_gives_its_rows(tmp_path, configuration):
    path = tmp_path / "night" / CRAB
    path.parent.mkdir()
    shutil.copy(SAMPLE_DIR / CRAB, path)
    outcome = ingest.ingest(str(path), configuration, str(tmp_path / "inputs"), "hess_dr")
    assert outcome.level == "ok" and outcome.message is None
    assert outcome.obs["obs_id"] == "23523"
    assert outcome.obs["accref"] == f"hess_dr/synthetic/night/{CRAB}"
    assert outcome.obs["source_path"] == str(path)  # outside the inputs directory
    assert outcome.obs["event_count"] == 7613
    assert [g["met_start"] for g in outcome.gtis] == [123890826.0]
    assert outcome.gtis[0]["accref"] == outcome.obs["accref"]
    # it travels to and from worker processes
    again = pickle.loads(pickle.dumps(outcome))
    assert again.obs == outcome.obs and again.gtis == outcome.gtis


@pytest.mark.parametrize("make, level, fragment", [
    (lambda d: (d / "empty.fits").write_bytes(b"") or d / "empty.fits",
     "warning", "empty file (0 bytes)"),
    (lambda d: synthetic.write_event_list(d / "no_time.fits", column_overrides={"TIME": None}),
     "warning", "EVENTS table has no TIME column"),
    (lambda d: synthetic.write_irf_file(d / "irf.fits.gz"), "info", "not an event list"),
    (lambda d: synthetic.write_event_list(d / "n\u00e9.fits"), "warning", "non-ASCII file name"),
])
def test_skipped_files_say_why(tmp_path, configuration, make, level, fragment):
    path = Path(make(tmp_path))
    outcome = ingest.ingest(str(path), configuration, str(tmp_path), "hess_dr")
    assert outcome.level == level
    assert str(path) in outcome.message and fragment in outcome.message
    assert outcome.obs is None


def test_a_file_outside_every_data_dir(tmp_path, configuration):
    elsewhere = tmp_path.parent / "elsewhere.fits"
    outcome = ingest.ingest(str(elsewhere), configuration, str(tmp_path), "hess_dr")
    assert outcome.level == "warning"
    assert "not below any configured data_dir" in outcome.message


def test_ingest_many_keeps_the_order_and_each_outcome(tmp_path, configuration):
    good = tmp_path / "night" / CRAB
    good.parent.mkdir()
    shutil.copy(SAMPLE_DIR / CRAB, good)
    empty = tmp_path / "empty.fits"
    empty.write_bytes(b"")
    paths = [str(empty), str(good), str(empty)]
    outcomes = ingest.ingest_many(paths, configuration, str(tmp_path), "hess_dr")
    assert [o.path for o in outcomes] == paths
    assert [o.level for o in outcomes] == ["warning", "ok", "warning"]
    single = ingest.ingest(str(good), configuration, str(tmp_path), "hess_dr")
    assert outcomes[1].obs == single.obs and outcomes[1].gtis == single.gtis


def test_ingest_many_skips_only_the_file_whose_times_are_absurd(tmp_path, configuration):
    # The task's times are converted together: one file that ERFA refuses
    # must not take the others with it.
    paths = [str(synthetic.write_event_list(tmp_path / f"run{i}.fits", obs_id=100 + i,
                                            tstart=1e8 + 3600 * i))
             for i in range(3)]
    # (same time reference as the others: converted in the same astropy call)
    absurd = str(synthetic.write_event_list(tmp_path / "absurd.fits", obs_id=200,
                                            header_overrides={"TSTART": -1e300}))
    outcomes = ingest.ingest_many(paths[:2] + [absurd] + paths[2:], configuration,
                                  str(tmp_path), "hess_dr")
    assert [o.level for o in outcomes] == ["ok", "ok", "warning", "ok"]
    assert absurd in outcomes[2].message and "give no valid UTC date" in outcomes[2].message
    for path, outcome in zip(paths, outcomes[:2] + outcomes[3:]):
        alone = ingest.ingest(path, configuration, str(tmp_path), "hess_dr")
        assert outcome.obs == alone.obs and outcome.gtis == alone.gtis


def _reader_process_state(path, names):
    from astropy.io import fits
    with fits.open(path) as hdus:
        header = hdus["EVENTS"].header
        return (type(fits.conf).__name__, {name: getattr(fits.conf, name) for name in names},
                {key: header[key] for key in ("OBS_ID", "TSTART", "OBJECT")})


def test_a_reader_process_reads_as_astropy_configured(tmp_path):
    import concurrent.futures
    import multiprocessing
    from astropy.io import fits
    path = synthetic.write_event_list(tmp_path / "run.fits", object_name="  Crab  ")
    names = tuple(fits.conf)
    assert "strip_header_whitespace" in names
    expected = _reader_process_state(path, names)
    assert not expected[0].startswith("Frozen")
    with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"),
            initializer=ingest.prepare_reader_process) as pool:
        name, values, cards = pool.submit(_reader_process_state, path, names).result()
    assert name == "Frozen" + type(fits.conf).__name__
    assert values == expected[1] and cards == expected[2]
    assert cards["OBJECT"] == "  Crab"  # strip_header_whitespace kept its effect


def test_freeze_config_takes_the_current_values(monkeypatch):
    from astropy.config import ConfigItem, ConfigNamespace

    class Conf(ConfigNamespace):
        strip = ConfigItem(True, "a test item", module="hess_dr.tests")

    namespace = Conf()
    namespace.strip = False
    ingest.freeze_config(namespace)
    assert namespace.strip is False and "strip" in type(namespace).__dict__
    assert isinstance(namespace, Conf)
    assert Conf.__dict__["strip"].defaultvalue is True  # the class itself is untouched
