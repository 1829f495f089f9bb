"""Query evaluation that can be stopped: a pool of worker processes over a read-only store.

pyoxigraph 0.5 cannot cancel a running query, so each query runs in a worker process (``spawn``)
that the pool kills when the query outlives its deadline; a fresh worker replaces it in the
background. A read-only open sees a snapshot, so workers opened before the store's generation
changed are replaced before their next query. See docs/decisions/2026-11-29-query-timeout.md.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import queue
import select
import threading
import time
import weakref
from typing import Callable, Iterator

from kb.errors import KBError, Timeout

_POOLS: "weakref.WeakSet[WorkerPool]" = weakref.WeakSet()
STARTUP_TIMEOUT = 60.0


class Busy(Timeout):
    """Every worker stayed busy for as long as the caller would wait (503, with Retry-After)."""


CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000


def isolate_network() -> tuple[bool, str]:
    """Move this process into a new, empty network namespace (Linux ``unshare(2)``): it keeps the
    pipes and files it has but can open no connection at all, not even to 127.0.0.1, since the new
    namespace's loopback is down. Tries ``CLONE_NEWNET`` (needs CAP_SYS_ADMIN, e.g. root), then
    ``CLONE_NEWUSER | CLONE_NEWNET`` (unprivileged user namespaces). Returns (isolated, how or why not)."""
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        unshare = libc.unshare
    except (OSError, AttributeError) as exc:
        return False, f"unshare(2) is not available: {exc}"
    errors = []
    for flags, name in ((CLONE_NEWNET, "CLONE_NEWNET"),
                        (CLONE_NEWUSER | CLONE_NEWNET, "CLONE_NEWUSER|CLONE_NEWNET")):
        if unshare(flags) == 0:
            return True, f"unshare({name})"
        errors.append(f"unshare({name}): {os.strerror(ctypes.get_errno())}")
    return False, "; ".join(errors)


def worker_main(conn, store_path: str, isolate: bool = True, nice: int = 0) -> None:
    """Body of a worker process: cut itself off the network (``isolate``, when no SERVICE endpoint is
    allow-listed), open the store read-only, then answer jobs until told to stop. The ready message
    says whether the isolation took: ``("ready", {"network_isolated": bool, "isolation": str})``."""
    import logging

    if isolate:  # first, while this process has one thread: unshare(CLONE_NEWUSER) needs that
        isolated, how = isolate_network()
        if not isolated:
            logging.getLogger("dsikb.sparql").warning(
                "SPARQL worker NOT isolated from the network (%s); SERVICE/LOAD are still refused "
                "by the query check", how)
    else:
        isolated, how = False, "not asked: DSIKB_SERVICE_ALLOWLIST names federated endpoints"

    if nice:  # heavy-lane workers yield the CPU to light lookups and to the pages (two cores)
        import os

        try:
            os.nice(nice)
        except OSError:
            pass

    import pyoxigraph as ox

    from kb.sparql.evaluate import evaluate

    for attempt in range(5):
        try:
            store = ox.Store.read_only(store_path)
            break
        except (OSError, RuntimeError) as exc:
            # RuntimeError "Corruption: ... No such file": the writer compacted the files this read-only
            # open was reading (seen under load): open again
            if attempt == 4:
                conn.send(("failed", str(exc)))
                return
            time.sleep(0.1 * (attempt + 1))
    _exit_with_parent()
    conn.send(("ready", {"network_isolated": isolated, "isolation": how}))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            evaluate(store.query, job, conn.send)
        except (BrokenPipeError, EOFError, OSError):
            return


def _exit_with_parent() -> None:
    """A worker whose web process died (SIGKILL: no chance to stop it) ends within a second, even in
    the middle of a runaway query, instead of running on as an orphan. (PR_SET_PDEATHSIG would follow
    the thread that started the worker, and respawn threads end at once.)"""
    import os
    import threading

    parent = os.getppid()

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="dsikb-worker-watchdog", daemon=True).start()


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self, ctx, store_path: str, generation: int, isolate: bool = True, nice: int = 0):
        self.generation = generation
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, store_path, isolate, nice), daemon=True,
                                   name="dsikb-sparql-worker")
        self.process.start()
        child.close()
        self.poller = select.poll()  # one poll object per pipe: cheaper than Connection.poll's selector
        self.poller.register(self.conn.fileno(), select.POLLIN)
        if not self.conn.poll(STARTUP_TIMEOUT):
            self.stop()
            raise KBError("a SPARQL worker did not start in time")
        try:
            message = self.conn.recv()
        except EOFError:
            message = ("failed", "it exited")
        if message[0] != "ready":
            self.stop()
            raise KBError(f"a SPARQL worker could not open the store {store_path}: {message[1]}")
        self.info = message[1] if len(message) > 1 else {}  # network_isolated, isolation

    def stop(self) -> None:
        """Kill and reap the process; a second call (pool closing while a respawn retires it) does nothing."""
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        if self.process.exitcode is not None:
            self.process.close()


class WorkerPool:
    """``size`` workers over the store at ``store_path``; ``generation()`` tells when it changed."""

    def __init__(self, store_path: str, size: int, generation: Callable[[], int], isolate: bool = True,
                 nice: int = 0):
        self.store_path = store_path
        self.isolate = isolate  # workers without network (no SERVICE endpoint is allow-listed)
        self.nice = nice
        self.size = max(1, size)
        self.generation = generation
        self._ctx = multiprocessing.get_context("spawn")
        # Last in, first out: the worker that answered last has the warmest caches (CPU, RocksDB
        # blocks), so a quiet server keeps answering from one hot worker.
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        _POOLS.add(self)

    # -- workers ---------------------------------------------------------------------------------
    def _spawn(self) -> Worker:
        worker = Worker(self._ctx, self.store_path, self.generation(), self.isolate, self.nice)
        with self._lock:
            if self._closed:
                worker.stop()
                raise KBError("the SPARQL worker pool is closed")
            self._all.add(worker)
        return worker

    def _retire(self, worker: Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.stop()

    def _replace_later(self, then: Callable[[], None] | None = None) -> None:
        """Start a replacement worker in the background; ``then()`` once it is ready (or failed)."""
        def run():
            try:
                for attempt in range(3):  # a worker now and then dies starting: do not let the pool shrink
                    try:
                        self._idle.put(self._spawn())
                        return
                    except KBError:
                        if self._closed:
                            return
                        time.sleep(0.2 * (attempt + 1))
            finally:
                if then is not None:
                    then()
        threading.Thread(target=run, name="dsikb-sparql-respawn", daemon=True).start()

    def start(self) -> None:
        """Start the workers (in parallel); called on the first query. Raises if none could start."""
        with self._lock:
            if self._started:
                return
            self._started = True
        errors: list[KBError] = []

        def one():
            try:
                self._idle.put(self._spawn())
            except KBError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, name="dsikb-sparql-start") for _ in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(errors) == self.size:
            with self._lock:
                self._started = False
            raise errors[0]
        for _ in errors:  # a worker that died starting (seen now and then under load): try again in
            self._replace_later()  # the background, so the pool gets back to its size

    def close(self) -> None:
        """Stop every worker (idle or busy); used at app shutdown and at interpreter exit."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()

    # -- running a query -------------------------------------------------------------------------
    def submit(self, job: dict, timeout: float, wait: float | None = None, light: bool = False) -> "Execution":
        """Send ``job`` to an idle worker; the returned execution yields its messages. Waits at
        most ``wait`` seconds (default: the timeout) for a worker, then raises ``Busy``."""
        wait = timeout if wait is None else min(wait, timeout)
        worker = self.take(wait)
        return Execution(self, self.send(worker, job), time.monotonic() + timeout, timeout)

    def take(self, wait: float, block: bool = True) -> "Worker":
        """An idle worker, waiting at most ``wait`` seconds (``Busy`` then, or at once if not ``block``)."""
        if not self._started:
            self.start()
        try:
            worker = self._idle.get(timeout=max(0.0, wait)) if block else self._idle.get_nowait()
        except queue.Empty:
            raise Busy(f"all {self.size} query workers are busy (DSIKB_QUERY_WORKERS); "
                       "try again shortly", headers={"Retry-After": "2"}) from None
        if worker.generation != self.generation():
            self._retire(worker)  # it sees an old snapshot of the store
            worker = self._spawn()
        return worker

    def send(self, worker: "Worker", job: dict) -> "Worker":
        try:
            worker.conn.send(job)
        except (OSError, ValueError):
            self._retire(worker)
            self._replace_later()
            raise KBError("a SPARQL worker died; try again") from None
        return worker

    def _release(self, worker: Worker, healthy: bool, then: Callable[[], None] | None = None) -> None:
        """Give ``worker`` back, or replace it; ``then()`` when the pool has its worker again, so a
        client whose query was stopped gets its slot back only with a worker to use it on."""
        if healthy and not self._closed:
            self._idle.put(worker)
        else:
            self._retire(worker)
            if not self._closed:
                self._replace_later(then)
                return
        if then is not None:
            then()


