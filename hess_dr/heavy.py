"""A bounded pool of worker processes for heavy requests.

Cutouts, bundles, single-IRF files and uncached previews are computed in
worker processes (:class:`HeavyPool`), so that the web server's own
threads and its interpreter lock stay free for light requests (DataLink
metadata, TAP, cached previews).  A request waits for its result in one of
the server's threads; at most ``limit`` requests wait at once (a worker
each, the rest queued).  Beyond that, :meth:`HeavyPool.run` refuses at once
with :class:`hess_dr.errors.ServiceBusy` (HTTP 503 with Retry-After): the
server's threads are few (Twisted's pool has ten), and every thread a
heavy request holds is one a light request cannot use.

Requests for the same thing (``key``, e.g. one preview of one file) share
one computation: the first runs it, the others wait for its result.

Sizes come from the environment of the server process:

``HESS_DR_HEAVY_WORKERS``
    worker processes (default: the number of CPUs, at most 4);
``HESS_DR_HEAVY_QUEUE``
    requests waiting beyond those being computed (default: twice the
    workers, with workers + queue at most 8 -- two of the server's ten
    threads stay free for light requests whatever happens).

Workers run at a lower scheduling priority (nice 5) than the server.
"""
from __future__ import annotations

import math
import os
import threading
import time

from .errors import ServiceBusy
from .workers import WorkerPool

WORKERS_VARIABLE = "HESS_DR_HEAVY_WORKERS"
QUEUE_VARIABLE = "HESS_DR_HEAVY_QUEUE"
#: Most requests that may wait at once by default (Twisted's thread pool,
#: which DaCHS runs requests in, has 10 threads).
DEFAULT_MAX_WAITING = 8
#: Longest a request waits for its result (seconds).
TIMEOUT_S = 600
#: Scheduling priority increment of the workers.
WORKER_NICENESS = 5


def _environ_int(name: str, environ) -> int | None:
    value = (environ or os.environ).get(name)
    if value is None or not str(value).strip():
        return None
    number = int(value)
    if number < (1 if name == WORKERS_VARIABLE else 0):
        raise ValueError(f"${name} must be a positive integer, not {value!r}")
    return number


def configured_sizes(environ=None, cpus: int | None = None) -> tuple[int, int]:
    """(workers, queue) from the environment (see the module docstring)."""
    cpus = cpus or os.cpu_count() or 1
    workers = _environ_int(WORKERS_VARIABLE, environ)
    queue = _environ_int(QUEUE_VARIABLE, environ)
    if workers is None:
        workers = max(1, min(cpus, 4))
    if queue is None:
        queue = max(0, min(2 * workers, DEFAULT_MAX_WAITING - workers))
    return workers, queue


def _worker_init() -> None:
    """Set a worker process up: lower priority, astropy's configuration
    read once (it is looked up on every FITS card otherwise)."""
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    from astropy.io import fits

    from .ingest import freeze_config
    freeze_config(fits.conf)


class HeavyPool:
    """Worker processes with a bounded number of waiting requests.

    Parameters
    ----------
    workers : int
        Worker processes (started on first use).
    queue : int
        Requests that may wait beyond the ``workers`` being computed.
    """

    def __init__(self, workers: int, queue: int):
        self.workers = workers
        self.limit = workers + queue
        self._executor = None
        self._lock = threading.Lock()
        self._waiting = 0
        self._pending: dict = {}
        self._seconds = 1.0  # running mean of a job's duration
        self.computed = 0  # jobs run (for tests and logs)

    @property
    def waiting(self) -> int:
        """Requests waiting for a result now."""
        return self._waiting

    def _executor_now(self):
        if self._executor is None:
            self._executor = WorkerPool(self.workers, initializer="hess_dr.heavy:_worker_init")
        return self._executor

    def retry_after(self) -> int:
        """Seconds until the queue has likely room again."""
        return max(1, min(60, math.ceil(self._seconds * self._waiting / self.workers)))

    def run(self, function, *args, key=None, timeout: float = TIMEOUT_S):
        """``function(*args)`` in a worker process; its result.

        Parameters
        ----------
        function : callable
            A module-level function (it is pickled by name).
        key : hashable, optional
            Requests with the same key while one is computed share its
            result.

        Raises
        ------
        hess_dr.errors.ServiceBusy
            If ``limit`` requests wait already.
        Exception
            Whatever ``function`` raised (re-raised here).
        """
        with self._lock:
            future = self._pending.get(key) if key is not None else None
            if self._waiting >= self.limit:
                raise ServiceBusy(f"{self._waiting} heavy requests are being served or"
                                  f" queued (at most {self.limit}); retry later",
                                  self.retry_after())
            if future is None:
                future = self._executor_now().submit(_timed, function, args)
                self.computed += 1
                if key is not None:
                    self._pending[key] = future
                    future.add_done_callback(lambda _, key=key: self._forget(key))
            self._waiting += 1
        try:
            seconds, result = future.result(timeout=timeout)
        finally:
            with self._lock:
                self._waiting -= 1
        self._seconds = 0.8 * self._seconds + 0.2 * seconds
        return result

    def _forget(self, key) -> None:
        with self._lock:
            self._pending.pop(key, None)

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _timed(function, args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


_SHARED: HeavyPool | None = None
_SHARED_LOCK = threading.Lock()


def shared_pool() -> HeavyPool:
    """The process's pool, sized by the environment (made on first use)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = HeavyPool(*configured_sizes())
        return _SHARED
