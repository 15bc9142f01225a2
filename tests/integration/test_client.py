"""hess_dr.client against the full DR1 on a live private DaCHS: TAP query ->
DataLink downloads -> GADF index files -> a real Gammapy 1D spectral analysis
of the Crab nebula.

Expected values are computed here with plain astropy from the original files
of the release, never from hess_dr's own code.
"""
from __future__ import annotations

import hashlib
import io
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import pyvo
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from hess_dr import client, config

# astropy 5.2's bundled leap-second table is past its expiry date; no leap
# second was added since 2016.
pytestmark = pytest.mark.filterwarnings("ignore::astropy.utils.iers.IERSStaleWarning")

CRAB_RUNS = ("23523", "23526", "23559", "23592")
CRAB = SkyCoord(83.633, 22.0145, unit="deg")
ON_RADIUS = 0.11 * u.deg
# reconstructed energy axis of the analysis (TeV)
E_RECO = (0.5, 40.0, 16)
IRF_EXTNAMES = {"aeff": "AEFF", "edisp": "EDISP", "psf": "PSF", "bkg": "BKG"}


def crab_query(runs=CRAB_RUNS, columns="obs_publisher_did, obs_id") -> str:
    ids = ", ".join(f"'{run}'" for run in runs)
    return (f"SELECT {columns} FROM ivoa.obscore"
            f" WHERE obs_collection = 'HESS-DL3-DR1' AND dataproduct_type = 'event'"
            f" AND obs_id IN ({ids}) ORDER BY obs_id")


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def originals(dr1_service) -> dict:
    """OBS_ID -> path of the released file (what the service publishes)."""
    data_dir = Path(config.load(dr1_service.config_path).collections[0].data_dir)
    paths = {run: data_dir / "data" / f"hess_dl3_dr1_obs_id_{int(run):06d}.fits.gz"
             for run in CRAB_RUNS}
    assert all(p.exists() for p in paths.values())
    return paths


@pytest.fixture(scope="module")
def tap(dr1_service):
    return pyvo.dal.TAPService(dr1_service.tap_url)


@pytest.fixture(scope="module")
def crab(tap, tmp_path_factory):
    """The four Crab runs: TAP results, downloads and the DataStore."""
    dest = tmp_path_factory.mktemp("crab_dl3")
    results = tap.run_sync(crab_query())
    assert len(results) == 4
    downloads = client.download_datasets(results, dest)
    store = client.build_datastore(downloads, dest)
    return {"results": results, "downloads": downloads, "store": store, "dest": dest}


def _calibration_links(results) -> dict:
    """obs_id -> sorted content qualifiers of the #calibration links the live
    DataLink offers."""
    offered = {}
    for row in results:
        links = row.getdatalink()
        offered[str(row["obs_id"])] = sorted(
            str(link["content_qualifier"]) for link in links
            if str(link["semantics"]).endswith("#calibration") and link["access_url"])
    return offered


def test_downloads_are_the_published_files(crab, originals, dr1_service):
    downloads = crab["downloads"]
    assert [d["obs_id"] for d in downloads] == list(CRAB_RUNS)
    # every DR1 file holds its four IRFs, and DataLink links each #calibration
    # to the event list file that holds it
    assert _calibration_links(crab["results"]) == {
        run: ["aeff", "bkgrate", "edisp", "psf"] for run in CRAB_RUNS}
    for row in crab["results"]:
        links = row.getdatalink()
        (this,) = [str(link["access_url"]) for link in links
                   if str(link["semantics"]) == "#this"]
        assert {str(link["access_url"]) for link in links
                if str(link["semantics"]) == "#calibration"} == {this}
    for run in downloads:
        # the #this file is the released file, byte for byte, and the only
        # download of the run: its IRFs are in it
        assert sha256(run["event_list"]) == sha256(originals[run["obs_id"]])
        assert run["event_list"].name.startswith(f"obs_{run['obs_id']}_events.fits")
        assert run["calibration"] == {}
        assert "IRFs from the event list file: aeff, edisp, psf, bkg" in run["notes"]
    assert sorted(p.name for p in (crab["dest"] / "data").iterdir()) == sorted(
        run["event_list"].name for run in downloads)
    # the single-IRF files stay available from the products service, equal
    # to the released HDUs
    did = str(crab["results"][0]["obs_publisher_did"])
    with fits.open(originals[CRAB_RUNS[0]]) as released:
        for hdu_type, extname in IRF_EXTNAMES.items():
            url = (f"{dr1_service.url}/hess_dr/q/prod/dlget?"
                   + urllib.parse.urlencode({"ID": did, "PRODUCT": hdu_type}))
            with urllib.request.urlopen(url, timeout=120) as response, \
                    fits.open(io.BytesIO(response.read())) as single:
                assert [hdu.name for hdu in single][1:] == [extname]
                for column in released[extname].columns.names:
                    np.testing.assert_array_equal(single[1].data[column],
                                                  released[extname].data[column])
    # the terms of use travel with the copy: one file (the four runs share
    # them), the collection's configured text
    (path,) = {run["terms_of_use"] for run in downloads}
    assert path == crab["dest"] / "terms-of-use.txt"
    rights = config.load(dr1_service.config_path).collections[0].rights
    assert path.read_text() == rights
    assert "These terms of use must be included in all copies" in rights


