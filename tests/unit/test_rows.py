"""hess_dr.rows: T-MOC strings, field-of-view polygons, accrefs and rows."""
from __future__ import annotations

import datetime
import types
from fractions import Fraction

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.coordinates.angle_utilities import offset_by
from astropy.time import Time

from hess_dr_dev import synthetic as synth
from hess_dr import access
from unit_support import make_collection
from hess_dr import dl3, rows

JD0_TDB = Time(0.0, format="jd", scale="tdb")


def microseconds_since_jd0(time: Time) -> int:
    """Independent T-MOC time axis: exact rational arithmetic on the TDB offset
    from JD 0, rounded to the nearest microsecond."""
    delta = time.tdb - JD0_TDB
    days = Fraction(float(delta.jd1)) + Fraction(float(delta.jd2))
    return round(days * 86_400_000_000)


# --------------------------------------------------------------------------
# tmoc_ascii
# --------------------------------------------------------------------------

def test_tmoc_of_a_known_interval():
    start = Time(["2004-12-04T22:07:06"], scale="utc")
    stop = start + 1687 * u.s
    first = microseconds_since_jd0(start[0])
    last = microseconds_since_jd0(stop[0]) - 1
    assert rows.tmoc_ascii(start, stop) == f"t61/{first}-{last}"
    # the same value the DR1 run 23523 gets (2004-12-04, ~2.12e17 us after JD 0)
    assert f"t61/{first}-{last}" == "t61/211968958090183208-211968959777183207"
    assert last - first + 1 == 1_687_000_000


def test_tmoc_cell_origin_is_jd0_tdb():
    """One second starting exactly at JD 1 (TDB) is cells 86400e6 .. 86401e6 - 1."""
    start = Time([1.0], format="jd", scale="tdb")
    assert rows.tmoc_ascii(start, start + 1 * u.s) == "t61/86400000000-86400999999"


def test_tmoc_prefix_and_single_cell():
    start = Time(["2010-01-01T00:00:00"], scale="tdb")
    us = microseconds_since_jd0(start[0])
    moc = rows.tmoc_ascii(start, start + 1 * u.us)
    assert moc.startswith("t61/")
    assert moc == f"t61/{us}"  # one cell: no range


@pytest.mark.parametrize("offsets, expected_ranges", [
    pytest.param([(0, 10), (10, 20)], [(0, 20)], id="touching"),
    pytest.param([(0, 10), (5, 20)], [(0, 20)], id="overlapping"),
    pytest.param([(0, 10), (2, 3)], [(0, 10)], id="contained"),
    pytest.param([(0, 10), (11, 20)], [(0, 10), (11, 20)], id="1-s-gap"),
    pytest.param([(30, 40), (0, 10), (10, 20)], [(0, 20), (30, 40)], id="unsorted"),
    pytest.param([(0, 10), (5, 5)], [(0, 10)], id="empty-interval-dropped"),
])
def test_tmoc_merges_touching_intervals(offsets, expected_ranges):
    base = Time("2005-06-01T12:00:00", scale="utc")
    start = base + np.array([a for a, _ in offsets]) * u.s
    stop = base + np.array([b for _, b in offsets]) * u.s
    origin = microseconds_since_jd0(base)
    moc = rows.tmoc_ascii(start, stop)
    assert moc.startswith("t61/")
    got = [tuple(int(x) for x in part.split("-")) for part in moc[4:].split(" ")]
    expected = [(microseconds_since_jd0(base + a * u.s), microseconds_since_jd0(base + b * u.s) - 1)
                for a, b in expected_ranges]
    assert got == expected
    assert got[0][0] == origin + expected_ranges[0][0] * 1_000_000


def test_tmoc_lower_order_cells():
    """At order 40 a cell is 2**21 us (~2.1 s); touched cells are all in."""
    start = Time(["2004-12-04T22:07:06"], scale="utc")
    stop = start + 1687 * u.s
    first = microseconds_since_jd0(start[0]) >> 21
    last = (microseconds_since_jd0(stop[0]) - 1) >> 21
    assert rows.tmoc_ascii(start, stop, order=40) == f"t40/{first}-{last}"
    assert last - first in (804, 805)  # 1687 s / 2.097 s