class Execution:
    """Messages of one running query; ``close()`` gives the worker back (or kills it if unfinished)."""

    def __init__(self, pool, worker, deadline: float, timeout: float):
        self.pool, self.worker, self.deadline, self.timeout = pool, worker, deadline, timeout
        self.lane = "heavy"
        self.light_deadline: float | None = None  # light lane: its budget for the first message
        self.move: Callable[[float], tuple] | None = None  # -> (pool, worker) on the heavy lane
        self.done = False
        self.closed = False
        self.started = time.monotonic()
        self.info: dict | None = None  # the worker's figures (rows, seconds) once it has finished
        self.timed_out = False
        self.on_finish: Callable[["Execution"], None] | None = None  # called at close()
        self.on_close: Callable[["Execution"], None] | None = None  # once the worker is back

    @property
    def cost(self) -> float:
        """Seconds of evaluation this query used: the worker's own figure, the whole timeout when
        it was stopped, else the wall time it held the worker."""
        if self.timed_out:
            return self.timeout
        if self.info and "seconds" in self.info:
            return float(self.info["seconds"])
        return time.monotonic() - self.started

    def _recv(self, remaining: float):
        # A blocking wait, no busy polling: on two cores a spinning request thread slows the worker
        # it waits for (measured: query 10 at 1.92x Oxigraph's latency spinning, 1.52x without).
        if remaining > 0 and self.worker.poller.poll(math.ceil(remaining * 1000)):
            return self.worker.conn.recv()
        return None

    def next(self) -> tuple:
        """The next message; raises Timeout (and stops the worker) past the deadline."""
        light = self.light_deadline is not None
        try:
            message = self._recv((self.light_deadline if light else self.deadline) - time.monotonic())
        except (EOFError, OSError):
            self.close()
            raise KBError("the SPARQL worker stopped unexpectedly") from None
        if message is None and light and time.monotonic() < self.deadline:
            self._move_to_heavy()
            return self.next()
        self.light_deadline = None  # streaming has begun: the query stays where it is
        if message is None:
            self.timed_out = True
            self.close()
            raise Timeout(f"the query ran longer than the query timeout (DSIKB_QUERY_TIMEOUT = "
                          f"{self.timeout:g} s) and was stopped; narrow it down (LIMIT, more specific "
                          "patterns) or run it on a dump")
        if message[0] in ("all", "end", "error"):
            self.done = True
            if message[0] != "error":
                self.info = message[-1]
        return message

    def _move_to_heavy(self) -> None:
        """The light lane's budget is spent: stop the light worker, evaluate again on the heavy lane."""
        self.light_deadline = None
        old_pool, old_worker = self.pool, self.worker
        try:
            self.pool, self.worker = self.move(self.deadline - time.monotonic())
        except BaseException:
            self.pool, self.worker = old_pool, old_worker  # close() gives this one back (killed)
            self.closed or self.close()
            raise
        self.lane = "heavy (moved from light)"
        old_pool._release(old_worker, healthy=False)

    def chunks(self) -> Iterator[bytes]:
        """The remaining chunks after a first ``chunk`` message; stops quietly past the deadline."""
        try:
            while not self.done:
                try:
                    message = self.next()
                except KBError:
                    return
                if message[0] == "chunk":
                    yield message[1]
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.on_finish is not None:
                self.on_finish(self)
            then = (lambda: self.on_close(self)) if self.on_close is not None else None
            self.pool._release(self.worker, healthy=self.done, then=then)


