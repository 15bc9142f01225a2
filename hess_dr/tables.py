"""Small tables served as VOTables (the GTIs of a run)."""
from __future__ import annotations

import io

import numpy as np
from astropy import units as u
from astropy.io.votable import from_table
from astropy.table import Table

from . import rows
from .dl3 import Run


def gti_table(run: Run) -> Table:
    """The good time intervals of a run as an astropy Table with units.

    Columns mirror hess_dr.gti: ``t_start``/``t_stop`` in MJD
    (:data:`hess_dr.rows.PUBLISHED_SCALE`) and ``met_start``/``met_stop`` in
    the event list's MET seconds.
    """
    table = Table()
    table["t_start"] = run.times.mjd("gti_start", rows.PUBLISHED_SCALE) * u.d
    table["t_stop"] = run.times.mjd("gti_stop", rows.PUBLISHED_SCALE) * u.d
    table["met_start"] = run.gti.start_met * u.s
    table["met_stop"] = run.gti.stop_met * u.s
    table["duration"] = (run.gti.stop_met - run.gti.start_met) * u.s
    descriptions = {
        "t_start": f"Start of the good time interval, MJD {rows.PUBLISHED_SCALE.upper()}",
        "t_stop": f"End of the good time interval, MJD {rows.PUBLISHED_SCALE.upper()}",
        "met_start": f"Start in mission elapsed time (s since MJDREF, {run.time_ref.timesys})",
        "met_stop": f"End in mission elapsed time (s since MJDREF, {run.time_ref.timesys})",
        "duration": "Length of the interval",
    }
    for name, text in descriptions.items():
        table[name].description = text
    table.meta["description"] = f"Good time intervals of observation {run.obs_id}"
    return table


def gti_votable(run: Run) -> bytes:
    """The GTIs of a run as VOTable bytes (binary2 serialisation)."""
    votable = from_table(gti_table(run))
    resource = votable.resources[0]
    resource.tables[0].ID = "gti"
    resource.tables[0].name = f"gti_{run.obs_id}"
    buffer = io.BytesIO()
    votable.to_xml(buffer, tabledata_format="binary2")
    return buffer.getvalue()
