"""Bounded pools of worker processes for heavy requests.

Cutouts, bundles, single-IRF files and uncached previews are computed in
worker processes, so that the web server's own threads and its interpreter
lock stay free for light requests (DataLink metadata, TAP, cached
previews).  A request waits for its result in one of the server's threads
-- and the threads are few: DaCHS runs requests in Twisted's thread pool,
ten threads.  So a request that would have to queue for a worker is
refused at once with :class:`hess_dr.errors.ServiceBusy` (HTTP 503 with
Retry-After) when

* its pool's queue is full (``queue`` requests), or
* the queues of both pools together hold :data:`DEFAULT_MAX_WAITING`
  requests (:class:`Admission`), or
* its wait would exceed ``max_wait`` seconds (requests queued ahead, times
  the pool's typical job time, over its workers): a clogged pool refuses
  early instead of holding the server's threads.  The typical job time is
  the median of the last :data:`RECENT_JOBS` jobs, so that one slow job
  (a worker's first, or one slowed by a busy machine) does not close the
  pool to a queue of ordinary ones.

Two pools, because their work differs by two orders of magnitude:

``files`` (cutouts, bundles, single IRFs)
    milliseconds each (the events come from the import's cache): one
    worker a CPU (at most 4), up to 8 requests queued -- a burst of
    cutouts drains in a blink and needs no refusal;
``previews`` (uncached PNGs)
    a few hundred milliseconds each (matplotlib): one worker, one request
    queued, so that a burst of previews takes at most two of the server's
    threads and never delays cutouts.

Requests for the same thing (``key``, e.g. one preview of one file) share
one computation: the first runs it, the others wait for its result (they
count against the shared bound, not against their pool's queue).

Sizes come from the environment of the server process:

``HESS_DR_HEAVY_WORKERS``, ``HESS_DR_HEAVY_QUEUE``
    workers of the file pool and requests that may queue for them
    (default: one per CPU up to 4, and 8);
``HESS_DR_PREVIEW_WORKERS``, ``HESS_DR_PREVIEW_QUEUE``
    the same for previews (default 1 and 1);
``HESS_DR_HEAVY_MAX_WAITING``
    requests queued at once, both pools together (default 8).

Preview workers run at a lower scheduling priority (nice 10) than the
server; the file workers' jobs take milliseconds and run at its priority.
"""
from __future__ import annotations

import collections
import math
import os
import statistics
import threading
import time

from .errors import ServiceBusy
from .workers import WorkerPool

#: Most heavy requests that may queue for a worker at once by default
#: (Twisted's thread pool, which DaCHS runs requests in, has 10 threads).
DEFAULT_MAX_WAITING = 8
#: Longest expected wait in a pool's queue (s) before requests are refused.
DEFAULT_MAX_WAIT_S = 1.0
#: Jobs whose median duration is a pool's typical job time.
RECENT_JOBS = 15
#: Longest a request waits for its result (seconds).
TIMEOUT_S = 600
#: Scheduling priority increment of the preview workers.
PREVIEW_NICENESS = 10


def _environ_int(environ, name: str, minimum: int) -> int | None:
    value = environ.get(name)
    if value is None or not str(value).strip():
        return None
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ValueError(f"${name} must be an integer of at least {minimum}, not {value!r}")
    return number


def configured_sizes(environ=None, cpus: int | None = None) -> dict:
    """{"max_waiting": n, "files": (workers, queue), "previews": (workers,
    queue)} from the environment (see the module docstring)."""
    environ = os.environ if environ is None else environ
    cpus = cpus or os.cpu_count() or 1
    max_waiting = _environ_int(environ, "HESS_DR_HEAVY_MAX_WAITING", 1) or DEFAULT_MAX_WAITING
    workers = _environ_int(environ, "HESS_DR_HEAVY_WORKERS", 1) or max(1, min(cpus, 4))
    queue = _environ_int(environ, "HESS_DR_HEAVY_QUEUE", 0)
    if queue is None:
        queue = max_waiting
    preview_workers = _environ_int(environ, "HESS_DR_PREVIEW_WORKERS", 1) or 1
    preview_queue = _environ_int(environ, "HESS_DR_PREVIEW_QUEUE", 0)
    if preview_queue is None:
        preview_queue = 1
    return {"max_waiting": max_waiting, "files": (workers, queue),
            "previews": (preview_workers, preview_queue)}


def _preview_worker_init() -> None:
    """:func:`_worker_init` at a lower priority."""
    try:
        os.nice(PREVIEW_NICENESS)
    except OSError:
        pass
    _worker_init()


def _worker_init() -> None:
    """Set a worker process up: astropy's configuration read once (it is
    looked up on every FITS card otherwise)."""
    from astropy.io import fits

    from .ingest import freeze_config
    freeze_config(fits.conf)


class Admission:
    """A bound on the heavy requests queued at once, over several pools."""

    def __init__(self, limit: int):
        self.limit = limit
        self.waiting = 0  # queued for a worker, or for a shared computation
        self.lock = threading.Lock()


