"""Worker processes that import only what they run.

:class:`WorkerPool` starts ``python -m hess_dr.workers`` processes and sends
them module-level functions with their arguments as pickles over pipes, one
task at a time per worker.  :meth:`WorkerPool.call` runs a task from the
calling thread (it takes an idle worker, talks to it and gives it back: a
busy server's thread waits for one answer, not for a chain of helper
threads); :meth:`WorkerPool.submit` returns a
:class:`concurrent.futures.Future` instead.

Why not :mod:`multiprocessing`: its "spawn" children import the parent's
main module first, and the main module of a DaCHS process is DaCHS's
command line (1.5 s of imports per worker, before any work).  These
workers start with the hess_dr package only (and whatever their first task
imports).

A pool made with ``fork=True`` (the readers of a first import, in the
single-threaded ``dachs imp`` process) forks its workers from the calling
process instead: they start with everything it has imported (astropy,
scipy: 0.6 s of imports a reader would repeat) and nothing to read from
disk.  A forked worker shares the parent's open files and database
sockets, so it never returns into the parent's code: it serves its pipes,
runs none of the parent's signal handlers (SIGINT and SIGTERM end it) and
leaves with ``os._exit``, without the interpreter's finalization (which
would close the parent's database sessions); it closes the pipes of
the workers forked before it, so that each sees the end of its own input.
The server's pools (hess_dr.heavy) spawn: a server has threads, and a
fork copies only the calling one.

Workers inherit the parent's ``sys.path`` (as PYTHONPATH), so they import
hess_dr from where the parent did.  Results of :data:`SPOOL_BYTES` or more
come back through a temporary file.
"""
from __future__ import annotations

import concurrent.futures
import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

#: Results of at least this many bytes come back through a file: a pipe
#: carries 64 kB a read, and every read makes a thread of a busy server
#: wait for the interpreter lock again.
SPOOL_BYTES = 64 * 1024


class WorkerError(RuntimeError):
    """A worker process died or answered garbage."""


#: The parent's ends of the pipes of the forked workers alive (each newly
#: forked worker closes them).
_FORKED_PIPE_FDS: set[int] = set()


class _Worker:
    """One worker process and its pipes (spawned, or forked: see the
    module docstring)."""

    def __init__(self, initializer: str | None, fork: bool = False):
        self._popen = None
        if fork:
            self.pid, self.stdin, self.stdout = _fork_worker(initializer)
            return
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        env["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, "-m", "hess_dr.workers"]
        if initializer:
            command.append(initializer)
        self._popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       env=env, close_fds=True)
        self.pid, self.stdin, self.stdout = (self._popen.pid, self._popen.stdin,
                                             self._popen.stdout)

    def run(self, function, args):
        """Send a task, wait for its answer; (ok, value) -- a value left in
        a file is still to be taken (see :func:`_unspooled`)."""
        pickle.dump((function, args), self.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.stdin.flush()
        return pickle.load(self.stdout)

    def close(self) -> None:
        for stream in (self.stdin, self.stdout):
            _FORKED_PIPE_FDS.discard(_fileno(stream))
            try:
                stream.close()
            except OSError:
                pass
        if self._popen is not None:
            try:
                self._popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        elif not _reaped(self.pid, timeout=5):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError):
        return None


