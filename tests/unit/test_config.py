"""hess_dr.config: the operator's YAML file, validated on load."""
from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from unit_support import CHECKOUT
from hess_dr import config
from hess_dr.config import ConfigError


DEFAULT_FILE = CHECKOUT / "res" / "hess_dr.default.yaml"


def test_shipped_default_loads():
    assert config.default_file(CHECKOUT) == DEFAULT_FILE
    cfg = config.load(DEFAULT_FILE)
    assert cfg.source == DEFAULT_FILE
    assert [c.name for c in cfg.collections] == ["hess-dl3-dr1"]
    coll = cfg.collections[0]
    assert coll.data_dir == CHECKOUT / "data"
    assert coll.data_dir == Path(__file__).resolve().parents[2] / "data"
    assert coll.obs_collection == "HESS-DL3-DR1"
    assert coll.fov_diameter_deg == 5.0
    assert (coll.psf_ref_energy_tev, coll.psf_ref_offset_deg) == (1.0, 0.5)
    assert (coll.calib_level, coll.tracking_mode) == (2, "sidereal")
    assert coll.default("TIMESYS") == "TT"
    assert coll.default("ZEN_PNT") is None
    assert coll.owner is None and coll.release is None and coll.runs == {}
    assert "No scientific publications may be derived from the data" in coll.rights
    assert cfg.contact_email == "hess-dr@example.org"
    assert cfg.collection_for(CHECKOUT / "data" / "x.fits.gz") is coll
    assert cfg.collection_for("/elsewhere/x.fits") is None


@pytest.mark.parametrize("obs_mode, scan_mode", [
    ("WOBBLE", "on-source"), ("wobble", "on-source"), (" Pointing ", "on-source"),
    # unquoted ON/OFF keys are YAML 1.1 booleans; they must still map
    ("ON", "on-source"), ("on", "on-source"), ("OFF", "on-off"),
    ("SCAN", "raster-map"), ("DRIFT", "on-the-fly-cross-scan"), ("SLEW", None), (None, None),
])
def test_shipped_default_scan_modes(obs_mode, scan_mode):
    coll = config.load(DEFAULT_FILE).collections[0]
    assert coll.scan_mode(obs_mode) == scan_mode