class HeavyPool:
    """Worker processes with a bounded queue of requests.

    Parameters
    ----------
    workers : int
        Worker processes (started on first use).
    queue : int
        Requests that may queue while every worker computes.
    admission : Admission, optional
        A bound shared with other pools (default: this pool's own).
    name : str
        For messages.
    initializer : str
        ``module:function`` each worker runs at start.
    max_wait : float
        Refuse requests that would wait longer than this in the queue
        (seconds, from the pool's typical job time).
    """

    def __init__(self, workers: int, queue: int, admission: Admission | None = None,
                 name: str = "heavy", initializer: str = "hess_dr.heavy:_worker_init",
                 max_wait: float = DEFAULT_MAX_WAIT_S):
        self.workers = workers
        self.queue = queue
        self.max_wait = max_wait
        self.initializer = initializer
        self.name = name
        self.admission = admission or Admission(queue)
        self._lock = self.admission.lock
        self._executor = None
        self._queued = 0  # owners waiting for a worker
        self._computing = 0  # owners holding a worker
        self._turns = collections.deque()  # an Event per queued owner, first come first
        self._pending: dict = {}
        self._durations = collections.deque(maxlen=RECENT_JOBS)  # of the last jobs (s)
        self.computed = 0  # jobs run (for tests and logs)

    @property
    def waiting(self) -> int:
        """Requests of this pool queued or computed now."""
        return self._queued + self._computing

    def _executor_now(self):
        with self._lock:
            if self._executor is None:
                self._executor = WorkerPool(self.workers, initializer=self.initializer)
            return self._executor

    def _hand_over(self) -> None:
        """The worker a finished request held goes to the first queued one
        (at once, so that a request arriving meanwhile never finds it both
        busy and queued for), else it is free.  With the lock held."""
        if self._turns:
            self._queued -= 1
            self.admission.waiting -= 1
            self._turns.popleft().set()
        else:
            self._computing -= 1

    @property
    def _seconds(self) -> float:
        """A job's typical duration: the median of the last ones (0 before
        any)."""
        return statistics.median(self._durations) if self._durations else 0.0

    def retry_after(self) -> int:
        """Seconds until the queue has likely room again."""
        ahead = self._queued + self._computing
        return max(1, min(60, math.ceil(self._seconds * ahead / self.workers)))

    def _busy(self) -> ServiceBusy:
        return ServiceBusy(f"hess_dr is busy: {self.admission.waiting} heavy requests are"
                           f" queued ({self._queued} for the {self.name} pool's"
                           f" {self.workers} workers); retry later", self.retry_after())

    def run(self, function, *args, key=None, timeout: float = TIMEOUT_S):
        """``function(*args)`` in a worker process; its result.

        The calling thread takes a free worker (or queues for one) and
        talks to it itself.

        Parameters
        ----------
        function : callable
            A module-level function (it is pickled by name).
        key : hashable, optional
            Requests with the same key while one is computed share its
            result (they wait for it, up to ``timeout`` seconds).

        Raises
        ------
        hess_dr.errors.ServiceBusy
            If every worker computes and the pool's queue, or the queues of
            all pools together, are full.
        Exception
            Whatever ``function`` raised (re-raised here).
        """
        with self._lock:
            shared = self._pending.get(key) if key is not None else None
            owner = shared is None
            full = self.admission.waiting >= self.admission.limit
            turn = None
            if not owner:
                if full:
                    raise self._busy()
                self.admission.waiting += 1
            elif self._computing < self.workers:
                self._computing += 1  # a worker is free: ours
            else:
                wait = (self._queued + 1) * self._seconds / self.workers
                if full or self._queued >= self.queue or wait > self.max_wait:
                    raise self._busy()
                turn = threading.Event()
                self._turns.append(turn)
                self._queued += 1
                self.admission.waiting += 1
            if owner:
                shared = _Shared()
                if key is not None:
                    self._pending[key] = shared
        if not owner:
            try:
                return shared.wait(timeout)
            finally:
                with self._lock:
                    self.admission.waiting -= 1
        if turn is not None:
            turn.wait()  # until a finished request hands its worker over
        try:
            seconds, result = self._executor_now().call(_timed, function, args)
        except BaseException as exc:
            shared.fail(exc)
            raise
        else:
            shared.set(result)
        finally:
            with self._lock:
                if key is not None:
                    self._pending.pop(key, None)
                self._hand_over()
        with self._lock:
            self.computed += 1
            self._durations.append(seconds)
        return result

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class _Shared:
    """The result of one computation that several requests wait for."""

    def __init__(self):
        self._done = threading.Event()
        self._value = self._error = None

    def set(self, value) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def wait(self, timeout: float):
        if not self._done.wait(timeout):
            raise TimeoutError(f"no result after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


def _timed(function, args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


_SHARED: dict = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(kind: str = "files") -> HeavyPool:
    """The process's pool of a kind ("files" or "previews"), sized by the
    environment (made on first use)."""
    with _SHARED_LOCK:
        if not _SHARED:
            sizes = configured_sizes()
            admission = Admission(sizes["max_waiting"])
            _SHARED["files"] = HeavyPool(*sizes["files"], admission=admission, name="files")
            _SHARED["previews"] = HeavyPool(*sizes["previews"], admission=admission,
                                            name="previews",
                                            initializer="hess_dr.heavy:_preview_worker_init")
        return _SHARED[kind]
