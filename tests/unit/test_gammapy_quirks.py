"""What Gammapy reads, hess_dr publishes (issue #14, item 4).

Each quirk of real DL3 files (written by :data:`hess_dr_dev.synthetic.QUIRKS`)
is tried on Gammapy 1.3 and on hess_dr's import of one file
(:func:`hess_dr.ingest.ingest`, the reader and the rows):

* **Gammapy reads it** when ``EventList.read`` succeeds and its events have
  times (``events.time``) and energies (``events.energy``, convertible to
  TeV): what every Gammapy analysis needs.  ``Observation.read`` is stricter
  in odd ways (it needs a GTI HDU, DEADC, GEOLON/GEOLAT, MJDREFI/MJDREFF in
  the GTI header...); whether it reads the file is asserted too, as a record.
  Such a file is published, with a problem note where the file is odd, and
  the published values are checked against the file and, where both have
  them, against Gammapy's (event count, energy range, times, GTIs).
* **Gammapy refuses it too**: the import skips it with a message naming the
  file and the problem.
* A few files hess_dr publishes although Gammapy cannot use them (EXTNAME
  other than EVENTS, MJDREF only, lower-case column names, ENERGY unit only
  in EUNIT), and one it refuses although Gammapy reads it (no time at all).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.time import Time

from hess_dr_dev import synthetic as synth
from unit_support import make_collection

from hess_dr import ingest
from hess_dr.config import Config

T0, T1 = 123890826.0, 123892513.0  # DR1 run 23523's TSTART, TSTOP (the quirk files')
DEADC = 0.937603298574686
ENERGY_MIN_EV, ENERGY_MAX_EV = 0.5e12, 30e12
EPOCH_TT = Time(synth.DR1_MJDREFI, synth.DR1_MJDREFF, format="mjd", scale="tt")


def utc_mjd(met, epoch=EPOCH_TT) -> float:
    """MJD (UTC) of a MET value, with astropy alone."""
    return float((epoch + met * u.s).utc.mjd)


def _gti_rows(*pairs):
    return [(start, stop) for start, stop in pairs]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

class Gammapy:
    """What Gammapy 1.3 makes of a file."""

    def __init__(self, path, irf_file=None):
        from gammapy.data import EventList, Observation
        self.events = self.error = self.observation = self.observation_error = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                events = EventList.read(path)
                self.times = events.time
                energy = events.energy
                self.energies_tev = energy.to_value(u.TeV)
                self.energy_unit = energy.unit
                self.events = events
            except Exception as exc:  # anything Gammapy raises
                self.error = f"{type(exc).__name__}: {exc}"
            try:
                self.observation = Observation.read(path, irf_file=irf_file)
            except Exception as exc:
                self.observation_error = f"{type(exc).__name__}: {exc}"

    @property
    def reads(self) -> bool:
        return self.events is not None


def publish(tmp_path, path, **changes):
    """The import's outcome for one file (no configured defaults: what the
    file says, or the reader's own rule)."""
    collection = make_collection(tmp_path, **{"defaults": {}, **changes})
    configuration = Config(source=tmp_path / "hess_dr.yaml", collections=(collection,))
    return ingest.ingest(str(path), configuration, str(tmp_path / "inputs"), "hess_dr")


