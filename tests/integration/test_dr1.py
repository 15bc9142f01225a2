"""The full H.E.S.S. DL3 DR1 through a live private DaCHS server, via pyvo.

Expected values are recomputed here from the FITS files with astropy, not
taken from the service's own code; the totals are those of SUMMARY.md.
"""
from __future__ import annotations

import glob
import os

import pytest
import pyvo
from astropy import constants as const
from astropy import units as u
from astropy.io import fits
from astropy.time import Time, TimeDelta

from hess_dr import config

# h c from CODATA via astropy (never the service's own constant): lambda = hc / E.
HC_EV_M = (const.h * const.c).to_value(u.eV * u.m)


@pytest.fixture(scope="module")
def tap(dr1_service):
    return pyvo.dal.TAPService(dr1_service.tap_url)


@pytest.fixture(scope="module")
def expected(dr1_service):
    """Per OBS_ID, what astropy reads from each event list's EVENTS HDU."""
    data_dir = config.load(dr1_service.config_path).collections[0].data_dir
    result = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "data", "*.fits.gz"))):
        with fits.open(path) as hdus:
            header = hdus["EVENTS"].header
            energy = (hdus["EVENTS"].data["ENERGY"].astype(float)
                      * u.Unit(hdus["EVENTS"].columns["ENERGY"].unit)).to_value(u.eV)
            epoch = Time(header["MJDREFI"], header["MJDREFF"], format="mjd",
                         scale=header["TIMESYS"].lower())
            result[str(header["OBS_ID"])] = {
                "t_min": (epoch + TimeDelta(header["TSTART"], format="sec")).utc.mjd,
                "t_max": (epoch + TimeDelta(header["TSTOP"], format="sec")).utc.mjd,
                "energy_min": energy.min(), "energy_max": energy.max(),
                "ra": header["RA_PNT"], "dec": header["DEC_PNT"],
                "events": len(energy), "livetime": header["LIVETIME"],
            }
    assert len(result) == 105
    return result


def _by_obs_id(table):
    return {str(row["obs_id"]): row for row in table}


def test_obscore_has_every_run_with_release_totals(tap):
    result = tap.run_sync(
        "SELECT COUNT(*) AS n, SUM(h.ev_xel) AS events, SUM(o.t_exptime) AS live,"
        " MIN(h.energy_min) AS emin, MAX(h.energy_max) AS emax"
        " FROM ivoa.obscore AS o JOIN ivoa.obscore_hea AS h"
        " ON o.obs_publisher_did = h.obs_publisher_did"
        " WHERE o.obs_collection = 'HESS-DL3-DR1' AND o.dataproduct_type = 'event'"
    ).to_table()[0]
    assert result["n"] == 105
    assert result["events"] == 1_046_156
    assert abs(result["live"] - 161_237) <= 1
    # SUMMARY.md: 0.150399 - 229.856 TeV over all files
    assert result["emin"] == pytest.approx(0.150399e12, rel=1e-5)
    assert result["emax"] == pytest.approx(229.856e12, rel=1e-5)


def test_times_positions_energies_match_astropy(tap, expected):
    rows = _by_obs_id(tap.run_sync(
        "SELECT o.obs_id, o.t_min, o.t_max, o.s_ra, o.s_dec, o.em_min, o.em_max,"
        " o.t_exptime, h.energy_min, h.energy_max, h.ev_xel"
        " FROM ivoa.obscore AS o JOIN ivoa.obscore_hea AS h"
        " ON o.obs_publisher_did = h.obs_publisher_did"
        " WHERE o.obs_collection = 'HESS-DL3-DR1'", maxrec=1000).to_table())
    assert set(rows) == set(expected)
    for obs_id, want in expected.items():
        row = rows[obs_id]
        # 1e-8 d is 1 ms: far below any run's length, far above float noise
        assert row["t_min"] == pytest.approx(want["t_min"], abs=1e-8), obs_id
        assert row["t_max"] == pytest.approx(want["t_max"], abs=1e-8), obs_id
        assert row["s_ra"] == pytest.approx(want["ra"], abs=1e-9), obs_id
        assert row["s_dec"] == pytest.approx(want["dec"], abs=1e-9), obs_id
        assert row["energy_min"] == pytest.approx(want["energy_min"], rel=1e-12), obs_id
        assert row["energy_max"] == pytest.approx(want["energy_max"], rel=1e-12), obs_id
        assert row["ev_xel"] == want["events"]
        assert row["t_exptime"] == pytest.approx(want["livetime"], rel=1e-12)
        # ivoa.obscore stores wavelengths as float4 (relative precision 6e-8);
        # abs=0: they are ~1e-20 m, far below approx's default abs of 1e-12
        assert row["em_min"] == pytest.approx(HC_EV_M / want["energy_max"], rel=1e-6, abs=0)
        assert row["em_max"] == pytest.approx(HC_EV_M / want["energy_min"], rel=1e-6, abs=0)


