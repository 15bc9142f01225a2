"""Helpers shared by the unit tests (a plainly named module: test files must
not import ``conftest``, whose module name clashes with other conftest files
when the whole ``tests`` tree is collected)."""
from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
CHECKOUT = TESTS_DIR.parent
SAMPLE_DIR = CHECKOUT / "data"
DR1_DIR = CHECKOUT.parent / "shared" / "data" / "hess-dl3-dr1"

from hess_dr.config import Collection  # noqa: E402


def make_collection(data_dir: Path, **changes) -> Collection:
    """A collection like the shipped default's, rooted at ``data_dir``;
    ``changes`` replace any :class:`~hess_dr.config.Collection` field."""
    values = dict(name="synthetic", data_dir=Path(data_dir), obs_collection="SYNTH-DL3",
                  title_prefix="Synthetic DL3", facility_name="H.E.S.S.",
                  instrument_name="H.E.S.S. Phase I", fov_diameter_deg=5.0,
                  tracking_mode="sidereal",
                  scan_modes={"WOBBLE": "on-source", "ON": "on-source", "OFF": "on-off"},
                  defaults={"timesys": "TT"})
    values.update(changes)
    return Collection(**values)


def wait_for_other_threads(seconds: float = 30.0) -> None:
    """Let threads earlier tests started end (worker pools closing, mocpy
    being imported), so that this process has one thread, as `dachs imp`
    has when it forks its readers."""
    import threading
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(seconds)