def check_published(tmp_path, name, expected, problem, observation, gti=None):
    """Write quirk ``name``; assert Gammapy reads it and the import publishes
    it with the ``expected`` obs_index values and the ``problem`` note (a
    fragment; None: no note); ``observation``: whether Gammapy's
    Observation.read reads it; ``gti``: the published GTIs (MET pairs;
    default one interval TSTART-TSTOP)."""
    path = synth.write_quirk(tmp_path, name)
    gammapy = Gammapy(path)
    assert gammapy.reads, gammapy.error
    assert (gammapy.observation is not None) == observation, gammapy.observation_error

    outcome = publish(tmp_path, path)
    assert outcome.level == "ok", outcome.message
    obs = outcome.obs
    if problem is None:
        assert obs["problems"] is None
    else:
        assert obs["problems"] and problem in obs["problems"], obs["problems"]

    defaults = {"obs_id": str(synth.QUIRK_OBS_ID), "event_count": 3,
                "energy_min": ENERGY_MIN_EV, "energy_max": ENERGY_MAX_EV,
                "tstart": T0, "tstop": T1, "t_min": utc_mjd(T0), "t_max": utc_mjd(T1),
                "ontime": T1 - T0, "livetime": (T1 - T0) * DEADC, "deadc": DEADC,
                "ra_pnt": 83.633333333333, "dec_pnt": 21.514444444444, "timesys": "TT"}
    for key, value in {**defaults, **expected}.items():
        if isinstance(value, float):
            assert obs[key] == pytest.approx(value, rel=1e-12, abs=1e-9), key
        else:
            assert obs[key] == value, key

    # the published GTIs
    gti = gti if gti is not None else [(obs["tstart"], obs["tstop"])]
    assert [(g["met_start"], g["met_stop"]) for g in outcome.gtis] == gti
    assert obs["gti_count"] == len(gti)

    # against Gammapy: event count, energies, times
    assert len(gammapy.events.table) == obs["event_count"]
    finite = gammapy.energies_tev[np.isfinite(gammapy.energies_tev)]
    if obs["energy_min"] is None:
        assert not (finite > 0).any()
    else:
        assert obs["energy_min"] == pytest.approx(finite.min() * 1e12, rel=1e-6)
        assert obs["energy_max"] == pytest.approx(finite.max() * 1e12, rel=1e-6)
        assert obs["em_min"] == pytest.approx(1.239841984332e-6 / obs["energy_max"], rel=1e-6)
    if gammapy.observation is not None and len(gammapy.observation.gti.table) == len(gti):
        gp_gti = gammapy.observation.gti
        published_start = [g["t_start"] for g in outcome.gtis]
        assert published_start == pytest.approx(list(gp_gti.time_start.utc.mjd), abs=1e-9)
    return path, obs, outcome, gammapy


# ---------------------------------------------------------------------------
# Gammapy reads it: published (with a note where the file is odd)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected, problem, observation", [
    ("events-extname-lowercase", {}, None, True),
    ("events-no-hduclass", {"irf_types": "aeff edisp psf bkg"}, None, True),
    ("obs-id-missing", {"obs_id": "obs-id-missing"},
     "OBS_ID missing: the file name without its extension used", True),
])
def test_events_hdu_quirks(tmp_path, name, expected, problem, observation):
    check_published(tmp_path, name, expected, problem, observation)


@pytest.mark.parametrize("name, expected, problem, observation", [
    ("timesys-missing", {}, "TIMESYS missing: TT assumed, as Gammapy does", True),
    ("timesys-lowercase-utc",
     {"timesys": "UTC", "t_min": utc_mjd(T0, Time(51910, 0.0, format="mjd", scale="utc")),
      "t_max": utc_mjd(T1, Time(51910, 0.0, format="mjd", scale="utc"))}, None, True),
    ("mjdreff-string", {}, None, True),
    ("mjdrefi-float", {}, None, True),
    ("timeref-solarsystem", {}, None, True),
    ("timeunit-missing", {}, None, True),
    ("timeunit-not-time", {}, "TIMEUNIT 'm' is not a time unit: seconds assumed", False),
])
def test_time_reference_quirks(tmp_path, name, expected, problem, observation):
    _, obs, _, gammapy = check_published(tmp_path, name, expected, problem, observation)
    # the first event where Gammapy puts it: T0 + 100 s from the epoch
    first = gammapy.times[0].utc.mjd
    assert first == pytest.approx(utc_mjd(T0 + 100.0) if obs["timesys"] == "TT" else
                                  obs["t_min"] + 100.0 / 86400, abs=1e-9)


@pytest.mark.parametrize("name, expected, problem, observation", [
    ("tstart-tstop-missing", {}, "TSTART/TSTOP missing: taken from the GTI bounds", True),
    ("tstart-tstop-missing-no-gti",
     {"tstart": T0 + 100.0, "tstop": T0 + 1500.0, "t_min": utc_mjd(T0 + 100.0),
      "t_max": utc_mjd(T0 + 1500.0)},  # (ONTIME, LIVETIME: the header's)
     "TSTART/TSTOP missing and no GTI table: taken from the first and last event TIME", False),
    ("tstop-before-tstart", {}, f"TSTOP ({T0 - 1000.0}) is before TSTART ({T0}): both"
     " ignored: taken from the GTI bounds", True),
])
def test_run_time_quirks(tmp_path, name, expected, problem, observation):
    _, obs, _, gammapy = check_published(tmp_path, name, expected, problem, observation)
    if name == "tstart-tstop-missing-no-gti":  # the events' times, as Gammapy has them
        assert obs["t_min"] == pytest.approx(gammapy.times.min().utc.mjd, abs=1e-9)
        assert obs["t_max"] == pytest.approx(gammapy.times.max().utc.mjd, abs=1e-9)