# --------------------------------------------------------------------------
# fov_polygon, product_accref, small helpers
# --------------------------------------------------------------------------

@pytest.mark.parametrize("ra, dec, diameter", [
    (83.633333333333, 21.514444444444, 5.0), (228.6125, -58.771666666667, 5.0),
    (0.5, 10.0, 4.0), (359.8, -5.0, 3.0), (120.0, 88.0, 5.0), (10.0, -89.5, 2.0),
])
def test_fov_polygon_vertices_on_the_circle(ra, dec, diameter):
    vertices = np.array(rows.fov_polygon(ra, dec, diameter))
    assert vertices.shape == (rows.FOV_POLYGON_VERTICES, 2)
    assert np.all((vertices[:, 0] >= 0) & (vertices[:, 0] < 360))
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    points = SkyCoord(vertices[:, 0] * u.deg, vertices[:, 1] * u.deg)
    np.testing.assert_allclose(centre.separation(points).deg, diameter / 2, atol=1e-6)
    # counter-clockwise on the sky: position angles (east of north) increase
    angles = centre.position_angle(points).deg
    np.testing.assert_allclose(angles, np.arange(0, 360, 360 / rows.FOV_POLYGON_VERTICES),
                               atol=1e-6)


@pytest.mark.parametrize("ra, dec, distance", [
    (83.6, 21.5, 2.5), (0.0, -30.0, 1.0), (359.999, 0.0, 3.0), (180.0, 89.9, 5.0),
    (12.0, 90.0, 2.0), (250.0, -90.0, 2.0), (45.0, 10.0, 120.0),
])
def test_offset_by_is_astropys(ra, dec, distance):
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    lon, lat = rows._offset_by(np.radians(ra), np.radians(dec), angles, np.radians(distance))
    expected_lon, expected_lat = offset_by(np.radians(ra), np.radians(dec), angles,
                                           np.radians(distance))
    assert np.all((lon >= 0) & (lon < 2 * np.pi))
    np.testing.assert_allclose(lat, expected_lat.to_value(u.rad), rtol=0, atol=1e-12)
    # compared on the circle: 0 and 2 pi are the same longitude
    np.testing.assert_allclose(np.exp(1j * lon), np.exp(1j * expected_lon.to_value(u.rad)),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("relative", ["run.fits.gz", "sub/dir/run.fits"])
def test_product_accref(tmp_path, collection, relative):
    path = synth.write_event_list(tmp_path / relative)
    run = dl3.read_run(path, collection)
    assert rows.product_accref(run, collection) == f"hess_dr/synthetic/{relative}"
    assert rows.product_accref(run, collection, prefix="p") == f"p/synthetic/{relative}"


@pytest.mark.parametrize("depth, mode", [(None, None), (0.0, "parallel"), (10.0, "convergent"),
                                         (-3.0, "divergent")])
def test_pointing_mode(depth, mode):
    assert rows.pointing_mode(depth) == mode


def test_mjd_is_utc():
    time = Time("2006-01-01T00:00:00", scale="utc")
    assert rows.mjd(time.tt) == pytest.approx(53736.0, abs=1e-11)
    assert rows.mjd(time.tai) == pytest.approx(53736.0, abs=1e-11)


# --------------------------------------------------------------------------
# obs_row and gti_rows on synthetic runs
# --------------------------------------------------------------------------

def test_obs_row_without_pointing(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "r.fits", header_overrides={"RA_PNT": None})
    row = rows.obs_row(dl3.read_run(path, collection), collection, "a")
    assert row["ra_pnt"] is None and row["dec_pnt"] == pytest.approx(21.514444444444)
    assert row["s_fov"] is None and row["s_region_vertices"] is None
    assert row["glon_pnt"] is None


def test_obs_row_without_fov(tmp_path):
    coll = make_collection(tmp_path, fov_diameter_deg=None)
    path = synth.write_event_list(tmp_path / "r.fits")
    row = rows.obs_row(dl3.read_run(path, coll), coll, "a")
    assert row["s_fov"] is None and row["s_region_vertices"] is None


def test_obs_row_derives_galactic_pointing(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "r.fits", ra_pnt=266.416837, dec_pnt=-29.007810)
    row = rows.obs_row(dl3.read_run(path, collection), collection, "a")
    # Sgr A*: l = 359.944, b = -0.046
    assert row["glon_pnt"] == pytest.approx(359.944, abs=1e-3)
    assert row["glat_pnt"] == pytest.approx(-0.046, abs=1e-3)


def test_obs_row_title_and_collection_values(tmp_path):
    coll = make_collection(tmp_path, owner="hess", release=datetime.date(2030, 1, 1),
                           facility_name=None)
    path = synth.write_event_list(tmp_path / "r.fits", obs_id="ABC-1", object_name="Vela X")
    row = rows.obs_row(dl3.read_run(path, coll), coll, "acc/ref")
    assert row["obs_title"] == "Synthetic DL3 run ABC-1 (Vela X)"
    assert row["facility_name"] == "HESS"  # from TELESCOP when not configured
    # DaCHS's products embargo is the last proprietary day
    assert (row["accref"], row["owner"], str(row["embargo"])) == ("acc/ref", "hess", "2029-12-31")
    assert row["obs_release_date"] == datetime.datetime(2030, 1, 1)
    assert row["obs_id"] == "ABC-1"


def test_gti_rows_of_several_intervals(tmp_path, collection):
    t0 = 123890826.0
    gti = [(t0 + 600, t0 + 900), (t0, t0 + 500)]  # unsorted in the file
    path = synth.write_event_list(tmp_path / "r.fits", obs_id=5, gti=gti)
    run = dl3.read_run(path, collection)
    got = rows.gti_rows(run)
    assert [(r["met_start"], r["met_stop"], r["duration"]) for r in got] == [
        (t0, t0 + 500, 500.0), (t0 + 600, t0 + 900, 300.0)]
    assert {(r["obs_id"], r["collection"]) for r in got} == {("5", "synthetic")}
    epoch_utc = Time("2004-12-04T22:07:06", scale="utc")
    assert got[1]["t_start"] == pytest.approx((epoch_utc + 600 * u.s).mjd, abs=1e-9)
    assert got[1]["t_stop"] == pytest.approx((epoch_utc + 900 * u.s).mjd, abs=1e-9)
    moc = rows.obs_row(run, collection, "a")["t_intervals"]
    assert len(moc[4:].split(" ")) == 2


def test_rights_changes_are_the_runs_whose_rule_changed(tmp_path):
    """Stored runs get the configuration's current owner and release (an
    incremental import does not read their files again)."""
    coll = make_collection(tmp_path, owner="hessteam", release=access.Period(1, "year"),
                           runs={"2": access.RunRights(release=datetime.date(2100, 1, 1))})
    config = types.SimpleNamespace(collections=(coll,))
    t_min = 53343.9  # 2004-12-04
    current = rows.rights_columns(coll, "1", t_min)
    assert current == {"owner": "hessteam", "embargo": datetime.date(2005, 12, 3),
                       "obs_release_date": datetime.datetime(2005, 12, 4)}
    stored = [{"accref": "a1", "collection": coll.name, "obs_id": "1", "t_min": t_min,
               **current},
              {"accref": "a2", "collection": coll.name, "obs_id": "2", "t_min": t_min,
               **current},
              {"accref": "gone", "collection": "removed", "obs_id": "3", "t_min": t_min,
               "owner": None, "embargo": None, "obs_release_date": None}]
    assert rows.rights_changes(stored, config) == [
        {"accref": "a2", "owner": "hessteam", "embargo": datetime.date(2099, 12, 31),
         "obs_release_date": datetime.datetime(2100, 1, 1)}]
