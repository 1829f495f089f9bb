"""Work over the store done in a child process, so that the web process keeps none of its scratch.

A build that reads much of the store (the browse tables, the search index) makes many short-lived
Python objects and some that live on. When it ends, Python and glibc can give back to the system only
memory with nothing alive left in it, and the survivors, scattered among the freed scratch, keep much
of it: at 1M statements the web process held ~73 MiB more after building the browse tables, of which
~37 MiB were the tables. A child process (``spawn``, as the
SPARQL workers and the network job use) opens the same store read-only (an embedded one on disk) or
the same remote store, does the work, sends its result back through a pipe and ends: all its memory
goes with it. An in-memory store has no files a child could open: the work runs in the caller; so
does a build over a small store (:func:`worth_it`), where a child's start costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
import traceback

NICE = 10  # a child yields the CPU to the pages and queries (two cores)
OPEN_ATTEMPTS = 5
MOVED_RETRIES = 5
IN_PLACE_BELOW = 50_000  # typed resources (statements ``?s a ?c``): a smaller store's builds run in the caller
# counted up to 50,000 at most (constant text: no value is spliced into a query), so IN_PLACE_BELOW
# can be lowered, not raised, without changing the LIMIT too
COUNT_TYPED = "SELECT (COUNT(*) AS ?n) WHERE { SELECT ?s WHERE { ?s a ?c } LIMIT 50000 }"
MOVED_SIGNS = ("No such file", "Corruption")  # what RocksDB says when a compaction removed a file being read


class Crashed(Exception):
    """The child process ended without an answer (killed, out of memory)."""


def possible(kb) -> bool:
    """Whether a child process can open this store: on disk, or remote; not an in-memory one."""
    return not kb.in_process or getattr(kb, "path", None) is not None


def worth_it(kb) -> bool:
    """Whether a build over this store is better done in a child process: one is possible and the
    store has at least IN_PLACE_BELOW typed resources. Starting a child costs ~2 s (a Python and the
    package's imports): on the real DSI data a build takes 0.3-0.4 s in place and 2-3 s in a child,
    while its scratch is a few MiB. The count stops at the threshold (a bounded query)."""
    if not possible(kb):
        return False
    rows = kb.query(COUNT_TYPED, prologue=False)
    return int(next(iter(rows))[0].value) >= IN_PLACE_BELOW


def settings_for(kb):
    """The settings a child opens the same store with (an embedded store: by its path)."""
    return kb.settings if not kb.in_process else kb.settings.replace(store=str(kb.path))


def open_read_only(settings):
    """The store, opened read-only, retried when the writer compacted the files being read."""
    from kb.store import KB

    for attempt in range(OPEN_ATTEMPTS):
        try:
            return KB.open(settings, read_only=True)
        except (OSError, RuntimeError):
            # the writer compacted the files this read-only open was reading (as the SPARQL workers see)
            if attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def run(kb, target, *args, name: str = "dsikb-child"):
    """``target(kb, *args)`` in a child process over the same store (read-only); its result (which
    must pickle) returned here. ``target`` is a module-level function. An exception in the child is
    raised here (the same one when it pickles, else a RuntimeError with the child's traceback); a
    child that dies raises :class:`Crashed`. In the caller when the store is in memory.

    A read-only open of an embedded store fails when the writer compacts the files it was reading
    (a write meanwhile, as the SPARQL workers and the network job see under load): the work is then
    done again in a new child, at most MOVED_RETRIES times."""
    if not possible(kb):
        return target(kb, *args)
    for attempt in range(MOVED_RETRIES + 1):
        try:
            return _run_once(kb, target, args, name)
        except (OSError, RuntimeError) as exc:
            if attempt == MOVED_RETRIES or not any(sign in str(exc) for sign in MOVED_SIGNS):
                raise
            time.sleep(0.1 * (attempt + 1))


def _run_once(kb, target, args, name: str):
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child_conn, settings_for(kb), target, args), daemon=True, name=name)
    process.start()
    child_conn.close()
    try:
        try:
            kind, value = conn.recv()  # waits on the pipe: the interpreter is free meanwhile
        except (EOFError, OSError):
            process.join(5)
            raise Crashed(f"the process doing it ended without an answer (exit code {process.exitcode})") from None
        except Exception as exc:  # an exception of the child's that does not unpickle here
            raise RuntimeError(f"the process doing it failed, and its error could not be read: {exc}") from None
    finally:
        conn.close()
        process.join(30)
        if process.is_alive():
            process.kill()
    if kind == "error":
        raise value
    return value


def settle() -> None:
    """What a child process does first: yield the CPU to the web process (nice), and end when it
    ends (a SIGKILLed parent leaves no orphan working on)."""
    try:
        os.nice(NICE)
    except OSError:
        pass
    from kb.sparql.pool import _exit_with_parent

    _exit_with_parent()


def _child(conn, settings, target, args) -> None:
    """Body of the child process: open the store read-only, run, send ("done", result) or ("error", exc)."""
    settle()
    try:
        try:
            result = ("done", target(open_read_only(settings), *args))
        except BaseException as exc:
            try:
                pickle.loads(pickle.dumps(exc))  # sent as it is only when it comes back whole
                result = ("error", exc)
            except Exception:
                result = ("error", RuntimeError(traceback.format_exc()))
        conn.send(result)
    finally:
        conn.close()
