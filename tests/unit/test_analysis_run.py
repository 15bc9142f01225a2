"""The point_source analysis without DaCHS (hess_dr.analysis.run_point_source)
on the two Crab runs of the bundled sample: every result, fit.json, the
provenance against the files, the time window."""
from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import prov
import prov.model as pm
import pytest
from astropy.io import fits, votable
from astropy.time import Time, TimeDelta

from unit_support import SAMPLE_DIR

from hess_dr import analysis

RUNS = ("023523", "023526")


def _candidate(name):
    path = SAMPLE_DIR / f"hess_dl3_dr1_obs_id_{name}.fits.gz"
    with fits.open(path) as hdus:
        header = hdus["EVENTS"].header
        epoch = Time(header["MJDREFI"], header["MJDREFF"], format="mjd", scale="tt")
        start = (epoch + TimeDelta(header["TSTART"], format="sec")).utc.mjd
        stop = (epoch + TimeDelta(header["TSTOP"], format="sec")).utc.mjd
        ra, dec = header["RA_PNT"], header["DEC_PNT"]
    return analysis.Candidate(
        obs_publisher_did=f"ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/{path.name}",
        obs_id=str(int(name)), collection="hess-dl3-dr1", obs_collection="HESS-DL3-DR1",
        ra_pnt=ra, dec_pnt=dec, t_min=start, t_max=stop, analysis_mode="full-enclosure",
        irf_types="aeff edisp psf bkg", path=str(path))


def _run(tmp_path, **parameters):
    params = analysis.parse_parameters({"RA": "83.633", "DEC": "22.0145", **parameters})
    runs = analysis.select_runs([_candidate(name) for name in RUNS], params, None).runs
    info = analysis.JobInfo(job_id="t1", job_url="http://127.0.0.1:1/hess_dr/q/analysis/async/t1",
                            authority="hess-dr.example")
    log, handler = analysis.job_logger(tmp_path)
    try:
        fit = analysis.run_point_source(params, runs, tmp_path, info, log=log)
    finally:
        analysis.close_logger(handler)
    return params, runs, fit


