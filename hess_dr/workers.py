"""Worker processes that import only what they run.

:class:`WorkerPool` starts ``python -m hess_dr.workers`` processes and sends
them module-level functions with their arguments as pickles over pipes, one
task at a time per worker; :meth:`WorkerPool.submit` returns a
:class:`concurrent.futures.Future`.

Why not :mod:`multiprocessing`: its "spawn" children import the parent's
main module first, and the main module of a DaCHS process is DaCHS's
command line (1.5 s of imports per worker, before any work); "fork" would
share the parent's database sockets.  These workers start with the hess_dr
package only (and whatever their first task imports), so an import of a
hundred files has its readers ready in a fraction of a second.

Workers inherit the parent's ``sys.path`` (as PYTHONPATH), so they import
hess_dr from where the parent did.
"""
from __future__ import annotations

import concurrent.futures
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import traceback

#: Results of at least this many bytes come back through a file: a pipe
#: carries 64 kB a read, and every read makes a thread of a busy server
#: wait for the interpreter lock again.
SPOOL_BYTES = 64 * 1024

_STOP = object()


class WorkerError(RuntimeError):
    """A worker process died or answered garbage."""


class WorkerPool:
    """A fixed number of worker processes (see the module docstring).

    Parameters
    ----------
    workers : int
        Number of processes (started on the first :meth:`submit`).
    initializer : str, optional
        ``"module:function"`` each worker calls once at start.
    """

    def __init__(self, workers: int, initializer: str | None = None):
        self.workers = workers
        self.initializer = initializer
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._processes: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self._closed = False

    def _start(self) -> None:
        env = dict(os.environ)
        path = [p for p in sys.path if p and os.path.isdir(p)]
        env["PYTHONPATH"] = os.pathsep.join(path)
        env["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, "-m", "hess_dr.workers"]
        if self.initializer:
            command.append(self.initializer)
        for _ in range(self.workers):
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       env=env, close_fds=True)
            thread = threading.Thread(target=self._feed, args=(process,), daemon=True,
                                      name="hess_dr-worker-feeder")
            self._processes.append(process)
            self._threads.append(thread)
            thread.start()

    def submit(self, function, *args) -> concurrent.futures.Future:
        """Run ``function(*args)`` in a worker; the future of its result."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            if not self._processes:
                self._start()
            self._tasks.put((future, function, args))
        return future

    def _feed(self, process: subprocess.Popen) -> None:
        while True:
            task = self._tasks.get()
            if task is _STOP:
                break
            future, function, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                pickle.dump((function, args), process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                process.stdin.flush()
                ok, value = pickle.load(process.stdout)
                if ok:
                    value = _unspooled(value)
            except Exception as exc:  # the worker died (killed, out of memory...)
                future.set_exception(WorkerError(f"worker process {process.pid} failed:"
                                                 f" {type(exc).__name__}: {exc}"))
                self._replace(process)
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        self._close_process(process)

    def _replace(self, process: subprocess.Popen) -> None:
        """Start a new worker for a dead one (unless shutting down)."""
        self._close_process(process)
        with self._lock:
            if self._closed:
                return
            self._processes.remove(process)
            workers, self.workers = self.workers, 1
            try:
                self._start()
            finally:
                self.workers = workers

    @staticmethod
    def _close_process(process: subprocess.Popen) -> None:
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Stop the workers (after the queued tasks, unless ``cancel_futures``)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        task = self._tasks.get_nowait()
                    except queue.Empty:
                        break
                    if task is not _STOP:
                        task[0].cancel()
            for _ in self._threads:
                self._tasks.put(_STOP)
        if wait:
            for thread in self._threads:
                thread.join()

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


def _serve(initializer: str | None) -> None:
    """A worker's loop: (function, args) pickles in on stdin, (ok, value)
    pickles out on stdout, until stdin closes."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the pipe
    if initializer:
        module, _, name = initializer.partition(":")
        getattr(__import__(module, fromlist=[name]), name)()
    while True:
        try:
            function, args = pickle.load(source)
        except EOFError:
            return
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
