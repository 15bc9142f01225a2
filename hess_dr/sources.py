"""How an import identifies a source file, as DaCHS's ignoreSources does."""
from __future__ import annotations

import datetime
import os

#: A pseudo-source of q.rd's import: never a file, never ignored, so that
#: every import, even one that reads no file, removes the rows of files
#: that have vanished.
PRUNE_TOKEN = "hess_dr:prune-vanished-files"


def source_key(path: str, inputs_dir: str) -> str:
    """The file's path relative to ``inputs_dir`` when it lies below it,
    else its absolute path: the key DaCHS's ``ignoreSources`` compares."""
    path = os.path.abspath(path)
    relative = os.path.relpath(path, os.path.abspath(inputs_dir))
    return path if relative.startswith(os.pardir) else relative


def source_mtime(path: str) -> datetime.datetime:
    """The file's modification time as ``fromdbUpdating`` compares it: a
    naive UTC datetime (microsecond precision, like PostgreSQL's)."""
    return datetime.datetime.utcfromtimestamp(os.path.getmtime(path))


def looping_link(path: str, root: str) -> str | None:
    """The symbolic link on the way from ``root`` to the file ``path`` that
    points back to a directory containing it (``night/again -> ..``), or
    None.

    DaCHS 2.7's recursive source search lists the files of such a link's
    target a second time under another name (it globs the link, without
    descending further); those second names are what this finds.
    """
    root, path = os.path.abspath(root), os.path.abspath(path)
    relative = os.path.relpath(os.path.dirname(path), root)
    if relative == os.curdir or relative.startswith(os.pardir):
        return None
    current = root
    for part in relative.split(os.sep):
        parent, current = current, os.path.join(current, part)
        if os.path.islink(current):
            target = os.path.realpath(current)
            container = os.path.realpath(parent)
            if container == target or container.startswith(target.rstrip(os.sep) + os.sep):
                return current
    return None


def source_patterns(root: str, suffixes=("*.fits", "*.fits.gz", "*.fits.bz2")) -> list[str]:
    """Glob patterns naming every candidate file below ``root``: one per
    directory and suffix, the directory part glob-escaped.

    A replacement for DaCHS 2.7's ``<sources recurse="True">`` walk, which
    recurses without end on a dangling symbolic link (RecursionError after
    walking the whole file system from ``/``), finds nothing in a directory
    whose name holds ``[``, ``*`` or ``?``, does not descend into symlinked
    directories, and lists a directory linked into itself twice.  Here
    symbolic links are followed, each real directory is visited once (the
    first path in sorted order wins), hidden directories are skipped, as
    DaCHS does, and unreadable ones are left out.
    """
    import glob

    patterns, seen = [], set()

    def visit(directory):
        try:
            status = os.stat(directory)
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        if (status.st_dev, status.st_ino) in seen:
            return
        seen.add((status.st_dev, status.st_ino))
        patterns.extend(os.path.join(glob.escape(directory), suffix) for suffix in suffixes)
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links; False for dangling ones
            except OSError:
                is_dir = False
            if is_dir and not entry.name.startswith("."):
                visit(entry.path)

    visit(os.path.abspath(root))
    return patterns


def paths_to_forget(source_token: str, inputs_dir: str, *, newly_created: bool,
                    imported_paths, load_configuration, notify) -> list[str]:
    """The ``source_path`` values whose rows an import must delete before it
    handles ``source_token`` (q.rd's newSource script).

    Parameters
    ----------
    source_token : str
        The file DaCHS is about to read, or :data:`PRUNE_TOKEN`.
    inputs_dir : str
        DaCHS's inputsDir (``source_path`` is relative to it).
    newly_created : bool
        The table was made by this very import: nothing to forget (and it
        has no index yet, so a DELETE would scan the growing table once per
        file).
    imported_paths : callable
        Returns the ``source_path`` of every imported file (only called for
        :data:`PRUNE_TOKEN`).
    load_configuration : callable
        Returns the operator configuration (:func:`hess_dr.config.load`;
        only called for :data:`PRUNE_TOKEN`).
    notify : callable
        Receives one message per file whose rows are removed for good.

    Returns
    -------
    list of str
        For a file: its own previous rows (it is read again).  For
        :data:`PRUNE_TOKEN`: the files that are gone, or that no configured
        data_dir holds any more (the import does not list them as sources).
    """
    if newly_created:
        return []
    if source_token != PRUNE_TOKEN:
        return [source_key(source_token, inputs_dir)]
    configuration = load_configuration()
    stale = []
    for path in imported_paths():
        full = os.path.join(inputs_dir, path)
        if not os.path.exists(full):
            notify(f"hess_dr: {path} is gone; removing its rows")
        elif configuration.collection_for(full) is None:
            notify(f"hess_dr: {path} is below no configured data_dir any more; removing its rows")
        else:
            continue
        stale.append(path)
    return stale