@pytest.fixture(scope="module")
def crab(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("crab_job")
    return (tmp_path, *_run(tmp_path))


def test_every_result_file(crab):
    tmp_path, _, _, _ = crab
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(analysis.RESULTS)
    for name in ("counts-map.png", "spectrum.png", "provenance.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page = (tmp_path / "index.html").read_text()
    for name in analysis.RESULTS:
        if name != "index.html":
            assert f"href='{name}'" in page
    assert '<img src="spectrum.png"' in page and '<img src="counts-map.png"' in page
    log = (tmp_path / "analysis.log").read_text()
    assert "2 run(s) selected: 23523, 23526" in log and "done in" in log


def test_fit_json(crab):
    tmp_path, params, runs, fit = crab
    assert json.loads((tmp_path / "fit.json").read_text()) == fit
    assert fit["model"] == "pl" and fit["gammapy_model"] == "PowerLawSpectralModel"
    assert fit["amplitude_unit"] == "cm-2 s-1 TeV-1" and fit["reference_tev"] == 1.0
    assert fit["amplitude"] == fit["dnde_1tev"]  # power law: amplitude is dN/dE(1 TeV)
    assert [(p["name"], p["unit"], p["frozen"]) for p in fit["parameters"]] == [
        ("index", "", False), ("amplitude", "cm-2 s-1 TeV-1", False), ("reference", "TeV", True)]
    assert fit["parameters"][1]["value"] == fit["amplitude"]
    for key in ("index", "index_err", "amplitude", "amplitude_err"):
        assert np.isfinite(fit[key]) and fit[key] > 0
    assert fit["statistic"]["name"] == "wstat" and fit["fit"]["success"] is True
    assert fit["runs"] == [run.obs_publisher_did for run in runs]
    assert fit["obs_ids"] == ["23523", "23526"]
    for run in runs:
        with open(run.path, "rb") as handle:
            assert fit["checksums"][run.obs_publisher_did] == hashlib.sha256(
                handle.read()).hexdigest()
    assert fit["job"]["parameters"] == params.as_dict()
    stats = fit["statistics"]
    assert stats["counts_on"] > stats["excess"] > 0 and stats["counts_off"] > 0


def test_flux_points_fits_and_votable(crab):
    from gammapy.estimators import FluxPoints
    tmp_path, _, _, _ = crab
    points = FluxPoints.read(tmp_path / "flux-points.fits", sed_type="dnde")
    table = points.to_table(sed_type="dnde")
    vot = votable.parse_single_table(str(tmp_path / "flux-points.vot")).to_table()
    assert len(vot) == len(table) >= 2
    assert np.allclose(vot["e_ref"], table["e_ref"].quantity.to_value("TeV"))
    assert np.allclose(vot["dnde"], table["dnde"].quantity.to_value("cm-2 s-1 TeV-1"),
                       equal_nan=True)
    assert str(vot["dnde"].unit) == str(table["dnde"].unit)
    params = {p.name: p.value for p in votable.parse(
        str(tmp_path / "flux-points.vot")).get_first_table().params}
    assert params["RA"] == 83.633 and params["MODEL"] == "pl"
    assert params["SED_TYPE"] == "dnde"


def test_provenance_lists_exactly_the_runs_with_their_checksums(crab):
    tmp_path, _, runs, _ = crab
    document = prov.read(str(tmp_path / "provenance.json"), format="json")
    assert prov.read(str(tmp_path / "provenance.provn"), format="provn") == document
    datasets = {}
    for entity in document.get_records(pm.ProvEntity):
        attributes = {str(k): v for k, v in entity.attributes}
        if "hess:obs_publisher_did" in attributes:
            assert entity.identifier.uri == attributes["hess:obs_publisher_did"]
            datasets[entity.identifier.uri] = attributes["hess:sha256"]
    expected = {}
    for run in runs:
        with open(run.path, "rb") as handle:
            expected[run.obs_publisher_did] = hashlib.sha256(handle.read()).hexdigest()
    assert datasets == expected
    activities = {str(a.identifier) for a in document.get_records(pm.ProvActivity)}
    assert activities == {"job:job", "job:step/run-selection", "job:step/reduction/23523",
                          "job:step/reduction/23526", "job:step/stacking", "job:step/fit",
                          "job:step/flux-points", "job:step/plots"}
    results = {e.identifier.localpart.removeprefix("results/")
               for e in document.get_records(pm.ProvEntity)
               if e.identifier.localpart.startswith("results/")}
    assert results == set(analysis.RESULTS) - {"provenance.json", "provenance.provn",
                                               "provenance.png"}


def test_time_window_cuts_a_run(tmp_path):
    """TMIN in the middle of run 23523: its events and GTI are cut there
    (Gammapy's select_time), the live time scales with the good time left."""
    first = _candidate("023523")
    tmin = 53343.93
    _, runs, fit = _run(tmp_path, TMIN=str(tmin), MODEL="pl")
    assert [run.obs_id for run in runs] == ["23523", "23526"]
    with fits.open(first.path) as hdus:
        header = hdus["EVENTS"].header
        deadc = header["LIVETIME"] / header["ONTIME"]
    second = _candidate("023526")
    with fits.open(second.path) as hdus:
        livetime_second = hdus["EVENTS"].header["LIVETIME"]
    kept = (first.t_max - tmin) * 86400  # one GTI, TSTART-TSTOP
    assert fit["statistics"]["livetime_s"] == pytest.approx(kept * deadc + livetime_second,
                                                            abs=1.0)
    document = prov.read(io.StringIO((tmp_path / "provenance.json").read_text()),
                         format="json")
    (step,) = [a for a in document.get_records(pm.ProvActivity)
               if str(a.identifier) == "job:step/reduction/23523"]
    livetime = [v for k, v in step.attributes if str(k) == "hess:livetime_s"][0]
    assert livetime == pytest.approx(kept * deadc, abs=1.0)


def test_run_with_irfs_in_a_separate_file(tmp_path):
    """A run whose IRFs live in another file (named by an hdu-index) is read
    through a bundle of its events, GTIs and every IRF."""
    from hess_dr import dl3
    from hess_dr_dev import synthetic
    from unit_support import make_collection

    data = tmp_path / "data"
    events = synthetic.write_event_list(data / "events" / "run.fits.gz", obs_id=23523,
                                        n_events=200)
    synthetic.write_irf_file(data / "irf" / "irf.fits.gz", obs_id=23523)
    synthetic.write_hdu_index(data, synthetic.hdu_index_rows(
        23523, "run.fits.gz", file_dir="events", types=("events", "gti"))
        + synthetic.hdu_index_rows(23523, "irf.fits.gz", file_dir="irf",
                                   types=("aeff", "edisp", "psf", "bkg")))
    collection = make_collection(data)
    run = dl3.read_run(events, collection, resolve_psf=False)
    assert {ref.path.name for ref in run.layout.irfs} == {"irf.fits.gz"}
    candidate = analysis.Candidate(
        obs_publisher_did="ivo://x/~?run", obs_id="23523", collection=collection.name,
        layout=run.layout.to_json(events), path=str(events))
    work = tmp_path / "job"
    work.mkdir()
    observation = analysis._observation(candidate, work, {collection.name: collection})
    assert set(observation.available_irfs) >= {"aeff", "edisp", "psf"}
    assert len(observation.events.table) == 200
    assert list(work.iterdir()) == []  # the bundle is gone
    with pytest.raises(analysis.AnalysisError, match="unknown collection"):
        analysis._observation(candidate, work, {})


@pytest.mark.parametrize("model, keys", [
    ("lp", ("alpha", "alpha_err", "beta", "beta_err", "amplitude", "amplitude_err")),
    ("ecpl", ("index", "index_err", "lambda_", "lambda__err", "e_cutoff_tev",
              "e_cutoff_tev_err", "amplitude", "amplitude_err")),
])
def test_other_models(tmp_path, model, keys):
    _, _, fit = _run(tmp_path, MODEL=model, EMIN="0.5", EMAX="50")
    assert fit["model"] == model and fit["fit"]["success"] is True
    for key in keys:
        assert np.isfinite(fit[key]), key
    names = [p["name"] for p in fit["parameters"]]
    assert set(keys) - {k for k in keys if k.endswith("_err")} - {"e_cutoff_tev"} <= set(names)
    if model == "ecpl":
        assert fit["e_cutoff_tev"] == pytest.approx(1 / fit["lambda_"])
        # dN/dE(1 TeV) = amplitude * exp(-lambda * 1 TeV)
        assert fit["dnde_1tev"] == pytest.approx(fit["amplitude"] * np.exp(-fit["lambda_"]))
    else:
        assert fit["dnde_1tev"] == pytest.approx(fit["amplitude"])  # log-parabola at 1 TeV
