"""Private DaCHS instances for the integration tests (used by conftest.py).

Every service built here has its own GAVO root (under pytest's tmp dir), its
own database ``hess_dr_test_<pid>_<name>``, its own roles
``hessdr_t<pid>_<name>_*`` and its own free port, so that services, test
sessions and a running demo never share state.

Fixtures
--------
dachs_instance
    Session-scoped factory: ``dachs_instance(name, data_dir)`` returns a
    :class:`Service` (built once per name and session, torn down at the end).
sample_service
    The bundled 3-run sample (``<checkout>/data``).
dr1_service
    The full H.E.S.S. DL3 DR1 (``$HESS_DR_FULL_DATA``, default
    ``<checkout>/../shared/data/hess-dl3-dr1``); skipped if that folder is
    missing.

:func:`make_service` builds a service from any operator configuration file,
e.g. one naming broken input files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Iterator

import pytest

from hess_dr_dev import instance as hinst

CHECKOUT = hinst.CHECKOUT
SAMPLE_DATA = CHECKOUT / "data"
DEFAULT_FULL_DATA = CHECKOUT.parent / "shared" / "data" / "hess-dl3-dr1"


@dataclasses.dataclass
class Service:
    """A served private instance with the resource imported and published.

    Attributes
    ----------
    url : str
        Server root, ``http://127.0.0.1:<port>`` (no trailing slash).
    tap_url : str
        ``<url>/tap``.
    env : dict
        Environment of the instance's DaCHS processes (``GAVOSETTINGS``,
        ``HESS_DR_CONFIG``, ...), for running other tools against it.
    instance : hess_dr_dev.instance.Instance
        For ``instance.run_dachs("test", "hess_dr/q")`` and the like.
    import_output : str
        Everything ``dachs imp``/``dachs pub`` printed.
    config_path : Path
        The operator configuration the service was imported with.
    """

    url: str
    tap_url: str
    env: dict
    instance: hinst.Instance
    import_output: str
    config_path: Path


def _safe_name(name: str) -> str:
    """Turn a label into a piece of a database/role name."""
    cleaned = "".join(c if c.isalnum() else "_" for c in name.lower())
    # PostgreSQL truncates identifiers at 63 bytes.
    return cleaned.strip("_")[:20] or "x"


@contextlib.contextmanager
def make_service(tmp_path_factory: pytest.TempPathFactory,
                 config_path: str | os.PathLike, name: str,
                 resdir: str | os.PathLike | None = None) -> Iterator[Service]:
    """Build, import, publish and serve a private instance; tear it down.

    Parameters
    ----------
    tmp_path_factory : pytest.TempPathFactory
        Provides the instance's root directory.
    config_path : path-like
        Operator YAML passed to DaCHS as ``HESS_DR_CONFIG``.
    name : str
        Label making the root dir, database and roles unique within the
        session (letters, digits, ``_``; other characters become ``_``).
    resdir : path-like, optional
        Resource directory to publish as ``hess_dr``; default the checkout.

    Yields
    ------
    Service
        The served instance.

    Raises
    ------
    hess_dr_dev.instance.DachsError
        If the import (or the server) fails; the message holds DaCHS's
        output.  Use :func:`make_instance` to inspect failing imports.
    """
    with make_instance(tmp_path_factory, config_path, name, resdir) as inst:
        # Progress goes to stdout: shown with -s, or with the report on failure.
        output = inst.import_resource()
        with inst.serve():
            yield Service(url=inst.url, tap_url=inst.tap_url, env=inst.env,
                          instance=inst, import_output=output,
                          config_path=Path(config_path))


@contextlib.contextmanager
def make_instance(tmp_path_factory: pytest.TempPathFactory,
                  config_path: str | os.PathLike, name: str,
                  resdir: str | os.PathLike | None = None,
                  **options) -> Iterator[hinst.Instance]:
    """Create a private instance (nothing imported, not served); destroy it.

    Parameters are those of :func:`make_service`; further keyword arguments
    (``preload_rds``, ``other_resdirs``) go to
    :func:`hess_dr_dev.instance.create_or_reuse`.  Useful for bad-input
    tests: ``inst.run_dachs("imp", "hess_dr/q", check=False)`` returns the
    failing command's output instead of raising.

    Yields
    ------
    hess_dr_dev.instance.Instance
        The instance, ``//obscore`` imported, with ``HESS_DR_CONFIG`` set.
    """
    label = _safe_name(name)
    pid = os.getpid()
    dbname = f"hess_dr_test_{pid}_{label}"
    role_prefix = f"hessdr_t{pid}_{label}_"
    # A crashed session with a recycled pid may have left these behind.
    hinst.drop_database_and_roles(dbname, role_prefix)
    inst = hinst.create_or_reuse(
        root=tmp_path_factory.mktemp(f"gavo_{label}"),
        port=hinst.free_port(),
        dbname=dbname,
        role_prefix=role_prefix,
        extra_env={"HESS_DR_CONFIG": str(Path(config_path).resolve())},
        resdir=resdir or CHECKOUT, **options)
    try:
        yield inst
    finally:
        inst.destroy()


def write_config(tmp_path_factory: pytest.TempPathFactory, data_dir: Path,
                 name: str) -> Path:
    """Write an operator config publishing ``data_dir`` (default template).

    Parameters
    ----------
    tmp_path_factory : pytest.TempPathFactory
        Provides the directory of the file.
    data_dir : Path
        The first collection's data directory.
    name : str
        Label for the directory.

    Returns
    -------
    Path
        The written ``hess_dr.yaml``.
    """
    dest = tmp_path_factory.mktemp(f"config_{_safe_name(name)}") / "hess_dr.yaml"
    return hinst.write_operator_config(dest, data_dir)


def cutout_endpoint(links) -> str:
    """The accessURL of the SODA service descriptor in a DataLink response
    (a pyvo DatalinkResults)."""
    for resource in links.votable.resources:
        if resource.type == "meta" and resource.utype == "adhoc:service":
            for param in resource.params:
                if param.name == "accessURL":
                    value = param.value
                    return value.decode() if isinstance(value, bytes) else str(value)
    raise AssertionError("no service descriptor in the DataLink response")
