"""The operator configuration of the demo (``bin/hess-dr-demo``, ``make demo``).

:func:`demo_config` decides what publishes a data folder, in this order:

1. ``--config FILE``: that file (relative ``data_dir`` paths resolved from
   the file's own directory, as :mod:`hess_dr.config` does);
2. ``<DATA>/hess_dr.yaml``: the data folder's own configuration (what
   ``bin/hess-dr-synth-families`` writes);
3. a folder of H.E.S.S. files only (the bundled sample, DR1): the shipped
   ``res/hess_dr.default.yaml`` with its ``data_dir`` set to the folder;
4. anything else: generic collections that claim nothing about the files:
   one per top-level subfolder holding event lists (or one for the folder),
   named after the folder, with no facility, instrument or field of view
   (TELESCOP and INSTRUME name them, s_region stays NULL for lack of a field
   of view) and no H.E.S.S. terms of use.  A hint says to write a
   configuration (``res/examples/multi-instrument.yaml``).

The result is written with absolute ``data_dir`` paths, so it can live in
the demo instance's directory.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from hess_dr import config as hess_config
from hess_dr.index import INDEX_FILE_NAMES

from .instance import CHECKOUT, write_operator_config

#: The shipped default configuration of the checkout the demo publishes.
DEFAULT_FILE = hess_config.default_file(CHECKOUT)

#: How many files per folder are opened to see which instrument wrote them.
SNIFF_FILES = 10
#: TELESCOP values the shipped H.E.S.S. configuration is meant for.
HESS_TELESCOPES = frozenset({"HESS", "H.E.S.S."})

GENERIC_RIGHTS = ("No terms of use are configured for this collection; ask the data"
                  " provider (operators: set `rights` in the configuration).")


def demo_config(dest: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                config: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Write the demo's configuration to ``dest``.

    Parameters
    ----------
    dest : path-like
        The YAML file to write.
    data_dir : path-like, optional
        The data folder (``--data``), when no ``config`` is given.
    config : path-like, optional
        An operator configuration to use (``--config``).

    Returns
    -------
    (Path, str)
        ``dest`` and a sentence saying where the configuration came from.

    Raises
    ------
    hess_dr.config.ConfigError
        If the configuration (given, found or generated) is invalid.
    FileNotFoundError
        If ``config`` or ``data_dir`` does not exist.
    """
    dest = Path(dest)
    if config is not None:
        config = Path(config).resolve()
        if not config.is_file():
            raise FileNotFoundError(f"no such configuration file: {config}")
        return absolute_copy(config, dest), f"{config}"
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"no such data directory: {data_dir}")
    own = data_dir / "hess_dr.yaml"
    if own.is_file():
        return absolute_copy(own, dest), f"{own} (the data folder's own configuration)"
    groups = event_file_groups(data_dir)
    telescopes = {name: _telescopes(files) for name, files in groups.items()}
    if all(t <= HESS_TELESCOPES for t in telescopes.values()):
        write_operator_config(dest, data_dir, DEFAULT_FILE)
        _validate(dest)
        return dest, (f"{DEFAULT_FILE} (H.E.S.S. files only) with data_dir"
                      f" {data_dir}")
    collections = []
    template = yaml.safe_load(DEFAULT_FILE.read_text())["collections"][0]
    for directory in groups:
        name = _collection_name(directory, data_dir)
        if telescopes[directory] and telescopes[directory] <= HESS_TELESCOPES:
            entry = dict(template, name=name if len(groups) > 1 else template["name"],
                         data_dir=str(directory))
        else:
            label = directory.name
            entry = {"name": name, "data_dir": str(directory),
                     "obs_collection": label.upper(), "title_prefix": label,
                     "rights": GENERIC_RIGHTS}
        collections.append(entry)
    document = {"service": yaml.safe_load(DEFAULT_FILE.read_text()).get("service"),
                "collections": collections}
    _write(dest, document, "generic collections for a folder of several instruments; write"
                           " your own configuration (see res/examples/multi-instrument.yaml)")
    _validate(dest)
    found = ", ".join(f"{d.name}: {'/'.join(sorted(t)) or '?'}" for d, t in telescopes.items())
    return dest, (f"generic collections (no facility, field of view or terms of use"
                  f" configured; {found}); better: put a hess_dr.yaml into {data_dir}"
                  f" (example: res/examples/multi-instrument.yaml)")