@pytest.mark.parametrize("name, expected, problem, observation, gti", [
    ("gti-missing", {}, "no GTI table: one interval TSTART-TSTOP assumed", False, None),
    ("gti-empty", {}, "GTI table is empty (Gammapy: no good time): ignored", True, None),
    ("gti-inverted-row", {"ontime": T1 - T0}, "1 GTI(s) with STOP before START ignored", True,
     [(T0, T0 + 1000.0)]),
    ("gti-nan-row", {}, "1 GTI(s) with non-finite START/STOP ignored", False,
     [(T0, T0 + 1000.0)]),
    ("gti-no-start-stop", {}, "GTI table 'GTI' has no START/STOP columns: ignored", False, None),
    ("gti-outside-run", {}, f"no GTI overlaps TSTART-TSTOP ({T0}-{T1})", True,
     [(T0 + 5000.0, T0 + 6000.0)]),
    ("gti-no-mjdref", {}, None, False, None),
])
def test_gti_quirks(tmp_path, name, expected, problem, observation, gti):
    _, _, outcome, gammapy = check_published(tmp_path, name, expected, problem,
                                             observation, gti)
    if name == "gti-inverted-row":  # the good interval is Gammapy's first
        assert outcome.gtis[0]["t_start"] == pytest.approx(
            gammapy.observation.gti.time_start[0].utc.mjd, abs=1e-9)
    if name == "gti-empty":
        assert len(gammapy.observation.gti.table) == 0
    if name == "gti-no-start-stop":  # the services do not read the ignored table either
        from hess_dr.layout import Layout
        assert Layout.from_json(outcome.obs["layout"], outcome.path).gti_hdu is None


@pytest.mark.parametrize("name, expected, problem, observation", [
    ("deadc-missing", {}, None, False),  # DEADC = LIVETIME / ONTIME
    ("livetime-missing", {}, None, True),  # LIVETIME = ONTIME x DEADC
    ("deadc-livetime-missing", {"livetime": None, "deadc": None}, None, False),
    ("livetime-negative", {}, "negative LIVETIME (-5.0 s) ignored: ONTIME x DEADC used", True),
    ("ontime-negative", {}, "negative ONTIME (-5.0 s) ignored: the GTIs' sum used", True),
])
def test_live_time_quirks(tmp_path, name, expected, problem, observation):
    _, obs, _, gammapy = check_published(tmp_path, name, expected, problem, observation)
    if gammapy.observation is not None and obs["livetime"] is not None:
        assert obs["livetime"] == pytest.approx(
            gammapy.observation.observation_live_time_duration.to_value(u.s), rel=1e-9)


@pytest.mark.parametrize("name, expected, problem, observation", [
    # no pointing: NULL (RA_OBJ is not the pointing); s_region from the events
    ("pointing-missing-obj-present",
     {"ra_pnt": None, "dec_pnt": None, "ra_obj": 83.633333333333, "dec_obj": 22.014444444444,
      "s_region_origin": "events"}, None, True),
    ("ra-pnt-negative", {"ra_pnt": 350.0, "s_ra": 350.0, "s_region_origin": "pointing"},
     "RA_PNT -10.0 is out of range [0, 360] deg: published as 350", True),
    ("dec-pnt-out-of-range", {"ra_pnt": None, "dec_pnt": None, "s_region_origin": "events"},
     "DEC_PNT 95.0 is out of range [-90, 90] deg: no pointing published", False),
    ("altaz-missing", {"alt_pnt": None, "az_pnt": None, "zen_pnt": None}, None, True),
    ("site-missing", {"geolon": None, "geolat": None, "altitude": None}, None, False),
])
def test_pointing_quirks(tmp_path, name, expected, problem, observation):
    _, obs, _, gammapy = check_published(tmp_path, name, expected, problem, observation)
    if obs["s_region_origin"] == "events":  # the circle around the three events
        assert obs["s_ra"] == pytest.approx(83.7, abs=0.01)
        assert obs["s_dec"] == pytest.approx(22.0, abs=0.01)
    if name == "ra-pnt-negative":
        pointing = gammapy.observation.pointing.fixed_icrs
        assert pointing.ra.wrap_at(360 * u.deg).deg == pytest.approx(350.0)


