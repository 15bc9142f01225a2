"""Worker processes (hess_dr.workers) and the bounded heavy-work pools
(hess_dr.heavy): results and errors come back, the bound refuses at once,
identical requests share one computation, a dead worker is replaced."""
from __future__ import annotations

import functools
import os
import threading
import time

import pytest

from hess_dr import cutout, errors, heavy, products, workers

# Functions run in the workers (module-level: pickled by name).
import heavy_tasks  # noqa: E402  (tests/unit/heavy_tasks.py)
from unit_support import wait_for_other_threads  # noqa: E402


@pytest.fixture
def pool():
    with workers.WorkerPool(2) as p:
        yield p


def test_results_come_back_small_and_large(pool):
    assert pool.call(heavy_tasks.add, 2, 3) == 5
    big = pool.call(heavy_tasks.blob, 3 * workers.SPOOL_BYTES)  # through a file
    assert big == b"x" * (3 * workers.SPOOL_BYTES)
    assert pool.call(heavy_tasks.pair_of_blobs, 200_000) == (b"a" * 200_000, 7)


def test_workers_import_no_dachs(pool):
    assert pool.call(heavy_tasks.loaded, "gavo") is False
    assert pool.call(heavy_tasks.loaded, "hess_dr.workers") is True


def test_domain_errors_keep_their_type_and_status(pool):
    with pytest.raises(cutout.CutoutError) as info:
        pool.call(heavy_tasks.fail_cutout, "no RA column", 400)
    assert info.value.http_status == 400 and str(info.value) == "no RA column"
    with pytest.raises(products.MissingIRFError) as missing:
        pool.call(heavy_tasks.fail_missing_irf)
    assert missing.value.http_status == 404 and missing.value.available == ("aeff",)
    with pytest.raises(ZeroDivisionError):
        pool.call(heavy_tasks.divide, 1, 0)


def test_a_dead_worker_is_an_error_and_is_replaced():
    with workers.WorkerPool(1) as pool:
        first = pool.call(heavy_tasks.pid)
        with pytest.raises(workers.WorkerError):
            pool.call(heavy_tasks.die)
        assert pool.call(heavy_tasks.add, 1, 1) == 2
        assert pool.call(heavy_tasks.pid) != first


def test_submit_returns_futures_and_unstarted_ones_cancel():
    with workers.WorkerPool(1) as pool:
        first = pool.submit(heavy_tasks.sleep_and_return, 0.3, "a")
        second = pool.submit(heavy_tasks.sleep_and_return, 0.0, "b")
        assert second.cancel()
        assert first.result(timeout=30) == "a"


def test_sizes_from_the_environment():
    assert heavy.configured_sizes({}, cpus=2) == {
        "max_waiting": 8, "files": (2, 8), "previews": (1, 1)}
    assert heavy.configured_sizes({}, cpus=1)["files"] == (1, 8)
    assert heavy.configured_sizes({}, cpus=16)["files"] == (4, 8)
    sizes = heavy.configured_sizes({"HESS_DR_HEAVY_WORKERS": "3", "HESS_DR_HEAVY_QUEUE": "0",
                                    "HESS_DR_PREVIEW_WORKERS": "2",
                                    "HESS_DR_HEAVY_MAX_WAITING": "5"}, cpus=2)
    assert sizes == {"max_waiting": 5, "files": (3, 0), "previews": (2, 1)}
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError, match="HESS_DR_HEAVY_WORKERS"):
            heavy.configured_sizes({"HESS_DR_HEAVY_WORKERS": bad})


@pytest.fixture
def marked_parent(monkeypatch):
    """This process marked (heavy_tasks.PARENT_MARK), to tell forked workers
    from spawned ones."""
    monkeypatch.setattr(heavy_tasks, "PARENT_MARK", os.getpid())
    wait_for_other_threads()
    assert threading.active_count() == 1, [t.name for t in threading.enumerate()]
    return os.getpid()


