"""Serve the last good per-generation index while the next one is built (issue 14).

Every write bumps the store's generation, and the indexes kept per generation (the search index,
the browse tables) must be built anew. A :class:`Refresher` builds them in a thread of its own, one
build at a time per store, coalesced: however many writes come during a build, one more build, of
the newest generation, follows it. A request asks :meth:`Refresher.get` for the current
generation's value and waits for it at most ``fresh_wait`` seconds (``DSIKB_INDEX_WAIT``) when an
older value exists, counted from when that generation was first asked for (so once a long build has
run past it, requests are answered from the older value at once, not after the wait each), then
gets the older one, marked not current (pages say so); with none at all
it waits at most ``wait`` seconds (the query timeout), then :class:`Building` (503 with
Retry-After). ``wait=None`` waits until the current value is built (warm-up, the command line).

``hold`` (a ``threading.Event``, set by default) lets a test pause every build just before it
starts, deterministically, to see what requests get meanwhile.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from kb.errors import KBError


class Building(KBError):
    """The index of this version of the data is still being built, and no older one exists: come
    back in a while."""

    status = 503


@dataclass
class Snapshot:
    """What a request is answered from: ``value`` built for ``key``; ``current`` when that is the
    store's present generation; ``refreshing`` when a newer one is being built."""

    value: Any
    key: Any
    current: bool
    refreshing: bool


class _State:
    def __init__(self):
        self.good: tuple[Any, Any] | None = None  # (key, value) of the newest value built
        self.wanted: Any = None  # the newest key asked for
        self.since = 0.0  # when it was first asked for
        self.building: Any = None  # the key under construction, if any
        self.running = False  # a builder thread is alive
        self.started = 0.0
        self.took: float | None = None  # seconds the last build took
        self.error: tuple[Any, BaseException] | None = None
        self.builds = 0  # finished builds (tests count them)


class Refresher:
    """``build(kb, key)`` run in the background per store, newest ``key`` first, one at a time.

    ``probe(kb)``, when given, finds a value that exists outside this process (an index file another
    process built): ``(key, value)`` or None, asked on every :meth:`get` before anything is built.
    ``rank(key)`` orders keys (an older key asked for late never displaces a newer one)."""

    def __init__(self, build: Callable[[Any, Any], Any], *, name: str, what: str,
                 probe: Callable[[Any], tuple[Any, Any] | None] | None = None,
                 rank: Callable[[Any], Any] = lambda key: key):
        self.build, self.name, self.what, self.probe, self.rank = build, name, what, probe, rank
        self._states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._cond = threading.Condition(threading.Lock())
        self.hold = threading.Event()
        self.hold.set()

    def state(self, kb) -> _State:
        with self._cond:
            return self._states.setdefault(kb, _State())

    def get(self, kb, key, *, wait: float | None = None, fresh_wait: float | None = None) -> Snapshot:
        """The value for ``key``, waiting as the module says."""
        found = self.probe(kb) if self.probe is not None else None
        with self._cond:
            st = self._states.setdefault(kb, _State())
            if found is not None and (st.good is None or self.rank(found[0]) >= self.rank(st.good[0])):
                st.good = found
            if st.good is not None and st.good[0] == key:
                return Snapshot(st.good[1], key, True, st.running and st.wanted != key)
            if st.wanted is None or self.rank(key) > self.rank(st.wanted) or \
                    (key != st.wanted and self.rank(key) == self.rank(st.wanted)):
                st.wanted, st.since = key, time.monotonic()
            if st.error is not None and st.error[0] == key and not st.running:
                st.error = None  # asked again after a failure: try again
            if not st.running:
                st.running = True
                threading.Thread(target=self._run, args=(kb, st), name=self.name, daemon=True).start()
            if st.good is not None and fresh_wait is not None:  # counted from when the key was first asked
                timeout = max(0.0, st.since + fresh_wait - time.monotonic()) if key == st.wanted else 0.0
            else:
                timeout = wait
            self._cond.wait_for(lambda: (st.good is not None and st.good[0] == key)
                                or (st.error is not None and st.error[0] == key), timeout)
            if st.good is not None and st.good[0] == key:
                return Snapshot(st.good[1], key, True, st.running and st.wanted != key)
            if st.error is not None and st.error[0] == key:
                raise st.error[1]
            if st.good is not None:
                return Snapshot(st.good[1], st.good[0], False, st.running)
            ran = time.monotonic() - st.started if st.building is not None else 0.0
            took = st.took
        retry = int(min(300, max(5, (took or 2 * ran) - ran)))
        raise Building(f"the {self.what} is being built for this version of the data ({ran:.0f} s so far"
                       + (f"; the last build took {took:.0f} s" if took else "")
                       + f"): try again in {retry} s. It is built once per change of the data, "
                       "then answered at once", headers={"Retry-After": str(retry)})

    def _run(self, kb, st: _State) -> None:
        while True:
            self.hold.wait()
            with self._cond:
                key = st.wanted
                if key is None or (st.good is not None and st.good[0] == key) or \
                        (st.error is not None and st.error[0] == key):
                    st.running = False
                    self._cond.notify_all()
                    return
                st.building, st.started = key, time.monotonic()
            try:
                value, error = self.build(kb, key), None
            except BaseException as exc:  # handed to every request waiting for this key
                value, error = None, exc
            with self._cond:
                if error is None:
                    if st.good is None or self.rank(key) >= self.rank(st.good[0]):
                        st.good = (key, value)
                    st.took = time.monotonic() - st.started
                    st.builds += 1
                else:
                    st.error = (key, error)
                st.building = None
                self._cond.notify_all()
            value = None
            give_back_memory()  # the build's intermediate structures and the older value are freed now

    def built(self, kb):
        """The key of the newest value built in this process for ``kb`` (None: none yet); never
        builds nor waits (what /readyz reports)."""
        with self._cond:
            st = self._states.get(kb)
            return st.good[0] if st is not None and st.good is not None else None

    def drop(self, kb) -> None:
        """Forget what was built for ``kb`` (a test's way to a store with no index yet)."""
        with self._cond:
            st = self._states.get(kb)
            if st is not None:
                st.good = None


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; nothing elsewhere).

    A build of the lists or the search index allocates several times what it keeps (at 1M statements
    the lists keep 37 MiB and peak at 203 MiB) and frees it at the end, but glibc keeps freed memory
    in the process: the app's resident size stayed near the peak of its largest build."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _malloc_trim():
    global _TRIM
    if _TRIM is False:
        import ctypes
        import ctypes.util

        try:
            _TRIM = ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
            _TRIM = None
    return _TRIM


_TRIM = False