@pytest.mark.parametrize("name, expected", [
    ("date-obs-isot", {"date_obs": "2004-12-04", "time_obs": "22:08:10.184",
                       "date_end": "2004-12-04", "time_end": "22:36:17.184"}),
    ("date-obs-underscore", {"date_obs": "2004-12-04", "time_obs": "22:08:10.184"}),
    ("date-obs-old-format", {"date_obs": "04/12/04"}),  # as written; times from TSTART
    ("date-obs-missing", {"date_obs": None, "time_obs": None, "date_end": "2004-12-04"}),
])
def test_date_quirks(tmp_path, name, expected):
    check_published(tmp_path, name, expected, None, True)


@pytest.mark.parametrize("name, expected, problem, unit", [
    ("energy-gev", {}, None, u.GeV),
    ("energy-mev-ogip", {}, None, u.MeV),
    ("energy-all-nan", {"energy_min": None, "energy_max": None, "em_min": None,
                        "em_max": None},
     "no event has a finite, positive ENERGY (3 events): no energy range", u.TeV),
])
def test_energy_quirks(tmp_path, name, expected, problem, unit):
    _, _, _, gammapy = check_published(tmp_path, name, expected, problem, True)
    assert gammapy.energy_unit == unit


@pytest.mark.parametrize("name, expected, observation", [
    ("columns-extra", {}, True),
    ("events-empty", {"event_count": 0, "energy_min": None, "energy_max": None}, True),
])
def test_column_quirks(tmp_path, name, expected, observation):
    check_published(tmp_path, name, expected, None, observation)


@pytest.mark.parametrize("name, irf_types", [
    ("irfs-none", None),
    ("irfs-separate-file", "aeff edisp psf bkg"),
    ("irfs-ogip-extnames", "aeff edisp psf bkg"),
])
def test_irf_quirks(tmp_path, name, irf_types):
    path, obs, _, _ = check_published(tmp_path, name, {"irf_types": irf_types}, None, True)
    if name == "irfs-separate-file":  # Gammapy reads the IRFs from the other file
        from gammapy.data import DataStore
        gammapy = Gammapy(path, irf_file=path.parent / f"irfs_{path.name}")
        assert gammapy.observation.aeff is not None
        store = DataStore.from_dir(path.parent)
        assert store.obs(synth.QUIRK_OBS_ID).aeff is not None
        assert obs["s_resolution"] is not None  # the PSF in the other file


@pytest.mark.parametrize("name", ["uncompressed", "gzip", "gzip-named-fits"])
def test_compression_quirks(tmp_path, name):
    from gammapy.data import DataStore
    path, obs, _, _ = check_published(tmp_path, name, {"irf_types": "aeff edisp psf bkg"},
                                      None, True)
    store = DataStore.from_events_files([path])
    assert list(store.obs_table["OBS_ID"]) == [int(obs["obs_id"])]
    assert store.obs_table["LIVETIME"][0] == pytest.approx(obs["livetime"])


# ---------------------------------------------------------------------------
# Gammapy refuses it too: skipped, with a message naming the file and why
# ---------------------------------------------------------------------------

REFUSED = [
    ("no-events-table", "info", "no EVENTS table (HDUs: PRIMARY, EVTS, GTI)"),
    ("energy-missing", "warning", "EVENTS table has no ENERGY column"),
    ("time-missing", "warning", "EVENTS table has no TIME column"),
    ("mjdref-missing", "warning", "MJDREFI/MJDREFF and MJDREF are missing"),
    ("mjdrefi-text", "warning", "MJDREFI='soon' is not a number"),
    ("timesys-unknown", "warning", "TIMESYS='XYZ' is not a supported time scale"),
    ("tstart-unparsable", "warning", "malformed FITS content: Unparsable card (TSTART)"),
    ("energy-no-unit", "warning", "ENERGY column has no unit (TUNIT, EUNIT) and none is"
     " configured"),
    ("energy-not-an-energy", "warning", "ENERGY unit 'deg' is not an energy unit"),
]


@pytest.mark.parametrize("name, level, reason", REFUSED)
def test_refused_by_gammapy_too(tmp_path, name, level, reason):
    path = synth.write_quirk(tmp_path, name)
    gammapy = Gammapy(path)
    assert not gammapy.reads
    outcome = publish(tmp_path, path)
    assert outcome.level == level and outcome.obs is None
    assert str(path) in outcome.message and reason in outcome.message


