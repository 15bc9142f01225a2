"""Module-level functions test_heavy.py runs in worker processes (pickled by
name; the workers find this module through the parent's sys.path)."""
from __future__ import annotations

import os
import signal
import sys
import time


def add(a, b):
    return a + b


def blob(n):
    return b"x" * n


def pair_of_blobs(n):
    return b"a" * n, 7


def loaded(module):
    return module in sys.modules


def divide(a, b):
    return a / b


def fail_cutout(message, status):
    from hess_dr.cutout import CutoutError
    raise CutoutError(message, status)


def fail_missing_irf():
    from hess_dr.products import MissingIRFError
    raise MissingIRFError("23523", "psf", ("aeff",))


def pid():
    return os.getpid()


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def sleep_and_return(seconds, value):
    time.sleep(seconds)
    return value


def sleep_then_fail(seconds):
    time.sleep(seconds)
    fail_cutout("shared failure", 500)


def count_and_return(path, seconds, value):
    """Count the calls in a file, then return ``value`` after ``seconds``."""
    try:
        with open(path) as f:
            count = int(f.read())
    except FileNotFoundError:
        count = 0
    with open(path, "w") as f:
        f.write(str(count + 1))
    time.sleep(seconds)
    return value


#: Set by a test in its own process before it forks workers: a forked worker
#: sees the value, a spawned one imports this module afresh (None).
PARENT_MARK = None


def parent_mark():
    return PARENT_MARK


class Goodbye:
    """Sends a farewell on a socket when finalized, as a database session
    object does on its connection at interpreter exit."""

    def __init__(self, sock):
        self.sock = sock

    def __del__(self):
        try:
            self.sock.sendall(b"goodbye")
        except OSError:
            pass


#: A Goodbye a test keeps alive in its process (see PARENT_MARK).
SESSION = None
