"""Shared fixtures of the unit tests (no DaCHS, no database, no network)."""
from __future__ import annotations

from pathlib import Path

import pytest

from unit_support import CHECKOUT, DR1_DIR, make_collection  # also puts tests/ on sys.path

from hess_dr.config import Collection


def pytest_configure(config):
    # astropy 5.2's bundled leap-second table is past its expiry date; no leap
    # second was added since 2016, so the warning says nothing about our data.
    config.addinivalue_line("filterwarnings",
                            "ignore::astropy.utils.iers.IERSStaleWarning")


@pytest.fixture
def collection(tmp_path) -> Collection:
    """A collection whose data directory is the test's ``tmp_path``."""
    return make_collection(tmp_path)


@pytest.fixture(scope="session")
def sample_collection() -> Collection:
    """The collection of the shipped default configuration (bundled sample)."""
    from hess_dr import config
    return config.load(config.default_file(CHECKOUT)).collections[0]


@pytest.fixture(scope="session")
def dr1_dir() -> Path:
    """The full H.E.S.S. DL3 DR1 copy; tests using it skip when it is absent."""
    if not (DR1_DIR / "obs-index.fits.gz").exists():
        pytest.skip(f"{DR1_DIR} not available")
    return DR1_DIR
