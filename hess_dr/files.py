"""Writing files so that readers never see a partial one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write a file through ``write`` and move it into place in one step.

    ``write(f)`` writes to a temporary file next to ``path`` (same file
    system); if it returns a path, the file goes there instead of ``path``
    (e.g. a suffix known only from the content).  The file is then made
    readable by everyone and renamed with :func:`os.replace`, so a
    concurrent reader sees no file or a complete one.  On any error the
    temporary file is removed and the error propagates.

    Returns
    -------
    pathlib.Path
        Where the file is.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            chosen = write(out)
        final = Path(chosen) if chosen is not None else path
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        return final
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """:func:`write_atomically` for bytes already in memory."""
    def write(out: BinaryIO) -> None:
        out.write(data)
    return write_atomically(path, write)
