"""A small in-process cache of complete query results, emptied whenever the store's generation changes."""

from __future__ import annotations

import threading
from collections import OrderedDict


class ResultCache:
    """Least-recently-used results (``entries`` of at most ``max_bytes`` each) of one store generation."""

    def __init__(self, entries: int = 256, max_bytes: int = 1024 * 1024):
        self.entries = entries
        self.max_bytes = max_bytes
        self.generation = None
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, generation):
        if self.entries <= 0:
            return None
        with self._lock:
            if generation != self.generation:
                self._data.clear()
                self.generation = generation
                return None
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, generation, value: bytes, info: dict) -> None:
        if self.entries <= 0 or len(value) > self.max_bytes:
            return
        with self._lock:
            if generation != self.generation:
                self._data.clear()
                self.generation = generation
            self._data[key] = (value, info)
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