def test_obs_index_uses_gadf_index_for_missing_columns(tap):
    """ZEN_PNT, QUALITY and TARGET_NAME are not in the event headers, only
    in obs-index.fits.gz."""
    table = tap.run_sync(
        "SELECT obs_id, zen_pnt, alt_pnt, quality, target_name, object"
        " FROM hess_dr.obs_index WHERE obs_id IN ('23523', '20136')").to_table()
    rows = _by_obs_id(table)
    assert rows["23523"]["target_name"] == "Crab"
    assert rows["23523"]["object"] == "Crab Nebula"
    assert rows["20136"]["target_name"] == "MSH 15-52"
    assert rows["23523"]["quality"] == 0
    assert rows["23523"]["zen_pnt"] == pytest.approx(90 - rows["23523"]["alt_pnt"], abs=1e-3)


def test_crab_runs_by_cone_and_target(tap):
    cone = tap.run_sync(
        "SELECT obs_id FROM ivoa.obscore WHERE obs_collection = 'HESS-DL3-DR1'"
        " AND 1 = CONTAINS(POINT('ICRS', 83.633, 22.0145), s_region)").to_table()
    assert sorted(cone["obs_id"]) == ["23523", "23526", "23559", "23592"]
    by_target = tap.run_sync(
        "SELECT obs_id FROM hess_dr.obs_index WHERE target_name = 'Crab'").to_table()
    assert sorted(by_target["obs_id"]) == ["23523", "23526", "23559", "23592"]


def test_gti_table_covers_each_run(tap, expected):
    totals = tap.run_sync(
        "SELECT COUNT(*) AS n, SUM(duration) AS ontime FROM hess_dr.gti").to_table()[0]
    assert totals["n"] == 105  # one GTI per DR1 run
    assert totals["ontime"] == pytest.approx(174_801)
    instant = (expected["33790"]["t_min"] + expected["33790"]["t_max"]) / 2
    covering = tap.run_sync(
        f"SELECT g.obs_id, o.target_name FROM hess_dr.gti AS g"
        f" JOIN ivoa.obscore AS o ON g.obs_publisher_did = o.obs_publisher_did"
        f" WHERE g.t_start <= {instant!r} AND g.t_stop >= {instant!r}").to_table()
    assert list(covering["obs_id"]) == ["33790"]
    # ivoa.obscore's target_name is the curated one of the obs-index
    # (TARGET_NAME), not the OBJECT keyword "PKS 2155-304"
    assert covering["target_name"][0] == "PKS 2155-304 (flare)"


def test_index_files_are_not_sources(dr1_service):
    """obs-index and hdu-index feed metadata (see above) but are not read as
    event lists, so they are neither imported nor reported as bad."""
    output = dr1_service.import_output
    assert "index.fits.gz" not in output
    # no file reported as skipped, and the import's summary counts none
    assert "hess_dr: skipped" not in output and "not an event list, skipped" not in output
    assert "105 published, 0 skipped, 0 not event lists, 0 removed" in output


def test_regression_suite_passes_on_dr1(dr1_service):
    result = dr1_service.instance.run_dachs("test", "hess_dr/q", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 of 10 bad" in result.stdout + result.stderr
