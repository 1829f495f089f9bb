"""The network of organisations computed in the background, never in a request nor under the
accept lock of a big store, and off the web process's interpreter.

:func:`kb.publish.network.compute` reads the whole organisation graph and runs networkx (betweenness,
Louvain, layout): a second on the real data, minutes at a million statements, holding the Python
interpreter all the while. Here it runs in a child process (``spawn``) that opens the store
read-only (an embedded store, as the SPARQL workers do) or the same remote store, at low priority,
and sends back the :class:`~kb.publish.network.Network` with the difference it makes to
``graph/network`` (and to ``graph/aligned``, which holds the community labels' ``schema:name``). The
web process only waits on a pipe, then writes that difference under the accept lock
(kb/build/incremental.py's ``LOCK``) when no write came in between, else computes again. An
in-memory store (tests, tools) has no files a child could open: it is computed in the job's thread.

One job per store at a time, started by :func:`refresh` (at start-up by kb/index/warm.py, after an
accepted submission that left the figures to it, and by a request that finds no network of the
current generation). When it finishes it looks at the store's generation again: several accepts
in a row give one more computation, of the newest generation, not one each.

:func:`current` is what ``/network`` and ``/network.json`` ask: the network of the store's current
generation when computed; else an older generation's (stale-while-revalidate: the page says whose it
is, and that it is being refreshed) with the job started; else it waits for the job at most ``wait``
seconds and raises :class:`Computing` (503 with Retry-After and a message saying when to come back).
A child that dies (killed, out of memory) ends its job with an error: the requests waiting on it get
the 503, and the next request starts the job again.

An accept that left the figures to the job and was then killed before the job wrote them leaves
``graph/network`` of an older generation: the next start-up's job (kb/index/warm.py) finds the
difference and writes it, as does the job of the next accept.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import traceback
import weakref

import pyoxigraph as ox

from kb.errors import KBError
from kb.publish import network
from kb.store import child
from kb.store.child import Crashed

log = logging.getLogger("dsikb.network")


class Computing(KBError):
    """No network of this store has been computed yet, and the job did not finish in time (or
    failed): come back in a while."""

    status = 503


class _StoreMoved(Exception):
    """The writer compacted files the child's read-only open was reading (a write during the job, as
    the SPARQL workers see under load): compute again, from the newest generation."""


MOVED_RETRIES = 5  # in a row, then the job fails


class _Job:
    """The background job of one store: its thread, the generation it computes, its child."""

    def __init__(self, generation: int):
        self.generation = generation
        self.started = time.monotonic()
        self.process = None  # the child process computing now (None: in this thread, or between)
        self.error: BaseException | None = None
        self.ended = False
        self.rounds = 0  # computations made (one per newer generation found at the end of the last)
        self.ended_at = 0.0
        self.counted = False  # in _failures


_jobs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> its _Job
_took: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> seconds the last computation took
_failures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> jobs failed in a row
_cond = threading.Condition()


def _current_cached(kb, generation: int):
    cached = network.cached(kb)
    return cached if cached is not None and cached.generation >= generation else None


def refresh(kb) -> _Job | None:
    """Start the job unless it runs already (it takes the newest generation when it finishes) or the
    network of the current generation is known; the job, else None."""
    generation = kb.generation
    with _cond:
        if _current_cached(kb, generation) is not None:
            return None
        return _start(kb, generation)


def _start(kb, generation: int) -> _Job:
    job = _jobs.get(kb)
    if job is not None and job.ended and job.error is not None:
        failed = _failures[kb] = _failures.get(kb, 0) + (0 if job.counted else 1)
        job.counted = True
        if failed > 1 and time.monotonic() - job.ended_at < min(300, 5 * 2 ** failed):
            return job  # failing again and again: not one child per request (the first retry is at once)
    if job is None or job.ended:
        job = _jobs[kb] = _Job(generation)
        threading.Thread(target=_run, args=(kb, job), name="dsikb-network", daemon=True).start()
    return job


def job(kb) -> _Job | None:
    """The store's job, running or ended (None before the first)."""
    with _cond:
        return _jobs.get(kb)


def wait(kb, timeout: float) -> bool:
    """Wait until no job of this store runs (at most ``timeout`` seconds); True when none does."""
    deadline = time.monotonic() + timeout
    with _cond:
        while (j := _jobs.get(kb)) is not None and not j.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _cond.wait(left)
    return True