class Lanes:
    """Two pools over one store: ``heavy`` (every query may use it; its workers run at a lower CPU
    priority) and ``light`` (lookups only, kb/sparql/lanes.py), so a light lookup never waits in the
    queue behind heavy queries. A light query takes an idle light worker, else an idle heavy one,
    else waits for a light one; on a light worker it has ``light_seconds`` to send its first answer,
    or it is stopped there and evaluated again on the heavy lane."""

    def __init__(self, store_path: str, heavy: int, light: int, generation: Callable[[], int],
                 isolate: bool = True, light_seconds: float = 1.0, heavy_nice: int = 5):
        self.heavy = WorkerPool(store_path, heavy, generation, isolate, nice=heavy_nice)
        self.light = WorkerPool(store_path, light, generation, isolate)
        self.light_seconds = light_seconds
        self.size = self.heavy.size  # what a client may share of (endpoint client_cap)

    def start(self) -> None:
        self.heavy.start()
        self.light.start()

    def close(self) -> None:
        self.heavy.close()
        self.light.close()

    def submit(self, job: dict, timeout: float, wait: float | None = None, light: bool = False) -> Execution:
        wait = timeout if wait is None else min(wait, timeout)
        if not light:
            return self.heavy.submit(job, timeout, wait)
        if not self.light._started:
            self.start()
        try:
            pool, worker = self.light, self.light.take(0, block=False)
        except Busy:
            try:
                pool, worker = self.heavy, self.heavy.take(0, block=False)
            except Busy:
                pool, worker = self.light, self.light.take(wait)
        execution = Execution(pool, pool.send(worker, job), time.monotonic() + timeout, timeout)
        if pool is self.light:
            execution.lane = "light"
            execution.light_deadline = time.monotonic() + min(self.light_seconds, timeout)

            def move(remaining: float) -> tuple:
                if remaining <= 0:
                    raise Busy("the query ran out of time", headers={"Retry-After": "2"})
                worker = self.heavy.take(min(wait, remaining))
                return self.heavy, self.heavy.send(worker, job)

            execution.move = move
        return execution


class InlinePool:
    """For stores no worker process can open (in memory, remote): each query runs in a thread. A
    query past its deadline is answered 503 at once but cannot be stopped (a remote store applies
    its own timeout; the HTTP client's timeout bounds the wait)."""

    def __init__(self, query: Callable):
        self.query = query

    def submit(self, job: dict, timeout: float, wait: float | None = None, light: bool = False) -> "Execution":
        from kb.sparql.evaluate import evaluate

        messages: queue.Queue = queue.Queue()
        threading.Thread(target=evaluate, args=(self.query, job, messages.put), daemon=True,
                         name="dsikb-sparql-inline").start()
        return _InlineExecution(self, messages, time.monotonic() + timeout, timeout)

    def _release(self, worker, healthy: bool, then: Callable[[], None] | None = None) -> None:
        if then is not None:
            then()

    def close(self) -> None:
        pass


class _InlineExecution(Execution):
    def _recv(self, remaining: float):
        if remaining <= 0:
            return None
        try:
            return self.worker.get(timeout=remaining)
        except queue.Empty:
            return None


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()
