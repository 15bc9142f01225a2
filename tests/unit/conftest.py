"""Shared fixtures of the unit tests (no DaCHS, no database, no network)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# tests/synth.py (the synthetic DL3 factory) lives one level up.
TESTS_DIR = Path(__file__).resolve().parent.parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from hess_dr.config import Collection  # noqa: E402

CHECKOUT = TESTS_DIR.parent
SAMPLE_DIR = CHECKOUT / "data"
DR1_DIR = CHECKOUT.parent / "shared" / "data" / "hess-dl3-dr1"


def make_collection(data_dir: Path, **changes) -> Collection:
    """A collection like the shipped default's, rooted at ``data_dir``."""
    values = dict(name="synthetic", data_dir=Path(data_dir), obs_collection="SYNTH-DL3",
                  title_prefix="Synthetic DL3", facility_name="H.E.S.S.",
                  instrument_name="H.E.S.S. Phase I", fov_diameter_deg=5.0,
                  tracking_mode="sidereal",
                  scan_modes={"WOBBLE": "on-source", "ON": "on-source", "OFF": "on-off"},
                  defaults={"timesys": "TT"})
    values.update(changes)
    return Collection(**values)


@pytest.fixture
def collection(tmp_path) -> Collection:
    """A collection whose data directory is the test's ``tmp_path``."""
    return make_collection(tmp_path)


@pytest.fixture(scope="session")
def sample_collection() -> Collection:
    """The collection of the shipped default configuration (bundled sample)."""
    from hess_dr import config
    return config.load(config.DEFAULT_FILE).collections[0]


@pytest.fixture(scope="session")
def dr1_dir() -> Path:
    """The full H.E.S.S. DL3 DR1 copy; tests using it skip when it is absent."""
    if not (DR1_DIR / "obs-index.fits.gz").exists():
        pytest.skip(f"{DR1_DIR} not available")
    return DR1_DIR


def pytest_configure(config):
    # astropy 5.2's bundled leap-second table is past its expiry date; no leap
    # second was added since 2016, so the warning says nothing about our data.
    config.addinivalue_line("filterwarnings",
                            "ignore::astropy.utils.iers.IERSStaleWarning")