def test_index_files_match_the_event_headers(crab, originals):
    dest = crab["dest"]
    obs_index = Table.read(dest / "obs-index.fits.gz", hdu="OBS_INDEX")
    hdu_index = Table.read(dest / "hdu-index.fits.gz", hdu="HDU_INDEX")
    assert list(obs_index["OBS_ID"]) == [int(r) for r in CRAB_RUNS]
    for row in obs_index:
        with fits.open(originals[str(row["OBS_ID"])]) as hdus:
            header = hdus["EVENTS"].header
        for key in ("RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT", "ONTIME", "LIVETIME",
                    "DEADC", "TSTART", "TSTOP"):
            assert row[key] == pytest.approx(header[key], rel=1e-12), key
        assert row["ZEN_PNT"] == pytest.approx(90 - header["ALT_PNT"])
        assert row["OBJECT"] == header["OBJECT"]
    meta = obs_index.meta
    assert (meta["MJDREFI"], meta["MJDREFF"], meta["TIMESYS"]) == (
        header["MJDREFI"], header["MJDREFF"], header["TIMESYS"])
    assert obs_index["RA_PNT"].unit == u.deg and obs_index["LIVETIME"].unit == u.s
    # six HDUs per run, the classes Gammapy needs
    assert len(hdu_index) == 6 * len(CRAB_RUNS)
    classes = {(str(r["HDU_TYPE"]).strip(), str(r["HDU_CLASS"]).strip()) for r in hdu_index}
    assert classes == {("events", "events"), ("gti", "gti"), ("aeff", "aeff_2d"),
                       ("edisp", "edisp_2d"), ("psf", "psf_table"), ("bkg", "bkg_3d")}
    for row in hdu_index:
        path = dest / str(row["FILE_DIR"]).strip() / str(row["FILE_NAME"]).strip()
        with fits.open(path) as hdus:
            assert str(row["HDU_NAME"]).strip() in hdus


def independent_on_counts(originals, e_min, e_max) -> int:
    """Events within ON_RADIUS of the Crab and e_min <= E < e_max (TeV), from
    the released files with astropy only."""
    total = 0
    for path in originals.values():
        with fits.open(path) as hdus:
            events = hdus["EVENTS"].data
            assert hdus["EVENTS"].columns["ENERGY"].unit == "TeV"
            offset = CRAB.separation(SkyCoord(events["RA"], events["DEC"], unit="deg"))
            energy = events["ENERGY"]
            total += int(np.sum((offset < ON_RADIUS) & (energy >= e_min) & (energy < e_max)))
    return total


