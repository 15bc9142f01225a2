"""Curation keys of the operator configuration and the registry records made
from them (hess_dr.config, hess_dr.registry)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from unit_support import CHECKOUT
from hess_dr import config, registry
from hess_dr.config import ConfigError
from hess_dr.coverage import Coverage

DEFAULT_FILE = CHECKOUT / "res" / "hess_dr.default.yaml"
EXAMPLE_FILE = CHECKOUT / "res" / "examples" / "multi-instrument.yaml"


def write(tmp_path: Path, collection: str = "", service: str = "") -> Path:
    """A configuration with one collection; ``collection`` and ``service``
    are YAML snippets added to the collection's and the service's keys."""
    (tmp_path / "d").mkdir(exist_ok=True)
    entry = {"name": "coll-a", "data_dir": "d", "obs_collection": "COLL-A",
             "title_prefix": "Coll A"}
    entry.update(yaml.safe_load(textwrap.dedent(collection)) or {})
    site = {"contact_name": "Site Ops", "contact_email": "ops@example.org"}
    site.update(yaml.safe_load(textwrap.dedent(service)) or {})
    path = tmp_path / "hess_dr.yaml"
    path.write_text(yaml.safe_dump({"service": site, "collections": [entry]}))
    return path


def test_shipped_default_curation():
    cfg = config.load(DEFAULT_FILE)
    assert (cfg.title, cfg.short_name, cfg.publisher) == (
        "hess_dr gamma-ray event list archive", "hess_dr", "hess_dr operators")
    assert (cfg.contact_name, cfg.contact_email) == ("hess_dr operators", "hess-dr@example.org")
    assert "GADF DL3" in cfg.description
    coll = cfg.collections[0]
    assert coll.title == "H.E.S.S. DL3 public test data release 1 (event lists)"
    assert coll.short_name == "HESS DL3 DR1"
    assert coll.creators == ("H.E.S.S. Collaboration",)
    assert coll.reference_url == "https://www.mpi-hd.mpg.de/hfm/HESS/pages/dl3-dr1/"
    assert coll.subjects == ("gamma-ray-astronomy", "high-energy-astrophysics",
                             "gamma-ray-sources", "supernova-remnants", "blazars")
    assert coll.source == "2018hess.dl3.dr1......H"
    assert "no scientific publications may be derived" in coll.description


def test_example_loads_with_curation(tmp_path):
    doc = yaml.safe_load(EXAMPLE_FILE.read_text())
    for entry in doc["collections"]:  # its folders: bin/hess-dr-synth-families
        (tmp_path / entry["name"]).mkdir()
        entry["data_dir"] = str(tmp_path / entry["name"])
    cfg = config.parse(doc, EXAMPLE_FILE)
    assert (cfg.title, cfg.short_name, cfg.publisher) == (
        "Synthetic gamma-ray event lists (hess_dr example)", "hess_dr synth",
        "hess_dr operators")
    # the commented curation keys of a collection are valid when used
    commented = "\n".join(line.strip()[2:] for line in EXAMPLE_FILE.read_text().splitlines()
                          if line.strip().startswith("# subjects:")
                          or line.strip().startswith("# creators:"))
    entry = dict(doc["collections"][0], **yaml.safe_load(commented))
    coll = config.parse(dict(doc, collections=[entry]), EXAMPLE_FILE).collections[0]
    assert coll.creators == ("Collaboration name",)
    assert coll.subjects == ("gamma-ray-astronomy", "high-energy-astrophysics")


def test_curation_defaults_come_from_the_service(tmp_path):
    cfg = config.load(write(tmp_path))
    coll = cfg.collections[0]
    assert (coll.title, coll.short_name, coll.creators, coll.subjects) == (None, None, (), ())
    assert registry.title(coll) == "Coll A event lists"
    assert registry.short_name(coll) == "coll-a"
    assert registry.publisher(cfg, coll) == "Site Ops"
    assert registry.contact(cfg, coll) == ("Site Ops", "ops@example.org")
    assert registry.creators(cfg, coll) == ("Site Ops",)
    assert registry.reference_url(cfg, coll) is None
    assert "COLL-A" in registry.description(cfg, coll)


def test_collection_curation_is_read(tmp_path):
    cfg = config.load(write(tmp_path, """\
        title: The A collection
        short_name: A coll
        description: |
          Runs of
          instrument A.
        publisher: A Observatory
        contact_name: A Contact
        contact_email: a@example.org
        creators: [Doe, J., A Collaboration]
        reference_url: https://a.example.org/data
        subjects: [gamma-ray-astronomy, pulsars]
        source: 10.5281/zenodo.1421099
        rights: Use freely.
        rights_url: https://a.example.org/terms
        """))
    coll = cfg.collections[0]
    assert coll.creators == ("Doe", "J.", "A Collaboration")
    assert registry.description(cfg, coll) == "Runs of instrument A."
    assert registry.contact(cfg, coll) == ("A Contact", "a@example.org")
    stream = registry.meta_stream(cfg, coll, None)
    lines = stream.split("\n")
    assert "publisher: A Observatory" in lines
    assert "creator: Doe; J.; A Collaboration" in lines
    assert "subject: gamma-ray-astronomy" in lines and "subject: pulsars" in lines
    assert "referenceURL: https://a.example.org/data" in lines
    assert "source: 10.5281/zenodo.1421099" in lines
    assert "coverage.waveband: Gamma-ray" in lines
    assert not any(line.startswith("coverage.spatial") for line in lines)


@pytest.mark.parametrize("collection, key, problem", [
    ("short_name: seventeen chars..", "collections[coll-a].short_name", "longer than 16"),
    ("contact_email: nobody", "collections[coll-a].contact_email", "not an e-mail"),
    ("reference_url: www.example.org", "collections[coll-a].reference_url", "not an http(s) URL"),
    ("rights_url: ftp://x.org/", "collections[coll-a].rights_url", "not an http(s) URL"),
    ("subjects: [Gamma-ray astronomy]", "collections[coll-a].subjects", "not a UAT term"),
    ("subjects: {a: b}", "collections[coll-a].subjects", "must be a list"),
    ("creators: ['Doe; Roe']", "collections[coll-a].creators", "one name per entry"),
    ("creators: ['']", "collections[coll-a].creators", "not a non-empty name"),
    ("title: [a, b]", "collections[coll-a].title", "plain value"),
])
def test_bad_collection_curation_names_file_and_key(tmp_path, collection, key, problem):
    path = write(tmp_path, collection)
    with pytest.raises(ConfigError) as error:
        config.load(path)
    assert str(error.value).startswith(f"{path}: {key}: ")
    assert problem in str(error.value)


@pytest.mark.parametrize("service, key, problem", [
    ("short_name: fourteen chars", "service.short_name", "longer than 13"),
    ("reference_url: example.org", "service.reference_url", "not an http(s) URL"),
    ("sitename: x", "service", "unknown key(s) sitename"),
])
def test_bad_service_curation_names_file_and_key(tmp_path, service, key, problem):
    path = write(tmp_path, service=service)
    with pytest.raises(ConfigError) as error:
        config.load(path)
    assert str(error.value).startswith(f"{path}: {key}: ")
    assert problem in str(error.value)


def test_records_carry_coverage_and_the_form_url(tmp_path):
    cfg = config.load(write(tmp_path))
    cov = Coverage(collection="coll-a", obs_collection="COLL-A", n_runs=4,
                   moc="6/24154 24165-24167", moc_order=6,
                   temporal=[(53343.92, 53343.95), (53700.0, 53700.5)],
                   energy_min_ev=2.44e11, energy_max_ev=1.0e14,
                   facilities=["H.E.S.S."], instruments=["H.E.S.S. Phase I"],
                   fingerprint="x")
    [record] = registry.records(cfg, {"coll-a": cov}, "http://127.0.0.1:8080/", "hess_dr/q/web/form")
    assert record["id"] == "coll_coll_a"
    assert record["formURL"] == "http://127.0.0.1:8080/hess_dr/q/web/form?collection=COLL-A"
    lines = record["metaStream"].split("\n")
    assert "coverage.spatial: 6/24154 24165-24167" in lines
    assert "coverage.temporal: 53343.92 53343.95" in lines
    assert "coverage.temporal: 53700 53700.5" in lines
    # 1 eV = 1.602176634e-19 J
    assert "coverage.spectral: 3.909310987e-08 1.602176634e-05" in lines
    assert "facility: H.E.S.S." in lines and "instrument: H.E.S.S. Phase I" in lines
    assert record["nRuns"] == "4"


def test_records_need_distinct_ids(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "e").mkdir()
    path = tmp_path / "hess_dr.yaml"
    path.write_text(textwrap.dedent("""\
        collections:
          - {name: a-b, data_dir: d, obs_collection: X}
          - {name: a_b, data_dir: e, obs_collection: Y}
        """))
    with pytest.raises(ValueError, match="same record id coll_a_b"):
        registry.records(config.load(path), {}, "http://x", "f")


def test_backslashes_do_not_become_macros(tmp_path):
    cfg = config.load(write(tmp_path, "title: 'A \\relax title'"))
    assert cfg.collections[0].title == "A \\relax title"
    [record] = registry.records(cfg, {}, "http://x", "f")
    assert record["title"] == "A \\\\relax title"
