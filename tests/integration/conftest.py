"""Session fixtures serving the resource from private DaCHS instances.

The helpers (Service, make_service, make_instance, write_config) live in
dachs_support.py, which test modules import directly: a module named
``conftest`` is ambiguous when tests/unit is collected too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from dachs_support import (DEFAULT_FULL_DATA, SAMPLE_DATA, Service, make_service,
                           write_config)


@pytest.fixture(scope="session")
def dachs_instance(tmp_path_factory) -> Iterator[Callable[[str, Path], Service]]:
    """Factory ``(name, data_dir) -> Service``, one service per name.

    The service publishes ``data_dir`` with the default operator
    configuration; it lives until the end of the session.
    """
    services: dict[str, Service] = {}
    with contextlib.ExitStack() as stack:
        def factory(name: str, data_dir: Path) -> Service:
            if name not in services:
                config = write_config(tmp_path_factory, data_dir, name)
                services[name] = stack.enter_context(
                    make_service(tmp_path_factory, config, name))
            return services[name]
        yield factory


@pytest.fixture(scope="session")
def sample_service(dachs_instance) -> Service:
    """The bundled 3-run sample, served."""
    return dachs_instance("sample", SAMPLE_DATA)


@pytest.fixture(scope="session")
def dr1_service(dachs_instance) -> Service:
    """The full H.E.S.S. DL3 DR1, served; skipped if the data are absent."""
    data = Path(os.environ.get("HESS_DR_FULL_DATA") or DEFAULT_FULL_DATA)
    if not data.is_dir():
        pytest.skip(f"full DR1 data not found at {data} "
                    "(set HESS_DR_FULL_DATA to the hess-dl3-dr1 folder)")
    return dachs_instance("dr1", data)