def test_crab_spectrum_with_gammapy(crab, originals):
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (ReflectedRegionsBackgroundMaker, SafeMaskMaker,
                                SpectrumDatasetMaker)
    from gammapy.maps import MapAxis, RegionGeom
    from gammapy.modeling import Fit
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel
    from regions import CircleSkyRegion

    observations = crab["store"].get_observations()  # full-enclosure IRFs required
    assert [str(o.obs_id) for o in observations] == list(CRAB_RUNS)

    on_region = CircleSkyRegion(CRAB, ON_RADIUS)
    energy = MapAxis.from_energy_bounds(E_RECO[0], E_RECO[1], E_RECO[2], unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(RegionGeom.create(on_region, axes=[energy]),
                                   energy_axis_true=energy_true)
    maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"])
    background_maker = ReflectedRegionsBackgroundMaker()
    safe_maker = SafeMaskMaker(methods=["aeff-default"])

    datasets = Datasets()
    raw_on, safe_on, expected_safe_on = 0, 0, 0
    for obs in observations:
        dataset = maker.run(empty.copy(name=str(obs.obs_id)), obs)
        raw_on += int(dataset.counts.data.sum())
        dataset = background_maker.run(dataset, obs)
        assert dataset.counts_off.data.sum() > 0  # reflected regions found
        dataset = safe_maker.run(dataset, obs)
        mask = dataset.mask_safe.data.ravel()
        assert mask.any()
        safe_on += int(dataset.counts.data.ravel()[mask].sum())
        # the safe range is contiguous: count the same energies independently
        edges = energy.edges.to_value("TeV")
        first, last = np.nonzero(mask)[0][[0, -1]]
        expected_safe_on += independent_on_counts(
            {obs.obs_id: originals[str(obs.obs_id)]}, edges[first], edges[last + 1])
        datasets.append(dataset)

    # ON counts over the whole reconstructed-energy axis, without the safe
    # mask, equal an astropy count over the original files
    assert raw_on == independent_on_counts(originals, E_RECO[0], E_RECO[1])
    stacked = datasets.stack_reduce()
    info = stacked.info_dict()
    # ... and within the safe ranges, run by run
    assert info["counts"] == safe_on == expected_safe_on
    assert info["excess"] > 100
    assert info["sqrt_ts"] > 10

    stacked.models = SkyModel(
        spectral_model=PowerLawSpectralModel(index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1",
                                             reference="1 TeV"), name="crab")
    result = Fit().run([stacked])
    assert result.success
    index = stacked.models["crab"].spectral_model.index.value
    assert 2.3 < index < 2.9
    flux = stacked.models["crab"].spectral_model(1 * u.TeV).to_value("cm-2 s-1 TeV-1")
    assert 1e-11 < flux < 1e-10  # the Crab at 1 TeV: ~3.5e-11


def test_one_call_without_calibration_files(dr1_service, crab, tmp_path):
    """datastore_from_tap with calibration=False indexes the IRFs that the
    event lists carry; they are the same IRFs as the #calibration files."""
    store = client.datastore_from_tap(dr1_service.tap_url, crab_query(CRAB_RUNS[:2]),
                                      tmp_path, calibration=False)
    assert list(store.obs_table["OBS_ID"]) == [int(r) for r in CRAB_RUNS[:2]]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        f"obs_{run}_events.fits.gz" for run in CRAB_RUNS[:2]]
    for row in store.hdu_table:
        assert str(row["FILE_NAME"]).strip().endswith("_events.fits.gz")
    ours = store.obs(int(CRAB_RUNS[0]))
    theirs = crab["store"].obs(int(CRAB_RUNS[0]))
    energy = [0.5, 1, 10] * u.TeV
    offset = 0.5 * u.deg
    np.testing.assert_allclose(ours.aeff.evaluate(energy_true=energy, offset=offset),
                               theirs.aeff.evaluate(energy_true=energy, offset=offset))
    assert len(ours.events.table) == len(theirs.events.table)