def test_forked_workers_start_from_this_process(marked_parent):
    with workers.WorkerPool(2, fork=True) as pool:
        assert pool.forked
        assert pool.call(heavy_tasks.parent_mark) == marked_parent
        assert pool.call(heavy_tasks.pid) != marked_parent
        big = pool.call(heavy_tasks.blob, 3 * workers.SPOOL_BYTES)
        assert big == b"x" * (3 * workers.SPOOL_BYTES)
        with pytest.raises(cutout.CutoutError) as info:
            pool.call(heavy_tasks.fail_cutout, "no RA column", 400)
        assert info.value.http_status == 400
        futures = [pool.submit(heavy_tasks.sleep_and_return, 0.2, i) for i in range(4)]
        assert [f.result(timeout=30) for f in futures] == [0, 1, 2, 3]


def test_a_forked_worker_ends_when_its_own_input_closes(marked_parent):
    """Each worker holds only its own pipes: closing one ends it while the
    other (forked after it) still runs."""
    pool = workers.WorkerPool(2, fork=True)
    try:
        first, second = pool._idle.get(), pool._idle.get()
        first.close()
        assert workers._reaped(first.pid, timeout=10)
        assert second.run(heavy_tasks.add, (2, 2)) == (True, 4)
        second.close()
        assert workers._reaped(second.pid, timeout=10)
    finally:
        pool.shutdown()


def test_forked_workers_leave_inherited_sockets_alone(marked_parent, monkeypatch):
    """A forked worker shares this process's sockets (in DaCHS: its
    database sessions, whose objects say goodbye on the socket when
    finalized); it never writes to them, not even when it ends (no
    interpreter finalization, no atexit handlers)."""
    import atexit
    import socket
    ours, peer = socket.socketpair()
    monkeypatch.setattr(heavy_tasks, "SESSION", heavy_tasks.Goodbye(ours))
    farewell = functools.partial(ours.sendall, b"atexit")
    atexit.register(farewell)
    try:
        with workers.WorkerPool(2, fork=True) as pool:
            assert pool.forked
            assert pool.call(heavy_tasks.add, 1, 2) == 3
            with pytest.raises(ZeroDivisionError):
                pool.call(heavy_tasks.divide, 1, 0)
            pids = [pool.call(heavy_tasks.pid) for _ in range(2)]
        assert all(workers._reaped(p, timeout=10) for p in pids)
        peer.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing sent, not shut
            peer.recv(1)
        ours.sendall(b"still ours")
        peer.setblocking(True)
        assert peer.recv(64) == b"still ours"
    finally:
        if os.getpid() == marked_parent:  # (a worker that came back here must not)
            atexit.unregister(farewell)
            heavy_tasks.SESSION.sock = None
            ours.close()
        peer.close()


def test_forked_workers_run_none_of_the_parents_signal_handlers(marked_parent, tmp_path):
    """An interrupt ends a forked worker at once; a handler this process
    installed (it might close database sessions) does not run there."""
    import signal
    ran = tmp_path / "handler-ran"
    previous = signal.signal(signal.SIGTERM, lambda *_: ran.write_text(str(os.getpid())))
    try:
        pool = workers.WorkerPool(1, fork=True)
        pid = pool.call(heavy_tasks.pid)
        os.kill(pid, signal.SIGTERM)
        assert workers._reaped(pid, timeout=10)
        assert not ran.exists()
        with pytest.raises(workers.WorkerError):  # it is gone ...
            pool.call(heavy_tasks.add, 1, 1)
        assert pool.call(heavy_tasks.add, 1, 1) == 2  # ... and replaced
        pool.shutdown()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_dead_forked_worker_is_replaced_by_a_spawned_one(marked_parent):
    with workers.WorkerPool(1, fork=True) as pool:
        assert pool.call(heavy_tasks.parent_mark) == marked_parent
        with pytest.raises(workers.WorkerError):
            pool.call(heavy_tasks.die)
        assert pool.call(heavy_tasks.parent_mark) is None  # spawned afresh
        assert pool.call(heavy_tasks.add, 1, 1) == 2


