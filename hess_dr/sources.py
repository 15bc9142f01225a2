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
