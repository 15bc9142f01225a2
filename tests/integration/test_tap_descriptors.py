"""TAP results describe hess_dr's services (opt-in fix, preloaded here).

With hess_dr/dachsfixes preloaded (as the test instances and the demo do),
a TAP result of hess_dr.obs_index carries a DataLink 1.1 service descriptor
and a SODA one, so pyvo's ``row.processed()`` cuts on the server; on a
site whose ObsCore rows are all hess_dr's (this one), an ivoa.obscore
result carries the SODA one too.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import pyvo
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits

from dachs_support import SAMPLE_DATA

LINKS_1_1 = "ivo://ivoa.net/std/DataLink#links-1.1"
SODA_SYNC = "ivo://ivoa.net/std/SODA#sync-1.0"
CRAB = SkyCoord(83.633, 22.0145, unit="deg")
CRAB_FILE = SAMPLE_DATA / "hess_dl3_dr1_obs_id_023523.fits.gz"


def _standard_ids(result) -> list[str]:
    ids = []
    for resource in result.votable.resources:
        if resource.type == "meta" and resource.utype == "adhoc:service":
            for param in resource.params:
                if param.name == "standardID":
                    value = param.value
                    ids.append(value.decode() if isinstance(value, bytes) else str(value))
    return ids


def _independent_count(radius_deg: float, e_min: float, e_max: float) -> int:
    with fits.open(CRAB_FILE) as hdus:
        events = hdus["EVENTS"].data
        near = CRAB.separation(SkyCoord(events["RA"], events["DEC"], unit="deg")).deg
        return int(np.sum((near <= radius_deg) & (events["ENERGY"] >= e_min)
                          & (events["ENERGY"] <= e_max)))


@pytest.fixture(scope="module")
def tap(sample_service):
    return pyvo.dal.TAPService(sample_service.tap_url)


@pytest.mark.parametrize("table", ["hess_dr.obs_index", "ivoa.obscore"])
def test_processed_cuts_on_the_server(tap, table):
    result = tap.run_sync(f"SELECT * FROM {table} WHERE obs_id = '23523'")
    ids = _standard_ids(result)
    assert SODA_SYNC in ids
    if table == "hess_dr.obs_index":
        assert LINKS_1_1 in ids and "ivo://ivoa.net/std/DataLink#links-1.0" not in ids
    hc = (1 * u.TeV).to(u.m, equivalencies=u.spectral())
    stream = result[0].processed(
        circle=(CRAB.ra.deg, CRAB.dec.deg, 0.3) * u.deg,
        band=(hc / 10, hc) * 1)
    with fits.open(io.BytesIO(stream.read())) as hdus:
        assert len(hdus["EVENTS"].data) == _independent_count(0.3, 1, 10)
        assert len(hdus["EVENTS"].data) > 0


def test_other_tables_results_stay_as_dachs_writes_them(tap):
    """A result of another table gets no SODA descriptor of hess_dr's."""
    result = tap.run_sync("SELECT table_name FROM tap_schema.tables")
    assert SODA_SYNC not in _standard_ids(result)