def test_no_fork_where_other_threads_run(marked_parent):
    """A fork copies only the calling thread: with others running, the
    workers are spawned."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with workers.WorkerPool(1, fork=True) as pool:
            assert not pool.forked
            assert pool.call(heavy_tasks.parent_mark) is None
    finally:
        stop.set()
        other.join()


def _in_threads(n, target):
    results, threads = [None] * n, []
    for i in range(n):
        def run(i=i):
            try:
                results[i] = target(i)
            except Exception as exc:  # noqa: BLE001
                results[i] = exc
        threads.append(threading.Thread(target=run))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_a_finished_request_hands_its_worker_to_the_next_at_once():
    """When a job ends, its worker passes to the first queued request before
    the finishing thread goes on: a request that thread takes next (as a
    server thread does) finds room in the queue, even if the request handed
    the worker has not run yet."""
    pool = heavy.HeavyPool(1, 1, name="files")
    try:
        pool.run(heavy_tasks.add, 0, 0)  # the worker started
        first = _started(lambda: pool.run(heavy_tasks.sleep_and_return, 1.0, "first"))
        _wait_for(lambda: pool._computing == 1)
        second = _started(lambda: pool.run(heavy_tasks.sleep_and_return, 3.0, "second"))
        _wait_for(lambda: pool._queued == 1)
        first.join(60)
        # the worker is the second request's: nothing queued, one computing
        assert (pool._queued, pool._computing, pool.admission.waiting) == (0, 1, 0)
        assert pool.run(heavy_tasks.add, 2, 3) == 5  # queued behind it, not refused
        second.join(60)
        assert (pool._queued, pool._computing) == (0, 0)
    finally:
        pool.shutdown()


def test_one_slow_job_does_not_close_the_queue():
    """The expected wait uses the typical job (the median of the last
    ones), not a mean one slow job inflates."""
    pool = heavy.HeavyPool(1, 10, name="files", max_wait=0.5)
    try:
        for seconds in (0.0, 0.0, 0.0, 2.0):  # three quick jobs, one slow one
            pool.run(heavy_tasks.sleep_and_return, seconds, 0)
        computing = _started(lambda: pool.run(heavy_tasks.sleep_and_return, 3.0, "c"))
        _wait_for(lambda: pool._computing == 1)
        results = _in_threads(4, lambda i: pool.run(heavy_tasks.sleep_and_return, 0.0, i))
        computing.join(60)
        assert results == [0, 1, 2, 3]  # a mean (0.5 s) would have refused three
    finally:
        pool.shutdown()


def _started(target) -> threading.Thread:
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def _wait_for(condition, seconds=20.0):
    """Poll until ``condition()`` holds (bounded; the assertion after it
    says what was expected)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_full_pool_refuses_at_once_with_retry_after():
    pool = heavy.HeavyPool(1, 1, name="files")
    try:
        pool.run(heavy_tasks.add, 0, 0)  # started
        computing = _started(lambda: pool.run(heavy_tasks.sleep_and_return, 3.0, "c"))
        _wait_for(lambda: pool._computing == 1)
        results = _in_threads(4, lambda i: pool.run(heavy_tasks.sleep_and_return, 0.5, i))
        computing.join(60)
        busy = [r for r in results if isinstance(r, errors.ServiceBusy)]
        done = [r for r in results if not isinstance(r, Exception)]
        assert len(done) == 1 and len(busy) == 3  # one computing, one queued
        assert all(b.http_status == 503 and b.retry_after >= 1 for b in busy)
        assert pool.waiting == 0
    finally:
        pool.shutdown()


def test_a_clogged_pool_refuses_by_expected_wait():
    """A queue with room is refused when its expected wait is too long."""
    pool = heavy.HeavyPool(1, 10, name="files", max_wait=0.5)
    try:
        pool.run(heavy_tasks.sleep_and_return, 0.4, 0)  # the mean job: 0.4 s
        computing = _started(lambda: pool.run(heavy_tasks.sleep_and_return, 3.0, "c"))
        _wait_for(lambda: pool._computing == 1)
        results = _in_threads(3, lambda i: pool.run(heavy_tasks.sleep_and_return, 0.4, i))
        computing.join(60)
        # one computes; one queued waits 0.4 s; a second would wait 0.8 s
        assert sum(isinstance(r, errors.ServiceBusy) for r in results) == 2
    finally:
        pool.shutdown()


