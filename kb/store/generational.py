"""Values built from a store and kept until its next write: in-memory indexes (reconciliation,
duplicates, places) rebuilt once per store generation, held weakly so a closed store's go with it."""

from __future__ import annotations

import threading
import weakref
from typing import Callable, Generic, TypeVar

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
