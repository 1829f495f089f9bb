"""Values built from a store and kept until its next write: in-memory indexes (reconciliation,
duplicates, places) rebuilt once per store generation, held weakly so a closed store's go with it."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class PerGeneration(Generic[T]):
    """``PerGeneration(build)(kb)``: ``build(kb, generation)`` for the store's current generation,
    built once by one thread while others wait, rebuilt after any write (``KB.generation`` changes)."""

    def __init__(self, build: Callable[..., T]):
        self.build = build
        self._cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, kb) -> T:
        generation = kb.generation
        cached = self._cache.get(kb)
        if cached is not None and cached.generation == generation:
            return cached
        with self._lock:
            cached = self._cache.get(kb)
            if cached is None or cached.generation != generation:
                cached = self.build(kb, generation)
                self._cache[kb] = cached
        return cached


V = TypeVar("V")


class Budgeted(Generic[V]):
    """A least-recently-used memo bounded by its number of entries *and* by their total size: at most
    ``entries`` values and ``weight`` in total, ``weigh(value)`` each; thread-safe. The bounds may be
    given as functions, read at each ``put`` (a module's setting, as it is now).

    The per-generation memos of the map, the filtered lists and the network views were bounded by a
    count of answers only, while an answer's size grows with the data: at 1M statements one whole map
    is ~30 MiB of Python objects, so a client walking filter combinations made the process keep 256 of
    them. Each says how large an answer is (features, positions, nodes and edges) and keeps at most
    ``weight`` of that in all, the least recently asked going first; an answer larger than the whole
    budget is not kept (it is computed again when asked)."""

    def __init__(self, entries: int | Callable[[], int], weight: int | Callable[[], int], weigh: Callable[[V], int]):
        self._entries, self._limit, self.weigh = entries, weight, weigh
        self._values: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self.weight = 0  # of the values kept
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._values.get(key)
            if found is None:
                return None
            self._values.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V) -> None:
        size = max(0, int(self.weigh(value)))
        entries = self._entries() if callable(self._entries) else self._entries
        limit = self._limit() if callable(self._limit) else self._limit
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self.weight -= old[1]
            if size > limit or entries <= 0:
                return
            while self._values and (len(self._values) >= entries or self.weight + size > limit):
                _, (_, dropped) = self._values.popitem(last=False)
                self.weight -= dropped
            self._values[key] = (value, size)
            self.weight += size

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self.weight = 0