def test_pools_share_one_bound():
    """Requests queued in one pool use up the shared bound of the other."""
    admission = heavy.Admission(2)
    files = heavy.HeavyPool(1, 5, admission=admission, name="files")
    previews = heavy.HeavyPool(1, 1, admission=admission, name="previews")
    try:
        # one request after the other, each once the previous is accounted
        # for (threads started together race for the shared bound)
        slow = [_started(lambda: previews.run(heavy_tasks.sleep_and_return, 3.0, "p"))]
        _wait_for(lambda: previews._computing == 1)
        slow.append(_started(lambda: files.run(heavy_tasks.sleep_and_return, 3.0, 0)))
        _wait_for(lambda: files._computing == 1)
        for i in (1, 2):
            slow.append(_started(lambda i=i: files.run(heavy_tasks.sleep_and_return, 3.0, i)))
            _wait_for(lambda i=i: admission.waiting == i)
        # files: one computing, two queued; previews: one computing
        assert (files._computing, previews._computing, admission.waiting) == (1, 1, 2)
        with pytest.raises(errors.ServiceBusy):
            previews.run(heavy_tasks.add, 1, 2)  # would queue: the shared bound is full
        for thread in slow:
            thread.join()
        assert previews.run(heavy_tasks.add, 1, 2) == 3  # a free worker: never refused
    finally:
        files.shutdown()
        previews.shutdown()


def test_identical_requests_share_one_computation(tmp_path):
    pool = heavy.HeavyPool(2, 8, name="previews")
    counter = tmp_path / "count"
    try:
        results = _in_threads(6, lambda i: pool.run(heavy_tasks.count_and_return, str(counter),
                                                     0.5, "png", key=("preview", "x")))
        assert results == ["png"] * 6
        assert counter.read_text() == "1"  # computed once
        assert pool.computed == 1
        # a later request computes again (nothing is remembered here)
        assert pool.run(heavy_tasks.count_and_return, str(counter), 0.0, "png",
                        key=("preview", "x")) == "png"
        assert counter.read_text() == "2"
    finally:
        pool.shutdown()


def test_a_shared_failure_reaches_every_waiter():
    pool = heavy.HeavyPool(1, 8, name="previews")
    try:
        results = _in_threads(3, lambda i: pool.run(heavy_tasks.sleep_then_fail, 0.4,
                                                    key="same"))
        assert all(isinstance(r, cutout.CutoutError) for r in results)
    finally:
        pool.shutdown()


def test_joiners_need_no_room_in_the_pool_queue(tmp_path):
    """One computation, many identical requests: only the shared bound
    limits the ones waiting for it (the pool's own queue holds none)."""
    admission = heavy.Admission(5)
    pool = heavy.HeavyPool(1, 0, admission=admission, name="previews")
    counter = tmp_path / "count"
    try:
        def request(i):
            return pool.run(heavy_tasks.count_and_return, str(counter), 3.0, "png", key="one")

        # The owner computes before the others come: while it still waits
        # for its worker (spawned on first use) it holds a place in the bound.
        owner = [None]
        owner_thread = _started(lambda: owner.__setitem__(0, request(0)))
        _wait_for(lambda: pool._computing == 1)
        assert pool._computing == 1 and admission.waiting == 0
        results = _in_threads(7, request)
        owner_thread.join(60)
        done = [r for r in results if r == "png"]
        busy = [r for r in results if isinstance(r, errors.ServiceBusy)]
        assert owner[0] == "png"
        assert len(done) == 5 and len(busy) == 2  # five wait for the computing one
        assert counter.read_text() == "1"
    finally:
        pool.shutdown()
