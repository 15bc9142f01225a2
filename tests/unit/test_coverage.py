"""hess_dr.coverage: the coverage a collection's registry record declares."""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy import units as u
from astropy.time import Time

from hess_dr import coverage
from hess_dr.rows import fov_polygon

CRAB = (83.633, 22.0145)


def test_polygon_vertices_reads_pgsphere_literals():
    radians = "{(1.4596 , 0.3744),(1.5 , 0.4),(1.45 , 0.41)}"
    vertices = coverage.polygon_vertices(radians)
    assert vertices[0] == pytest.approx((math.degrees(1.4596), math.degrees(0.3744)))
    assert len(vertices) == 3
    degrees = "{(83.6d , 21.5d),(84d , -2.5e-1d),(1e1d , .5d)}"
    assert coverage.polygon_vertices(degrees) == [(83.6, 21.5), (84.0, -0.25), (10.0, 0.5)]
    assert coverage.polygon_vertices("") == []


def test_moc_of_fields_of_view_holds_them_and_nothing_far():
    # two Crab wobble runs as published: 8-vertex polygons inscribed in the
    # 5-degree field of view around the pointings
    polygons = [fov_polygon(83.633, 21.514, 5.0), fov_polygon(83.633, 22.514, 5.0)]
    moc = coverage.moc_ascii(coverage.spatial_moc(polygons))
    assert moc.startswith(("4/", "5/", "6/"))
    assert coverage.moc_contains(moc, *CRAB)
    assert coverage.moc_contains(moc, 83.633, 24.0)        # inside the second field
    assert not coverage.moc_contains(moc, 83.633, 28.0)    # 3.5 deg beyond it
    assert not coverage.moc_contains(moc, 329.7169, -30.2256)   # PKS 2155-304
    # identical pointings are computed once, and give the same MOC
    assert coverage.moc_ascii(coverage.spatial_moc(polygons + polygons[:1])) == moc
    assert coverage.spatial_moc([]) is None
    assert coverage.spatial_moc([None, [(1.0, 2.0)]]) is None


def test_temporal_intervals_merge_nearby_runs():
    starts = [53343.92, 53343.95, 53345.96, 53600.0, 54705.8]
    stops = [53343.94, 53343.97, 53345.98, 53600.1, 54706.9]
    assert coverage.temporal_intervals(starts, stops) == [
        (53343.92, 53345.98), (53600.0, 53600.1), (54705.8, 54706.9)]
    # at most max_intervals: the gap widens
    many = coverage.temporal_intervals(np.arange(50) * 100.0, np.arange(50) * 100.0 + 1,
                                       max_intervals=20)
    assert len(many) <= 20
    assert many[0][0] == 0.0 and many[-1][1] == 4901.0
    assert coverage.temporal_intervals([], []) == []


def test_utc_to_tt_matches_astropy():
    mjd = np.array([53343.92159722222, 54706.0])
    expected = Time(mjd, format="mjd", scale="utc").tt.mjd
    assert np.array_equal(coverage.utc_to_tt(mjd), expected)
    # 2004: TT - UTC = 32.184 + 32 s
    assert (coverage.utc_to_tt(mjd)[0] - mjd[0]) * 86400 == pytest.approx(64.184, abs=1e-4)


def test_compute_uses_the_cache(tmp_path):
    runs = [{"obs_publisher_did": "ivo://x/a", "source_mtime": "2024-01-01 00:00:00",
             "t_min": 53343.92, "t_max": 53343.94, "energy_min": 2.4e11, "energy_max": 1.0e14},
            {"obs_publisher_did": "ivo://x/b", "source_mtime": "2024-01-01 00:00:00",
             "t_min": 53345.96, "t_max": 53345.98, "energy_min": 2.6e11, "energy_max": 1.3e14}]
    calls = []

    def polygons():
        calls.append(1)
        return [fov_polygon(83.633, 21.514, 5.0), None]

    cache = coverage.MocCache(tmp_path)
    first = coverage.compute("c", "C", runs, polygons, ["H.E.S.S."], ["H.E.S.S. Phase I", None],
                             cache=cache)
    second = coverage.compute("c", "C", list(reversed(runs)), polygons, cache=cache)
    assert calls == [1]
    assert first.moc == second.moc and coverage.moc_contains(first.moc, *CRAB)
    assert first.fingerprint == second.fingerprint
    assert first.n_runs == 2
    assert (first.energy_min_ev, first.energy_max_ev) == (2.4e11, 1.3e14)
    # joules (~4e-8 J): abs=0, approx's default abs of 1e-12 would be 26 ppm of it
    assert first.spectral == pytest.approx(((2.4e11 * u.eV).to_value(u.J),
                                            (1.3e14 * u.eV).to_value(u.J)), rel=1e-12, abs=0)
    assert len(first.temporal) == 1
    tt = coverage.utc_to_tt(np.array([53343.92, 53345.98]))
    assert first.temporal[0] == pytest.approx(tuple(tt), abs=1e-9)
    assert first.instruments == ["H.E.S.S. Phase I"]
    # a changed run changes the fingerprint: the MOC is computed again
    changed = [dict(runs[0], source_mtime="2025-01-01 00:00:00"), runs[1]]
    coverage.compute("c", "C", changed, polygons, cache=cache)
    assert calls == [1, 1]


def test_rows_round_trip():
    cov = coverage.Coverage("c", "C", 3, "6/1 2", 6, [(53000.0, 53001.5), (53100.25, 53100.5)],
                            1e11, 1e14, ["F"], ["I1", "I2"], "abc")
    row = cov.row()
    assert row["t_intervals"] == "53000 53001.5, 53100.25 53100.5"
    assert (row["t_min"], row["t_max"]) == (53000.0, 53100.5)
    back = coverage.Coverage.from_row(row)
    assert back == cov