def _reaped(pid: int, timeout: float) -> bool:
    """Whether the child ``pid`` ended (and was reaped) within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done or time.monotonic() > deadline:
            return bool(done)
        time.sleep(0.005)


def _fork_worker(initializer: str | None):
    """Fork a worker serving two new pipes; (pid, its input, its output)."""
    task_read, task_write = os.pipe()
    answer_read, answer_write = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        stream.flush()
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the parent's code
        status = 1
        try:
            # No handler of the parent's runs here: a signal ends the worker.
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, signal.SIG_DFL)
            for fd in [task_write, answer_read, *_FORKED_PIPE_FDS]:
                os.close(fd)
            _serve(initializer, os.fdopen(task_read, "rb"), os.fdopen(answer_write, "wb"))
            status = 0
        except BaseException:  # noqa: BLE001 -- reported, then leave
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(status)
    os.close(task_read)
    os.close(answer_write)
    _FORKED_PIPE_FDS.update((task_write, answer_read))
    return pid, os.fdopen(task_write, "wb"), os.fdopen(answer_read, "rb")


class WorkerPool:
    """A fixed number of worker processes (see the module docstring).

    Parameters
    ----------
    workers : int
        Number of processes (started when first needed).
    initializer : str, optional
        ``"module:function"`` each worker calls once at start.
    fork : bool
        Fork every worker now from this process (see the module
        docstring); only where this is the process's one thread, else
        they are spawned as usual.  Workers that replace dead ones are
        spawned.
    """

    def __init__(self, workers: int, initializer: str | None = None, fork: bool = False):
        self.workers = workers
        self.initializer = initializer
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()
        self._closed = False
        self._threads = None
        self.forked = fork and threading.active_count() == 1
        if self.forked:
            for _ in range(workers):
                self._idle.put(_Worker(initializer, fork=True))
                self._started += 1

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            if self._idle.empty() and self._started < self.workers:
                self._started += 1
                try:
                    return _Worker(self.initializer)
                except BaseException:
                    self._started -= 1
                    raise
        return self._idle.get()

    def _checkin(self, worker: _Worker | None) -> None:
        if worker is None:  # it died: a new one is started when needed
            with self._lock:
                self._started -= 1
            return
        if self._closed:
            worker.close()
        else:
            self._idle.put(worker)

    def call(self, function, *args):
        """``function(*args)`` in a worker, waited for in this thread.

        Raises whatever ``function`` raised, or :class:`WorkerError` if the
        worker died.
        """
        worker = self._checkout()
        try:
            ok, value = worker.run(function, args)
        except Exception as exc:  # the worker died (killed, out of memory...)
            worker.close()
            worker = None
            raise WorkerError(f"worker process failed: {type(exc).__name__}: {exc}") from None
        finally:
            self._checkin(worker)  # (before reading a spooled result)
        if not ok:
            raise value
        return _unspooled(value)

    def submit(self, function, *args) -> concurrent.futures.Future:
        """Run ``function(*args)`` in a worker; the future of its result
        (a future not started yet can be cancelled)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            if self._threads is None:
                self._threads = concurrent.futures.ThreadPoolExecutor(
                    self.workers, thread_name_prefix="hess_dr-worker")
        return self._threads.submit(self.call, function, *args)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop the workers (after the submitted tasks, unless ``cancel_futures``)."""
        with self._lock:
            if self._closed:
                return
            threads = self._threads
        if threads is not None:
            threads.shutdown(wait=wait, cancel_futures=cancel_futures)
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.shutdown()


class _Spooled:
    """A bytes result left in a file by the worker (see SPOOL_BYTES)."""

    def __init__(self, path: str, size: int):
        self.path, self.size = path, size

    def take(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        finally:
            os.unlink(self.path)
        if len(data) != self.size:
            raise WorkerError(f"spooled result {self.path}: {len(data)} of {self.size} bytes")
        return data


def _unspooled(value):
    if isinstance(value, tuple):
        return tuple(_unspooled(item) for item in value)
    return value.take() if isinstance(value, _Spooled) else value


def _spooled(value):
    if isinstance(value, tuple):
        return tuple(_spooled(item) for item in value)
    if isinstance(value, bytes) and len(value) >= SPOOL_BYTES:
        fd, path = tempfile.mkstemp(prefix="hess_dr-result-", suffix=".bin")
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        return _Spooled(path, len(value))
    return value


def _serve(initializer: str | None, source=None, sink=None) -> None:
    """A worker's loop: (function, args) pickles in on ``source`` (stdin),
    (ok, value) pickles out on ``sink`` (stdout), until ``source`` closes."""
    if source is None:
        source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the pipe
    if initializer:
        module, _, name = initializer.partition(":")
        getattr(__import__(module, fromlist=[name]), name)()
    while True:
        try:
            function, args = pickle.load(source)
        except EOFError:
            # The pool is closed and every answer is out (flushed): leave
            # without the interpreter's finalization, a tenth of a second
            # with astropy and scipy loaded that the pool's shutdown would
            # wait for, worker after worker (at the end of every import).
            sys.stderr.flush()
            os._exit(0)
        try:
            answer = (True, _spooled(function(*args)))
        except BaseException as exc:  # noqa: BLE001 -- every failure goes back
            try:
                pickle.dumps(exc)
            except Exception:
                exc = WorkerError("".join(traceback.format_exception(exc))[-2000:])
            answer = (False, exc)
        try:
            pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable result
            pickle.dump((False, WorkerError(f"unpicklable result: {exc}")), sink,
                        protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()


if __name__ == "__main__":
    # (through the package module, so that its classes pickle by their name)
    from hess_dr import workers as _workers
    _workers._serve(sys.argv[1] if len(sys.argv) > 1 else None)