def write(tmp_path: Path, text: str, name: str = "hess_dr.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


MINIMAL = """\
collections:
  - name: one
    data_dir: runs
    obs_collection: ONE
"""


def test_minimal_file_and_relative_data_dir(tmp_path, data_dir):
    cfg = config.load(write(tmp_path, MINIMAL))
    (coll,) = cfg.collections
    assert coll.data_dir == data_dir  # relative to the file's directory
    assert coll.title_prefix == "ONE"
    assert (coll.messenger_name, coll.messenger_pdgid, coll.calib_level) == ("photon", 22, 2)
    assert coll.scan_modes == {} and coll.defaults == {}
    assert cfg.rights == "See the individual collections."


def test_full_collection(tmp_path, data_dir):
    path = write(tmp_path, f"""\
        service:
          contact_name: Ops
          contact_email: ops@example.org
        collections:
          - name: full_1
            data_dir: {data_dir}
            obs_collection: FULL
            title_prefix: Full DL3
            fov_diameter_deg: 3
            psf_ref_energy_tev: 0.3
            calib_level: 3
            tracking_mode: fixed-az-el-transit
            scan_modes: {{"ON": on-source, "off": on-off}}
            defaults: {{TIMESYS: utc, Energy_Unit: GeV}}
            owner: hessgroup
            embargo: 2030-06-30
            rights: Internal.
          - name: other
            data_dir: {data_dir}/sub
            obs_collection: OTHER
            embargo: "2031-01-01"
            owner: g
        """)
    (data_dir / "sub").mkdir()
    cfg = config.load(path)
    full, other = cfg.collections
    assert (full.fov_diameter_deg, full.psf_ref_energy_tev, full.calib_level) == (3.0, 0.3, 3)
    assert full.scan_modes == {"ON": "on-source", "OFF": "on-off"}
    assert full.default("timesys") == "utc" and full.default("ENERGY_UNIT") == "GeV"
    # embargo is the older name of a fixed release date
    assert full.release == datetime.date(2030, 6, 30)
    assert other.release == datetime.date(2031, 1, 1)
    assert (cfg.contact_name, cfg.contact_email) == ("Ops", "ops@example.org")
    assert cfg.rights == "FULL:\nInternal."
    # nested data directories: the innermost wins
    assert cfg.collection_for(data_dir / "sub" / "a.fits") is other
    assert cfg.collection_for(data_dir / "a.fits") is full


@pytest.mark.parametrize("text, key, problem", [
    pytest.param(MINIMAL + "    colour: red\n", "collections[0]", "unknown key(s) colour",
                 id="unknown-collection-key"),
    pytest.param("collection: []\n", "top level", "unknown key(s) collection", id="unknown-top-key"),
    pytest.param("service: {phone: 1}\n" + MINIMAL, "service", "unknown key(s) phone",
                 id="unknown-service-key"),
    pytest.param("collections:\n  - name: one\n    obs_collection: ONE\n",
                 "collections[one].data_dir", "is required", id="missing-data_dir"),
    pytest.param(MINIMAL.replace("runs", "nowhere"), "collections[one].data_dir",
                 "is not a directory", id="non-existent-data_dir"),
    pytest.param(MINIMAL + "    tracking_mode: wobbly\n", "collections[one].tracking_mode",
                 "'wobbly' is not one of", id="bad-tracking_mode"),
    pytest.param(MINIMAL + "    scan_modes: {WOBBLE: zigzag}\n",
                 "collections[one].scan_modes.WOBBLE", "'zigzag' is not one of",
                 id="bad-scan_mode"),
    pytest.param(MINIMAL + "    scan_modes: [a]\n", "collections[one].scan_modes",
                 "must be a mapping", id="scan_modes-not-mapping"),
    pytest.param(MINIMAL + "    fov_diameter_deg: -5\n", "collections[one].fov_diameter_deg",
                 "-5 must be a positive number", id="negative-fov"),
    pytest.param(MINIMAL + "    fov_diameter_deg: wide\n", "collections[one].fov_diameter_deg",
                 "'wide' is not a number", id="fov-text"),
    pytest.param(MINIMAL + "    fov_diameter_deg: .inf\n", "collections[one].fov_diameter_deg",
                 "must be a positive number", id="fov-infinite"),
    pytest.param(MINIMAL + "    embargo: 2030-01-01\n", "collections[one].embargo",
                 "a release rule needs an owner group", id="embargo-without-owner"),
    pytest.param(MINIMAL + "    release: 1 year\n", "collections[one].release",
                 "a release rule needs an owner group", id="release-without-owner"),
    pytest.param(MINIMAL + "    owner: g\n    release: soon\n", "collections[one].release",
                 "'soon' is neither an ISO date nor a period such as '1 year'",
                 id="bad-release"),
    pytest.param(MINIMAL + "    owner: g\n    release: 2 fortnights\n",
                 "collections[one].release", "'2 fortnights' is neither", id="bad-period"),
    pytest.param(MINIMAL + "    owner: g\n    release: 1 year\n    embargo: 2030-01-01\n",
                 "collections[one].embargo", "give release or embargo", id="release-and-embargo"),
    pytest.param(MINIMAL + "    owner: g\n    embargo: 1 year\n", "collections[one].embargo",
                 "a proprietary period goes into release", id="period-as-embargo"),
    pytest.param(MINIMAL + "    owner: g\n    runs: [1, 2]\n", "collections[one].runs",
                 "must be a mapping obs_id", id="runs-not-mapping"),
    pytest.param(MINIMAL + "    owner: g\n    runs: {23523: {release: never}}\n",
                 "collections[one].runs[23523].release", "'never' is neither",
                 id="run-bad-release"),
    pytest.param(MINIMAL + "    owner: g\n    runs: {23523: {until: 2030-01-01}}\n",
                 "collections[one].runs[23523]", "unknown key(s) until", id="run-unknown-key"),
    pytest.param(MINIMAL + "    runs: {23523: {release: 2030-01-01}}\n",
                 "collections[one].runs[23523].release", "needs an owner group",
                 id="run-release-without-owner"),
    pytest.param(MINIMAL + "    owner: g\n    runs_file: nowhere.csv\n",
                 "collections[one].runs_file", "cannot read", id="runs-file-missing"),
    pytest.param(MINIMAL + "    owner: g\n    embargo: next year\n", "collections[one].embargo",
                 "'next year' is neither an ISO date", id="bad-embargo-date"),
    pytest.param(MINIMAL + "    owner: g\n    embargo: 2030\n", "collections[one].embargo",
                 "2030 is neither an ISO date", id="embargo-number"),
    pytest.param(MINIMAL + MINIMAL.split("\n", 1)[1], "collections",
                 "collection name 'one' is used twice", id="duplicate-name"),
    pytest.param("- a\n- b\n", "top level", "must be a mapping", id="top-level-list"),
    pytest.param("just text\n", "top level", "must be a mapping", id="top-level-string"),
    pytest.param("", "top level", "must be a mapping", id="empty-file"),
    pytest.param("collections: []\n", "collections", "must be a non-empty list",
                 id="no-collections"),
    pytest.param("collections:\n  - just-a-name\n", "collections[0]", "must be a mapping",
                 id="collection-not-mapping"),
    pytest.param(MINIMAL.replace("name: one", "name: 'bad name'"), "collections[0].name",
                 "use letters, digits", id="bad-name"),
    pytest.param(MINIMAL + "    calib_level: 7\n", "collections[one].calib_level",
                 "must be 0..4", id="calib_level-range"),
    pytest.param(MINIMAL + "    calib_level: true\n", "collections[one].calib_level",
                 "True is not an integer", id="calib_level-bool"),
    pytest.param(MINIMAL + "    title_prefix: [a, b]\n", "collections[one].title_prefix",
                 "must be a plain value", id="title-list"),
    pytest.param(MINIMAL + "    defaults: [TIMESYS]\n", "collections[one].defaults",
                 "must be a mapping", id="defaults-list"),
])
def test_invalid_documents(tmp_path, data_dir, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message


def test_invalid_yaml(tmp_path):
    path = write(tmp_path, "collections: [\n  - name: {unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        config.load(path)
    assert str(path) in str(info.value)


def test_unreadable_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="cannot read configuration") as info:
        config.load(path)
    assert str(info.value).startswith(str(path))


def test_parse_takes_an_already_parsed_document(tmp_path, data_dir):
    doc = yaml.safe_load(MINIMAL)
    cfg = config.parse(doc, tmp_path / "virtual.yaml")
    assert cfg.collections[0].data_dir == data_dir
    with pytest.raises(ConfigError, match=r"virtual\.yaml: top level"):
        config.parse(["not", "a", "mapping"], tmp_path / "virtual.yaml")


def test_find_config_file_honours_environment(tmp_path):
    target = tmp_path / "elsewhere.yaml"
    assert config.find_config_file({"HESS_DR_CONFIG": str(target)}) == target
    assert config.find_config_file({"HESS_DR_CONFIG": str(target)}, resdir=CHECKOUT) == target
    operator = CHECKOUT / "hess_dr.yaml"
    fallback = operator if operator.exists() else DEFAULT_FILE
    assert config.find_config_file({}, resdir=CHECKOUT) == fallback
    assert config.find_config_file({"HESS_DR_CONFIG": ""}, resdir=CHECKOUT) == fallback
    # Without a resdir: $HESS_DR_RESDIR, else the checkout the package sits in.
    assert config.find_config_file({"HESS_DR_RESDIR": str(tmp_path)}) == (
        tmp_path / "res" / "hess_dr.default.yaml")
    assert config.find_config_file({}) == fallback


def test_load_without_path_uses_environment(tmp_path, data_dir, monkeypatch):
    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("HESS_DR_CONFIG", str(path))
    cfg = config.load()
    assert cfg.source == path and cfg.collections[0].name == "one"


def _copy_of_resdir(tmp_path: Path) -> Path:
    """A resource directory elsewhere: the shipped default (data_dir: data)
    in res/, and an empty data/."""
    resdir = tmp_path / "site" / "inputs" / "gamma"
    (resdir / "res").mkdir(parents=True)
    (resdir / "data").mkdir()
    shutil.copy(DEFAULT_FILE, resdir / "res" / "hess_dr.default.yaml")
    return resdir


def test_load_takes_the_resource_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("HESS_DR_CONFIG", raising=False)
    monkeypatch.delenv("HESS_DR_RESDIR", raising=False)
    resdir = _copy_of_resdir(tmp_path)
    cfg = config.load(resdir=resdir)
    assert cfg.source == resdir / "res" / "hess_dr.default.yaml"
    (coll,) = cfg.collections
    assert (coll.name, coll.data_dir) == ("hess-dl3-dr1", resdir / "data")
    # The operator's own file in the resource directory comes first.
    (resdir / "runs").mkdir()
    write(resdir, MINIMAL)
    cfg = config.load(resdir=resdir)
    assert cfg.source == resdir / "hess_dr.yaml"
    assert [(c.name, c.data_dir) for c in cfg.collections] == [("one", resdir / "runs")]
    # $HESS_DR_CONFIG still wins over the resource directory.
    other = write(tmp_path, MINIMAL.replace("name: one", "name: two"), "other.yaml")
    (tmp_path / "runs").mkdir()
    monkeypatch.setenv("HESS_DR_CONFIG", str(other))
    assert [c.name for c in config.load(resdir=resdir).collections] == ["two"]
    monkeypatch.delenv("HESS_DR_CONFIG")
    # $HESS_DR_RESDIR names it for callers that pass none.
    monkeypatch.setenv("HESS_DR_RESDIR", str(resdir))
    assert config.load().source == resdir / "hess_dr.yaml"


def test_load_does_not_depend_on_where_the_package_sits(tmp_path):
    """hess_dr installed elsewhere (a copy of the package on its own, as a
    regular install puts it into site-packages): the resource directory
    given is where the configuration is found; without one, load() says so."""
    resdir = _copy_of_resdir(tmp_path)
    (resdir / "runs").mkdir()
    write(resdir, MINIMAL)
    site = tmp_path / "site-packages"
    shutil.copytree(CHECKOUT / "hess_dr", site / "hess_dr",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = textwrap.dedent(f"""\
        import hess_dr
        from hess_dr import config
        print(hess_dr.__file__)
        print(config.load(resdir={str(resdir)!r}).source)
        print(config.load({str(resdir / "res" / "hess_dr.default.yaml")!r}).collections[0].data_dir)
        try:
            config.load()
        except config.ConfigError as exc:
            print("ConfigError:", exc)
        """)
    env = {k: v for k, v in os.environ.items()
           if k not in ("HESS_DR_CONFIG", "HESS_DR_RESDIR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    package, source, data_dir, error = done.stdout.splitlines()
    assert package == str(site / "hess_dr" / "__init__.py")
    assert source == str(resdir / "hess_dr.yaml")
    assert data_dir == str(resdir / "data")
    assert error.startswith("ConfigError: no resource directory: pass the RD's resdir"
                            " or set $HESS_DR_RESDIR")


def test_release_rules_with_per_run_overrides(tmp_path, data_dir):
    """A proprietary period per run, overridden by ``runs_file`` (CSV) and
    ``runs`` (which wins); rights_of gives each run's owner and first
    public day."""
    (tmp_path / "runs.csv").write_text("obs_id,release,owner\n"
                                       "23523,2004-06-01,\n23526,,magic\n20136,2000-01-01,\n")
    path = tmp_path / "hess_dr.yaml"
    path.write_text(MINIMAL + "    owner: hessteam\n    release: 18 months\n"
                    "    runs_file: runs.csv\n"
                    "    runs: {20136: {release: 2100-01-01}}\n")
    coll = config.load(path).collections[0]
    observed = datetime.date(2004, 2, 29)
    assert coll.rights_of(99, observed) == ("hessteam", datetime.date(2005, 8, 29))
    assert coll.rights_of("23523", observed) == ("hessteam", datetime.date(2004, 6, 1))
    assert coll.rights_of(23526, observed) == ("magic", datetime.date(2005, 8, 29))
    assert coll.rights_of(20136, observed) == ("hessteam", datetime.date(2100, 1, 1))
    # no observation date: a period cannot start, the run stays proprietary
    assert coll.rights_of(99, None) == ("hessteam", None)


def test_runs_file_errors_name_the_file_and_line(tmp_path, data_dir):
    (tmp_path / "runs.csv").write_text("obs_id,release\n23523,2004-06-01\n,2004-01-01\n")
    path = tmp_path / "hess_dr.yaml"
    path.write_text(MINIMAL + "    owner: g\n    runs_file: runs.csv\n")
    with pytest.raises(config.ConfigError, match=r"runs\.csv: line 3: obs_id is empty"):
        config.load(path)
    (tmp_path / "runs.csv").write_text("obs,release\n1,2004-06-01\n")
    with pytest.raises(config.ConfigError, match=r"runs\.csv: line 1: a CSV runs file needs"):
        config.load(path)
    (tmp_path / "runs.yaml").write_text("23523: {release: later}\n")
    path.write_text(MINIMAL + "    owner: g\n    runs_file: runs.yaml\n")
    with pytest.raises(config.ConfigError, match=r"runs\.yaml: runs\[23523\]\.release: 'later'"):
        config.load(path)