def absolute_copy(source: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy an operator configuration, making its ``data_dir`` paths absolute
    (resolved as :func:`hess_dr.config.load` resolves them), and validate it."""
    source = Path(source).resolve()
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    base = hess_config.shipped_default_resdir(source) or source.parent
    for entry in (document or {}).get("collections") or []:
        for key in ("data_dir", "runs_file"):
            if isinstance(entry, dict) and entry.get(key):
                path = Path(str(entry[key])).expanduser()
                entry[key] = str(path if path.is_absolute() else (base / path).resolve())
    _write(dest, document, f"copied from {source}, data_dir and runs_file made absolute")
    _validate(dest)
    return Path(dest)


def owner_groups(config: hess_config.Config) -> list[str]:
    """The owner groups a configuration names (collections and runs)."""
    groups = {collection.owner for collection in config.collections}
    groups |= {rights.owner for collection in config.collections
               for rights in collection.runs.values()}
    return sorted(group for group in groups if group)


def create_demo_users(inst, config: hess_config.Config) -> list[tuple[str, str, str]]:
    """For each owner group of ``config``, a DaCHS user ``<group>-demo`` with
    the password ``<group>-demo`` in that group (demo instances only: the
    password is public).  Returns (user, password, group) triples."""
    users = []
    for group in owner_groups(config):
        user = password = f"{group}-demo"
        if inst.run_dachs("adm", "adduser", user, password, check=False).returncode:
            inst.run_dachs("adm", "changeuser", user, password)  # exists: reset
        inst.run_dachs("adm", "addtogroup", user, group, check=False)  # may be in it
        users.append((user, password, group))
    return users


def event_file_groups(data_dir: Path) -> dict:
    """{folder: [event-list candidates]}: one entry per top-level subfolder
    holding FITS files, or only ``data_dir`` when files lie at its top level
    or there is at most one such subfolder."""
    def candidates(directory, recursive=True):
        pattern = "**/*" if recursive else "*"
        return sorted(p for p in directory.glob(pattern)
                      if p.is_file() and (p.name.endswith(".fits") or p.name.endswith(".fits.gz"))
                      and p.name not in INDEX_FILE_NAMES)

    top = candidates(data_dir, recursive=False)
    subfolders = {d: candidates(d) for d in sorted(data_dir.iterdir()) if d.is_dir()}
    subfolders = {d: files for d, files in subfolders.items() if files}
    if top or len(subfolders) <= 1:
        return {data_dir: candidates(data_dir)}
    return subfolders


def _telescopes(files) -> set:
    """TELESCOP values (EVENTS header, else PRIMARY) of the first event
    lists among ``files``; files without an EVENTS table (IRF files) are
    passed over."""
    from astropy.io import fits
    found, seen = set(), 0
    for path in files:
        if seen >= SNIFF_FILES:
            break
        try:
            with fits.open(path, memmap=False) as hdus:
                events = next((h for h in hdus[1:] if str(h.name).upper() == "EVENTS"
                               or str(h.header.get("HDUCLAS1", "")).upper() == "EVENTS"), None)
                if events is None:
                    continue
                seen += 1
                value = events.header.get("TELESCOP", hdus[0].header.get("TELESCOP"))
                if value is not None and str(value).strip():
                    found.add(str(value).strip().upper())
        except Exception:  # a broken file: the import will report it
            continue
    return found


def _collection_name(directory: Path, data_dir: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", directory.name).strip("-_") or "data"
    return name if re.match(r"^[A-Za-z0-9]", name) else f"c{name}"


def _write(dest, document, note: str) -> None:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(f"# hess_dr demo configuration: {note}.\n"
                    + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")


def _validate(dest) -> None:
    hess_config.load(dest)