def test_table_input_without_content_qualifier(dr1_service, crab, tmp_path, monkeypatch):
    """A plain table with only obs_publisher_did, the dlmeta URL given, and a
    DataLink response without content_qualifier or descriptions (DataLink
    1.0 services): OBS_ID comes from the file, IRF types from the files."""
    from pyvo.dal.adhoc import DATALINK_IVOID

    results = crab["results"]
    descriptor = results.get_adhocservice_by_ivoid(DATALINK_IVOID)
    dlmeta = next(p.value for p in descriptor.params if p.name == "accessURL")
    dlmeta = dlmeta.decode() if isinstance(dlmeta, bytes) else str(dlmeta)
    table = Table({"obs_publisher_did": [str(results[0]["obs_publisher_did"])]})

    real = client._datalink_for_row

    def stripped(*args, **kwargs):
        links = real(*args, **kwargs)
        keep = [f for f in links.fieldnames if f not in ("content_qualifier", "description")]
        return [{name: row[name] for name in keep} for row in links]

    monkeypatch.setattr(client, "_datalink_for_row", stripped)
    (run,) = client.download_datasets(table, tmp_path, datalink_url=dlmeta)
    assert run["obs_id"] == CRAB_RUNS[0]
    assert run["event_list"].name.startswith(f"obs_{CRAB_RUNS[0]}_events")
    expected = crab["downloads"][0]["calibration"]
    assert sorted(run["calibration"]) == sorted(expected)
    for hdu_type, path in run["calibration"].items():
        assert path.name.startswith(f"obs_{CRAB_RUNS[0]}_{hdu_type}.")
        with fits.open(path) as got, fits.open(expected[hdu_type]) as want:
            assert got[1].name == want[1].name == IRF_EXTNAMES[hdu_type]
            for column in want[1].columns.names:
                np.testing.assert_array_equal(got[1].data[column], want[1].data[column])
    store = client.build_datastore([run], tmp_path)
    assert store.obs(int(CRAB_RUNS[0])).psf is not None


def _filtered_datalink(monkeypatch, keep):
    """Make the client see only the DataLink rows for which keep(row) holds."""
    real = client._datalink_for_row

    def filtered(*args, **kwargs):
        links = real(*args, **kwargs)
        return [{name: row[name] for name in links.fieldnames}
                for row in links if keep(row)]

    monkeypatch.setattr(client, "_datalink_for_row", filtered)


def test_datalink_with_only_this(tap, crab, tmp_path, monkeypatch):
    """A DataLink service offering only #this: the IRFs are indexed from the
    event list file, and Gammapy reads the same IRFs."""
    _filtered_datalink(monkeypatch, lambda row: str(row["semantics"]).endswith("#this"))
    results = tap.run_sync(crab_query(CRAB_RUNS[:1]))
    (run,) = client.download_datasets(results, tmp_path)
    assert run["calibration"] == {}
    assert "IRFs from the event list file: aeff, edisp, psf, bkg" in run["notes"]
    store = client.build_datastore([run], tmp_path)
    names = {str(r["HDU_TYPE"]).strip(): str(r["FILE_NAME"]).strip() for r in store.hdu_table}
    assert set(names) == {"events", "gti", "aeff", "edisp", "psf", "bkg"}
    assert set(names.values()) == {run["event_list"].name}
    energy, offset = [1, 10] * u.TeV, 0.5 * u.deg
    np.testing.assert_allclose(
        store.obs(int(CRAB_RUNS[0])).aeff.evaluate(energy_true=energy, offset=offset),
        crab["store"].obs(int(CRAB_RUNS[0])).aeff.evaluate(energy_true=energy, offset=offset))


def test_broken_datalink_falls_back_to_access_url(tap, tmp_path, monkeypatch, originals):
    """A DataLink answering only with error rows: the row's access_url (the
    ObsCore download link) still gives the event list."""
    real = client._datalink_for_row

    def broken(*args, **kwargs):
        links = real(*args, **kwargs)
        return [{**{name: row[name] for name in links.fieldnames}, "access_url": "",
                 "error_message": "Fault: service under construction"}
                for row in links][:1]

    monkeypatch.setattr(client, "_datalink_for_row", broken)
    results = tap.run_sync(crab_query(CRAB_RUNS[:1], "obs_publisher_did, obs_id,"
                                      " access_url, access_format"))
    (run,) = client.download_datasets(results, tmp_path)
    assert sha256(run["event_list"]) == sha256(originals[CRAB_RUNS[0]])
    assert "event list taken from the row's access_url" in run["notes"]
    assert any("service under construction" in note for note in run["notes"])
    assert client.build_datastore([run], tmp_path).obs(int(CRAB_RUNS[0])).bkg is not None
    # without access_url in the query there is nothing to fall back to
    results = tap.run_sync(crab_query(CRAB_RUNS[:1]))
    with pytest.raises(client.DownloadError, match="no event list link"):
        client.download_datasets(results, tmp_path / "again")


def test_rows_without_publisher_did_are_refused(tmp_path):
    with pytest.raises(ValueError, match="obs_publisher_did"):
        client.download_datasets(Table({"obs_id": ["23523"]}), tmp_path)
