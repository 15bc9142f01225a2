"""The collections in the VO Registry: records with curation and coverage
(OAI-PMH ListIdentifiers, ListRecords, GetRecord, validated with the XSDs
DaCHS ships), the site metadata and front page from the configuration, and
the import report.

Two instances: the bundled sample with the shipped configuration (one
collection), and two collections side by side (the Crab runs, and the MSH
15-52 run with a broken file) with their own curation.
"""
from __future__ import annotations

import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import pyvo
import yaml
from astropy import units as u
from astropy.time import Time
from lxml import etree

from dachs_support import SAMPLE_DATA, make_service

from hess_dr import config as hess_config
from hess_dr import coverage as hcoverage

NS = {"oai": "http://www.openarchives.org/OAI/2.0/",
      "ri": "http://www.ivoa.net/xml/RegistryInterface/v1.0",
      "vr": "http://www.ivoa.net/xml/VOResource/v1.0",
      "vs": "http://www.ivoa.net/xml/VODataService/v1.1",
      "vg": "http://www.ivoa.net/xml/VORegistry/v1.0",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
XSI_TYPE = "{%s}type" % NS["xsi"]
AUTHORITY = "ivo://hess-dr.example"
EV_J = u.eV.to(u.J)  # 1.602176634e-19, from astropy
CRAB = (83.633333333333, 22.014444444444)          # RA_OBJ, DEC_OBJ of the files
MSH_15_52 = (228.6125, -59.271666666667)
EMPTY_FIELDS = [(0.0, 0.0), (83.633, 30.0), (329.7169, -30.2256), (180.0, 60.0)]

# DaCHS's own validator: lxml with every schema DaCHS ships (its
# gavo/resources/schemata); run in a DaCHS process of the instance.
VALIDATE = """
import sys
from gavo.helpers import testtricks
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        errors = testtricks.getXSDErrorsLXML(f.read())
    print(name, "VALID" if errors is None else "INVALID " + " ".join(errors.split()))
"""


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        assert response.status == 200, url
        return response.read()


def oai(service, **params) -> bytes:
    return fetch(f"{service.url}/oai.xml?{urllib.parse.urlencode(params)}")


def xsd_results(service, documents: dict, tmp_path: Path) -> dict:
    """{name: "VALID" or "INVALID <errors>"} from DaCHS's validator."""
    paths = []
    for name, document in documents.items():
        path = tmp_path / f"{name}.xml"
        path.write_bytes(document)
        paths.append(str(path))
    result = subprocess.run([service.instance.python, "-c", VALIDATE, *paths],
                            env=service.env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    verdicts = {}
    for line in result.stdout.splitlines():
        path, verdict = line.split(" ", 1)
        verdicts[Path(path).stem] = verdict
    return verdicts


def records(document: bytes) -> dict:
    """{identifier: ri:Resource element} of an OAI-PMH response."""
    root = etree.fromstring(document)
    return {r.findtext("oai:header/oai:identifier", namespaces=NS):
            r.find("oai:metadata/ri:Resource", NS)
            for r in root.iterfind(".//oai:record", NS)}


def text(element, path):
    return element.findtext(path, namespaces=NS)


def capabilities(resource) -> dict:
    """{standardID or xsi:type of the interface: accessURL}."""
    found = {}
    for capability in resource.iterfind("capability"):
        interface = capability.find("interface")
        key = capability.get("standardID") or interface.get(XSI_TYPE)
        found[key] = interface.findtext("accessURL")
    return found


# ------------------------------------------------------------ the sample

@pytest.fixture(scope="module")
def sample(sample_service):
    record_id = f"{AUTHORITY}/hess_dr/q/coll_hess_dl3_dr1"
    listed = oai(sample_service, verb="ListRecords", metadataPrefix="ivo_vor")
    return sample_service, record_id, records(listed)[record_id], listed


def test_oai_pmh_answers_validate_against_dachs_schemas(sample, tmp_path):
    service, record_id, _, listed = sample
    documents = {
        "identify": oai(service, verb="Identify"),
        "list_identifiers": oai(service, verb="ListIdentifiers", metadataPrefix="ivo_vor"),
        "list_records": listed,
        "list_records_managed": oai(service, verb="ListRecords", metadataPrefix="ivo_vor",
                                    set="ivo_managed"),
        "list_records_dc": oai(service, verb="ListRecords", metadataPrefix="oai_dc"),
        "get_record": oai(service, verb="GetRecord", metadataPrefix="ivo_vor",
                          identifier=record_id),
    }
    # the validator does catch a broken record: the same record without
    # its identifier
    broken = etree.fromstring(documents["get_record"])
    identifier = broken.find(".//ri:Resource/identifier", NS)
    identifier.getparent().remove(identifier)
    documents["broken"] = etree.tostring(broken)
    verdicts = xsd_results(service, documents, tmp_path)
    assert verdicts.pop("broken").startswith("INVALID")
    assert verdicts == dict.fromkeys(verdicts, "VALID")
    assert set(verdicts) == set(documents) - {"broken"}

    root = etree.fromstring(documents["list_identifiers"])
    identifiers = {h.findtext("oai:identifier", namespaces=NS)
                   for h in root.iterfind(".//oai:header", NS)}
    # the site's authority and registry, its TAP service, the collection
    assert identifiers == {AUTHORITY, f"{AUTHORITY}/__system__/services/registry",
                           f"{AUTHORITY}/tap", record_id}
    assert set(records(listed)) == identifiers
    get = records(documents["get_record"])
    assert list(get) == [record_id]


def test_collection_record_curation_comes_from_the_configuration(sample):
    service, record_id, resource, _ = sample
    raw = yaml.safe_load(service.config_path.read_text())
    site, coll = raw["service"], raw["collections"][0]
    assert resource.get(XSI_TYPE) == "vs:CatalogService"
    assert resource.get("status") == "active"
    assert text(resource, "identifier") == record_id
    assert text(resource, "title") == coll["title"]
    assert text(resource, "shortName") == coll["short_name"]
    assert " ".join(text(resource, "content/description").split()) == " ".join(
        coll["description"].split())
    assert text(resource, "curation/publisher") == coll["publisher"]
    assert [c.findtext("name") for c in resource.iterfind("curation/creator")] == coll["creators"]
    assert text(resource, "curation/contact/name") == site["contact_name"]
    assert text(resource, "curation/contact/email") == site["contact_email"]
    assert text(resource, "content/referenceURL") == coll["reference_url"]
    assert text(resource, "content/source") == coll["source"]
    assert [s.text for s in resource.iterfind("content/subject")] == coll["subjects"]
    assert " ".join(text(resource, "rights").split()) == " ".join(coll["rights"].split())
    assert text(resource, "facility") == coll["facility_name"]
    assert text(resource, "instrument") == "H.E.S.S. Phase I"


def test_collection_record_capabilities_answer(sample):
    service, _, resource, _ = sample
    found = capabilities(resource)
    assert found == {
        "vr:WebBrowser": f"{service.url}/hess_dr/q/web/form?collection=HESS-DL3-DR1",
        "ivo://ivoa.net/std/DataLink#links-1.1": f"{service.url}/hess_dr/q/dl/dlmeta",
        "ivo://ivoa.net/std/SODA#sync-1.0": f"{service.url}/hess_dr/q/dl/dlget",
        "ivo://ivoa.net/std/TAP#aux": f"{service.url}/tap",
        "ivo://ivoa.net/std/VOSI#availability":
            f"{service.url}/hess_dr/q/coll_hess_dl3_dr1/availability",
        "ivo://ivoa.net/std/VOSI#capabilities":
            f"{service.url}/hess_dr/q/coll_hess_dl3_dr1/capabilities",
        "ivo://ivoa.net/std/VOSI#tables":
            f"{service.url}/hess_dr/q/coll_hess_dl3_dr1/tableMetadata",
    }
    # the form opens with the collection chosen
    form = fetch(found["vr:WebBrowser"]).decode()
    assert 'value="HESS-DL3-DR1" checked="checked"' in form
    for key, url in found.items():
        if key.startswith("ivo://ivoa.net/std/VOSI"):
            fetch(url)
    tap = pyvo.dal.TAPService(found["ivo://ivoa.net/std/TAP#aux"])
    assert len(tap.run_sync("SELECT obs_id FROM ivoa.obscore"
                            " WHERE obs_collection = 'HESS-DL3-DR1'")) == 3
    # the footprint link serves the MOC
    footprint = resource.find("coverage/footprint")
    assert footprint.get("ivo-id") == "ivo://ivoa.net/std/moc"
    assert fetch(footprint.text)[:6] == b"SIMPLE"


def test_collection_record_tableset_is_the_tap_tables(sample):
    _, _, resource, _ = sample
    tables = {schema.findtext("name"): {t.findtext("name"): t
                                        for t in schema.iterfind("table")}
              for schema in resource.iterfind("tableset/schema")}
    assert {s: set(t) for s, t in tables.items()} == {
        "hess_dr": {"hess_dr.obs_index", "hess_dr.gti"},
        "ivoa": {"ivoa.obscore", "ivoa.obscore_hea"}}
    columns = {c.findtext("name") for c in tables["hess_dr"]["hess_dr.obs_index"].iterfind("column")}
    assert {"obs_id", "zen_pnt", "livetime", "s_region"} <= columns
    assert "source_path" not in columns      # hidden from TAP, and from the record
    hea = {c.findtext("name") for c in tables["ivoa"]["ivoa.obscore_hea"].iterfind("column")}
    assert {"ev_xel", "energy_min", "t_intervals"} <= hea


def test_coverage_is_computed_from_the_runs(sample):
    service, _, resource, _ = sample
    tap = pyvo.dal.TAPService(service.tap_url)
    runs = tap.run_sync("SELECT i.s_region, i.s_ra, i.s_dec, i.t_min, i.t_max,"
                        " h.energy_min, h.energy_max FROM hess_dr.obs_index AS i"
                        " JOIN ivoa.obscore_hea AS h"
                        " ON i.obs_publisher_did = h.obs_publisher_did").to_table()
    assert len(runs) == 3
    coverage = resource.find("coverage")
    moc = " ".join(coverage.findtext("spatial").split())
    # independently: mocpy on the polygons TAP serves (DALI, degrees)
    polygons = [list(zip(np.asarray(p)[0::2], np.asarray(p)[1::2])) for p in runs["s_region"]]
    assert moc == hcoverage.moc_ascii(hcoverage.spatial_moc(polygons, order=6))
    for ra, dec in [CRAB, MSH_15_52, *zip(runs["s_ra"], runs["s_dec"])]:
        assert hcoverage.moc_contains(moc, ra, dec)
    for ra, dec in EMPTY_FIELDS:
        assert not hcoverage.moc_contains(moc, ra, dec)
    temporal = [tuple(float(v) for v in t.text.split()) for t in coverage.iterfind("temporal")]
    tt = Time([min(runs["t_min"]), max(runs["t_max"])], format="mjd", scale="utc").tt.mjd
    assert temporal[0][0] == pytest.approx(tt[0], abs=1e-5)
    assert temporal[-1][1] == pytest.approx(tt[1], abs=1e-5)
    # the Crab runs (December 2004) and MSH 15-52 (March 2004) are 254 days apart
    assert len(temporal) == 2
    spectral = tuple(float(v) for v in coverage.findtext("spectral").split())
    assert spectral == pytest.approx((min(runs["energy_min"]) * EV_J,
                                      max(runs["energy_max"]) * EV_J), rel=1e-9, abs=0)
    assert coverage.findtext("waveband") == "Gamma-ray"
    # the same coverage, queryable
    row = tap.run_sync("SELECT * FROM hess_dr.coverage").to_table()[0]
    assert (row["collection"], row["n_runs"], row["moc_order"]) == ("hess-dl3-dr1", 3, 6)
    assert " ".join(str(row["spatial_moc"]).split()) == moc


def test_site_metadata_and_front_page_come_from_the_configuration(sample):
    service, record_id, _, listed = sample
    site = yaml.safe_load(service.config_path.read_text())["service"]
    page = fetch(f"{service.url}/").decode()
    assert f"<title>{site['title']} Home</title>" in page
    assert " ".join(site["description"].split()) in " ".join(page.split())
    for placeholder in ("Your organisation", "Fill Out", "invalid@example.com",
                        "UNCONFIGURED", "&lt;13 chrs"):
        assert placeholder not in page
    # the services: the search form, the collection (to the form), TAP
    assert 'href="/hess_dr/q/web/form">Search gamma-ray event lists</a>' in page
    assert ('href="/hess_dr/q/coll_hess_dl3_dr1/external">H.E.S.S. DL3 public test data'
            ' release 1 (event lists)</a>') in page
    assert f"{site['title']} TAP service" in page
    with urllib.request.urlopen(f"{service.url}/hess_dr/q/coll_hess_dl3_dr1/external") as r:
        assert r.geturl() == f"{service.url}/hess_dr/q/web/form?collection=HESS-DL3-DR1"
    # the site's own records
    every = records(listed)
    authority = every[AUTHORITY]
    assert text(authority, "title") == f"{site['title']} (authority hess-dr.example)"
    assert text(authority, "shortName") == site["short_name"]
    registry = every[f"{AUTHORITY}/__system__/services/registry"]
    # (DaCHS's registry record names its publisher after the site)
    assert text(registry, "curation/publisher") == f"The staff at the {site['title']}"
    assert text(registry, "curation/contact/email") == site["contact_email"]
    assert text(registry, "title") == f"{site['title']} Registry"


def test_import_report_is_kept(sample):
    service, _, _, _ = sample
    assert ("hess_dr: import summary: 3 file(s) read" in service.import_output)
    assert ("3 published, 0 skipped, 0 not event lists, 0 removed; 0 problem(s) noted"
            in service.import_output)
    tap = pyvo.dal.TAPService(service.tap_url)
    first = tap.run_sync("SELECT * FROM hess_dr.import_runs ORDER BY started").to_table()[0]
    assert (first["files_read"], first["published"], first["skipped"],
            first["runs_published"]) == (3, 3, 0, 3)
    page = fetch(f"{service.url}/hess_dr/q/imports/form").decode()
    assert "hess_dr import report" in page


# --------------------------------------------------- two collections

@pytest.fixture(scope="module")
def two(tmp_path_factory):
    data = tmp_path_factory.mktemp("two_collections")
    (data / "crab").mkdir()
    (data / "msh").mkdir()
    for name in ("hess_dl3_dr1_obs_id_023523.fits.gz", "hess_dl3_dr1_obs_id_023526.fits.gz"):
        shutil.copy(SAMPLE_DATA / name, data / "crab" / name)
    shutil.copy(SAMPLE_DATA / "hess_dl3_dr1_obs_id_020136.fits.gz", data / "msh")
    (data / "msh" / "broken.fits").write_text("not FITS at all\n")
    default = yaml.safe_load(hess_config.default_file(hess_config.RESDIR).read_text())
    template = {k: v for k, v in default["collections"][0].items()
                if k not in ("title", "short_name", "description", "publisher", "creators",
                             "reference_url", "subjects", "source", "rights_url")}
    crab = dict(template, name="crab", data_dir=str(data / "crab"), obs_collection="HESS-CRAB",
                title_prefix="H.E.S.S. Crab", title="Crab runs of the H.E.S.S. DR1",
                short_name="HESS Crab", creators=["Doe, J.", "H.E.S.S. Collaboration"],
                subjects=["gamma-ray-astronomy", "supernova-remnants"],
                reference_url="https://crab.example.org/", publisher="Crab Publisher",
                contact_name="Crab Desk", contact_email="crab@example.org")
    msh = dict(template, name="msh", data_dir=str(data / "msh"), obs_collection="HESS-MSH",
               title_prefix="H.E.S.S. MSH 15-52")
    site = {"title": "Two collections test site", "short_name": "twocoll",
            "description": "A site with two collections, for the registry test.",
            "publisher": "Test Publisher", "contact_name": "Test Desk",
            "contact_email": "desk@example.org", "contact_address": "1 Test Road, Testville"}
    config = data / "hess_dr.yaml"
    config.write_text(yaml.safe_dump({"service": site, "collections": [crab, msh]}))
    with make_service(tmp_path_factory, config, "registry_two") as service:
        # a second import, with nothing new: it reads the broken file again
        service.instance.stop_server()
        try:
            again = service.instance.run_dachs("imp", "hess_dr/q")
        finally:
            service.instance.start_server()
        service.reimport_output = again.stdout + again.stderr
        listed = oai(service, verb="ListRecords", metadataPrefix="ivo_vor")
        yield service, records(listed), listed, data


def test_several_collections_give_several_valid_records(two, tmp_path):
    service, every, listed, _ = two
    crab_id, msh_id = f"{AUTHORITY}/hess_dr/q/coll_crab", f"{AUTHORITY}/hess_dr/q/coll_msh"
    assert {crab_id, msh_id} <= set(every)
    verdicts = xsd_results(service, {
        "list_records": listed,
        "crab": oai(service, verb="GetRecord", metadataPrefix="ivo_vor", identifier=crab_id),
        "msh": oai(service, verb="GetRecord", metadataPrefix="ivo_vor", identifier=msh_id)},
        tmp_path)
    assert verdicts == {"list_records": "VALID", "crab": "VALID", "msh": "VALID"}
    crab, msh = every[crab_id], every[msh_id]
    crab_moc = crab.findtext("coverage/spatial")
    msh_moc = msh.findtext("coverage/spatial")
    assert hcoverage.moc_contains(crab_moc, *CRAB)
    assert not hcoverage.moc_contains(crab_moc, *MSH_15_52)
    assert hcoverage.moc_contains(msh_moc, *MSH_15_52)
    assert not hcoverage.moc_contains(msh_moc, *CRAB)
    for ra, dec in EMPTY_FIELDS:
        assert not hcoverage.moc_contains(crab_moc, ra, dec)
        assert not hcoverage.moc_contains(msh_moc, ra, dec)
    crab_time = [tuple(map(float, t.text.split())) for t in crab.iterfind("coverage/temporal")]
    msh_time = [tuple(map(float, t.text.split())) for t in msh.iterfind("coverage/temporal")]
    assert crab_time[0][0] == pytest.approx(
        Time(53343.92159722222, format="mjd", scale="utc").tt.mjd, abs=1e-5)
    assert msh_time[0][0] == pytest.approx(
        Time(53090.122708333336, format="mjd", scale="utc").tt.mjd, abs=1e-5)
    # DataLink and SODA of the same service in both
    assert capabilities(crab)["ivo://ivoa.net/std/DataLink#links-1.1"] == capabilities(
        msh)["ivo://ivoa.net/std/DataLink#links-1.1"]
    assert capabilities(msh)["vr:WebBrowser"].endswith("/hess_dr/q/web/form?collection=HESS-MSH")


def test_each_record_has_its_own_curation_or_the_sites(two):
    _, every, _, _ = two
    crab = every[f"{AUTHORITY}/hess_dr/q/coll_crab"]
    msh = every[f"{AUTHORITY}/hess_dr/q/coll_msh"]
    assert (text(crab, "title"), text(crab, "shortName")) == (
        "Crab runs of the H.E.S.S. DR1", "HESS Crab")
    assert [c.findtext("name") for c in crab.iterfind("curation/creator")] == [
        "Doe, J.", "H.E.S.S. Collaboration"]
    assert (text(crab, "curation/publisher"), text(crab, "curation/contact/name"),
            text(crab, "curation/contact/email")) == (
        "Crab Publisher", "Crab Desk", "crab@example.org")
    assert text(crab, "content/referenceURL") == "https://crab.example.org/"
    assert [s.text for s in crab.iterfind("content/subject")] == [
        "gamma-ray-astronomy", "supernova-remnants"]
    # the other falls back to the site
    assert text(msh, "title") == "H.E.S.S. MSH 15-52 event lists"
    assert text(msh, "shortName") == "msh"
    assert text(msh, "curation/publisher") == "Test Publisher"
    assert [c.findtext("name") for c in msh.iterfind("curation/creator")] == ["Test Publisher"]
    assert (text(msh, "curation/contact/name"), text(msh, "curation/contact/email"),
            text(msh, "curation/contact/address")) == (
        "Test Desk", "desk@example.org", "1 Test Road, Testville")
    assert [s.text for s in msh.iterfind("content/subject")] == ["gamma-ray-astronomy"]
    assert "HESS-MSH" in text(msh, "content/description")
    # no record inherits the H.E.S.S. DR1 bibcode of the shipped configuration
    assert text(msh, "content/source") is None


def test_front_page_of_the_two_collection_site(two):
    service, _, _, _ = two
    page = fetch(f"{service.url}/").decode()
    assert "<title>Two collections test site Home</title>" in page
    assert "A site with two collections, for the registry test." in page
    assert ">Crab runs of the H.E.S.S. DR1</a>" in page
    assert ">H.E.S.S. MSH 15-52 event lists</a>" in page


def test_import_report_names_the_skipped_file(two):
    service, _, _, data = two
    output = service.import_output
    assert ("hess_dr:   skipped: msh/broken.fits: skipped: not a readable FITS file"
            in output), output[-3000:]
    # the second import read only what was not published: the broken file
    again = service.reimport_output
    assert ("hess_dr: import summary: 1 file(s) read" in again
            and "0 published, 1 skipped, 0 not event lists, 0 removed" in again), again[-3000:]
    assert "hess_dr: 3 run(s) published in all" in again
    tap = pyvo.dal.TAPService(service.tap_url)
    report = tap.run_sync("SELECT r.files_read, r.published, r.skipped, r.runs_published,"
                          " f.file, f.collection, f.kind, f.reason"
                          " FROM hess_dr.import_runs AS r"
                          " JOIN hess_dr.import_files AS f ON r.import_id = f.import_id"
                          " ORDER BY r.started").to_table()
    assert [(r["files_read"], r["published"], r["skipped"], r["runs_published"])
            for r in report] == [(4, 3, 1, 3), (1, 0, 1, 3)]
    for row in report:
        assert (row["file"], row["collection"], row["kind"]) == (
            "msh/broken.fits", "msh", "skipped")
        assert "not a readable FITS file" in row["reason"]
        assert str(data) not in row["reason"]
    page = fetch(f"{service.url}/hess_dr/q/imports/form?__nevow_form__=genForm").decode()
    assert "msh/broken.fits" in page and "not a readable FITS file" in page