# ---------------------------------------------------------------------------
# where hess_dr and Gammapy differ
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, gammapy_error, problem", [
    ("events-other-extname", "Extension 'EVENTS' not found", None),  # found by HDUCLAS1
    ("mjdref-only", "KeyError: 'MJDREFI'", None),
    ("columns-lowercase", "KeyError: 'TIME'", None),
    ("energy-eunit-only", "'' (dimensionless) and 'TeV' (energy/torque/work) are not"
     " convertible", None),
])
def test_hess_dr_reads_what_gammapy_cannot(tmp_path, name, gammapy_error, problem):
    path = synth.write_quirk(tmp_path, name)
    gammapy = Gammapy(path)
    assert not gammapy.reads and gammapy_error in gammapy.error
    outcome = publish(tmp_path, path)
    assert outcome.level == "ok", outcome.message
    obs = outcome.obs
    assert obs["problems"] == problem
    assert obs["event_count"] == 3
    assert obs["energy_min"] == pytest.approx(ENERGY_MIN_EV)
    assert obs["energy_max"] == pytest.approx(ENERGY_MAX_EV)
    assert obs["t_min"] == pytest.approx(utc_mjd(T0), abs=1e-9)
    assert obs["t_max"] == pytest.approx(utc_mjd(T1), abs=1e-9)


def test_an_ascii_events_table_is_refused_although_gammapy_reads_it(tmp_path):
    """An EVENTS HDU that is an ASCII table: Gammapy reads it; hess_dr's
    services copy binary rows, so it is refused, saying what to do."""
    path = synth.write_quirk(tmp_path, "events-ascii-table")
    gammapy = Gammapy(path)
    assert gammapy.reads and len(gammapy.events.table) == 3
    outcome = publish(tmp_path, path)
    assert outcome.level == "warning"
    assert str(path) in outcome.message
    assert "the EVENTS table (HDU 1) is an ASCII table (XTENSION 'TABLE')" in outcome.message


def test_no_time_at_all_is_refused_although_gammapy_reads_it(tmp_path):
    """An empty EVENTS table without TSTART/TSTOP or GTIs: Gammapy reads
    the (empty) events, but the file says nothing about when it was
    observed: nothing to publish as t_min/t_max."""
    path = synth.write_quirk(tmp_path, "no-times-no-events")
    gammapy = Gammapy(path)
    assert gammapy.reads and len(gammapy.events.table) == 0
    outcome = publish(tmp_path, path)
    assert outcome.level == "warning"
    assert str(path) in outcome.message
    assert "TSTART/TSTOP missing, no GTI table and no event TIME to take them from" \
        in outcome.message


def test_every_quirk_is_tested():
    """Each quirk of the synthetic module is tried here."""
    import inspect
    import sys
    source = inspect.getsource(sys.modules[__name__])
    untested = [name for name in synth.QUIRKS if f'"{name}"' not in source]
    assert not untested


@pytest.mark.parametrize("name", sorted(set(synth.QUIRKS) - {name for name, _, _ in REFUSED}
                                        - {"no-times-no-events", "events-ascii-table"}))
def test_cutouts_of_published_quirk_files_are_read_by_gammapy(tmp_path, name):
    """The services start from what the reader decided: a cutout (1-10 TeV:
    the 2 TeV event) of every published quirk file is a GADF event list
    Gammapy reads, times and GTIs included, even where the file itself has
    MJDREF only or a TIMEUNIT that is not a time unit."""
    from gammapy.data import GTI, EventList
    from hess_dr import cutout, dl3
    from hess_dr.soda import parse_cutout
    path = synth.write_quirk(tmp_path, name)
    run = dl3.read_run(path, make_collection(tmp_path, defaults={}), resolve_psf=False)
    out = tmp_path / "cutout.fits"
    out.write_bytes(cutout.cutout_bytes(run, parse_cutout({"ENERGY": "1 10"})))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = EventList.read(out)
        gti = GTI.read(out)
    expected = 0 if run.energy_min is None else 1
    assert len(events.table) == expected
    if expected:
        assert events.energy.to_value(u.TeV)[0] == pytest.approx(2.0, rel=1e-6)
        assert events.time[0].utc.mjd == pytest.approx(utc_mjd(T0 + 800.0), abs=1e-9) \
            or run.time_ref.timesys != "TT"
    assert len(gti.table) == len(run.gti)
    assert gti.time_start[0].utc.mjd == pytest.approx(run.gti.start[0].utc.mjd, abs=1e-9)