def current(kb, wait: float | None = None) -> tuple[network.Network, bool]:
    """(the network to show, whether it is being refreshed): the current generation's, else the
    newest older one's while the job computes (True), else the job's result within ``wait`` seconds
    (None: however long it takes); :class:`Computing` otherwise."""
    generation = kb.generation
    deadline = None if wait is None else time.monotonic() + wait
    with _cond:
        job = None
        while True:
            net = network.cached(kb)
            if net is not None and net.generation >= generation:
                return net, False
            if job is None:
                job = _start(kb, generation)  # once per request: a job that fails is not retried here
            if net is not None:
                return net, True
            if job.ended and job.error is not None:
                raise Computing("the network of organisations could not be computed this time "
                                f"({_describe(job.error)}); it is computed again at a later request: "
                                "try again in 10 s", headers={"Retry-After": "10"})
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise _computing(kb, job)
            _cond.wait(left)


def _computing(kb, job: _Job) -> Computing:
    ran = time.monotonic() - job.started
    took = _took.get(kb)
    retry = int(min(300, max(5, (took or 2 * ran) - ran)))
    return Computing(f"the network of organisations is being computed for this version of the data ({ran:.0f} s so far"
                     + (f"; the last computation took {took:.0f} s" if took else "")
                     + f"): try again in {retry} s. It is computed once per change of the data, in the "
                     "background, then answered from memory", headers={"Retry-After": str(retry)})


def _describe(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__


# -- the job ----------------------------------------------------------------------------------------
def _run(kb, job: _Job) -> None:
    moved = 0
    try:
        while True:
            target = kb.generation
            job.generation, job.started = target, time.monotonic()
            try:
                net, changes = _compute(kb, target, job)
            except _StoreMoved:
                moved += 1
                if moved > MOVED_RETRIES:
                    raise
                continue
            moved = 0
            _write(kb, net, changes, target)
            job.rounds += 1
            network.offer(kb, net)  # (not under _cond: the requests' lock is never held behind network's)
            with _cond:
                _took[kb] = time.monotonic() - job.started
                if _current_cached(kb, kb.generation) is not None:  # this one, or an accept's since
                    job.ended, job.ended_at = True, time.monotonic()
                    _failures.pop(kb, None)
                    _cond.notify_all()
                    return
                _cond.notify_all()  # an older generation's figures: better than none while the next is computed
    except BaseException as exc:  # handed to the requests waiting on this job; the next request starts another
        log.error("computing the network of organisations failed: %s", _describe(exc),
                  exc_info=not isinstance(exc, Crashed))
        with _cond:
            job.error = exc
            job.ended, job.ended_at = True, time.monotonic()
            _cond.notify_all()


def _compute(kb, generation: int, job: _Job):
    if not child.possible(kb):
        return figures(kb, generation)
    settings = child.settings_for(kb)
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child_conn, settings, generation), daemon=True,
                          name="dsikb-network")
    process.start()
    child_conn.close()
    job.process = process
    try:
        try:
            message = conn.recv()  # waits on the pipe: the interpreter is free meanwhile
        except (EOFError, OSError):
            process.join(5)
            raise Crashed(f"the process computing it ended without an answer (exit code {process.exitcode})") from None
    finally:
        conn.close()
        job.process = None
    process.join(30)
    if message[0] == "moved":
        raise _StoreMoved(message[1])
    if message[0] != "done":
        raise RuntimeError(message[1])
    return message[1], message[2]


def _child(conn, settings, generation: int) -> None:
    """Body of the child process: open the store read-only, compute, send (network, changes)."""
    child.settle()
    try:
        kb = child.open_read_only(settings)
        net, changes = figures(kb, generation)
        conn.send(("done", net, changes))
    except (OSError, RuntimeError) as exc:
        moved = any(sign in str(exc) for sign in child.MOVED_SIGNS)
        conn.send(("moved" if moved else "error", traceback.format_exc()))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def figures(kb, generation: int):
    """The network of the store as it is (labelled ``generation``) and what writing its figures
    changes: graph IRI -> (removed, added) for graph/network and graph/aligned, or None for
    graph/aligned when its difference has blank nodes (then it is aligned again in full)."""
    from kb.build import incremental

    net = network.compute(kb, generation)
    return net, incremental.network_changes(kb, net)


def _write(kb, net: network.Network, changes: dict, generation: int) -> bool:
    """Write the figures' difference when the store is still at ``generation`` (nothing written since
    they were read, so the difference is right), under the accept lock; True when the network is the
    current one (written or unchanged)."""
    from kb.build import incremental

    with incremental.LOCK:
        if kb.generation != generation:
            return False  # overtaken: the job computes the newest generation next
        if not kb.has_graph(ox.NamedNode(kb.graphs.network)):
            network.keep(kb, net)  # a store not derived yet: its derivation writes the figures
            return True
        incremental.write_network(kb, net, changes)
        return True
