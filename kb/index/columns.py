"""Columns of strings kept in a file the kernel maps, not in the process's own memory.

The browse tables keep a few strings per listed entity (its IRI, name and dates). As Python lists
they cost ~120-190 bytes an entity in the process's heap (a str object each, plus the list's
pointer), ~20 MiB at 1M statements and ten times that at 10M. A :class:`Strings` column keeps
them as UTF-8 text and an array of offsets in one temporary file (unlinked at once: nothing is
left behind, whatever ends the process) mapped read-only: the pages are the kernel's file cache,
read in when used and given back under memory pressure, not anonymous memory of the app. An item
is decoded when read (a fraction of a microsecond), so a caller that reads a column item by item
holds only what it keeps.

:class:`Ints` keeps numbers the same way: 32-bit ints (the tables' ids and offsets,
kb/index/browse_table.py) or doubles (the map's coordinates, kb/index/mapdata.py).

A column made with ``lookup=True`` also keeps its positions sorted by value (4 bytes an item, in
the same file), so :meth:`Strings.index_of` finds a value by bisection instead of a dict from every
value to its position.

Everything one build writes goes into one file (:class:`Writer`): one mapping and one file
descriptor per store generation. A column pickles as its bytes (a table built in a child process,
kb/store/child.py, comes back that way) and the receiving process maps a file of its own; columns
of one file pickled together stay in one file.
"""

from __future__ import annotations

import mmap
import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Sequence

ERRORS = "surrogatepass"  # any str round-trips, even one a UTF-8 encoder would refuse
SORTED = -2  # where a column's order would be: its items are in order themselves


class Mapped:
    """Bytes in an unlinked temporary file, mapped read-only (``view``)."""

    __slots__ = ("view", "_map", "__weakref__")

    def __init__(self, chunks=()):
        self._map = None
        with tempfile.TemporaryFile(prefix="dsikb-columns-") as handle:
            for chunk in chunks:
                handle.write(chunk)
            size = handle.tell()
            handle.flush()
            if size:
                self._map = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ)
        self.view = memoryview(self._map) if self._map is not None else memoryview(b"")

    def __len__(self) -> int:
        return len(self.view)

    def __reduce__(self):
        return (Mapped, ((bytes(self.view),),))


class Strings(Sequence):
    """An immutable sequence of str kept in a :class:`Mapped` file (see the module docstring)."""

    __slots__ = ("_file", "_text", "_ends", "_order", "_n", "_at")

    def __init__(self, items=(), *, lookup: bool = False):
        """A column of its own file (a build writes many columns into one: :class:`Writer`)."""
        writer = Writer()
        made = writer.strings(items, lookup=lookup)
        writer.finish()
        self._set(made._file, made._at)

    def _set(self, file: Mapped, at: tuple) -> None:
        text_at, n, ends_at, order_at = at
        self._file, self._at, self._n = file, at, n
        view = file.view
        self._text = view
        self._ends = view[ends_at:ends_at + 8 * (n + 1)].cast("q")
        self._order = view[order_at:order_at + 4 * n].cast("i") if order_at >= 0 else None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        if isinstance(index, slice):
            text, ends = self._text, self._ends
            return [str(text[ends[i]:ends[i + 1]], "utf-8", ERRORS) for i in range(*index.indices(self._n))]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError("column index out of range")
        ends = self._ends
        return str(self._text[ends[index]:ends[index + 1]], "utf-8", ERRORS)

    def __iter__(self):
        text, ends = self._text, self._ends
        start = ends[0] if self._n else 0
        for i in range(1, self._n + 1):
            end = ends[i]
            yield str(text[start:end], "utf-8", ERRORS)
            start = end

    def index_of(self, value: str) -> int | None:
        """The first position holding ``value``, else None: by bisection over the sorted positions
        when the column was made with ``lookup``, else by a scan."""
        order = self._order
        if self._at[3] == SORTED:  # the items themselves are in order
            k = bisect_left(self, value)
            return k if k < self._n and self[k] == value else None
        if order is None:
            for i, item in enumerate(self):
                if item == value:
                    return i
            return None
        k = bisect_left(range(self._n), value, key=lambda k: self[order[k]])
        if k < self._n and self[order[k]] == value:
            return order[k]
        return None

    def index(self, value, start: int = 0, stop: int | None = None) -> int:
        found = self.index_of(value) if start == 0 and stop is None else None
        if found is None and (start != 0 or stop is not None):
            return super().index(value, start, self._n if stop is None else stop)
        if found is None:
            raise ValueError(f"{value!r} is not in the column")
        return found

    def __contains__(self, value) -> bool:
        return isinstance(value, str) and self.index_of(value) is not None

    def count(self, value) -> int:
        return sum(1 for item in self if item == value)

    def __eq__(self, other) -> bool:
        if not isinstance(other, (Strings, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # like a list

    def __repr__(self) -> str:
        return f"<Strings of {self._n} items, {len(self._file)} bytes mapped>"

    def __reduce__(self):
        return (_strings_of, (self._file, self._at))

    @property
    def nbytes(self) -> int:
        """The bytes this column takes in its file."""
        text_at, n, ends_at, order_at = self._at
        return (self._ends[n] - self._ends[0] if n else 0) + 8 * (n + 1) + (4 * n if order_at >= 0 else 0)


class Ints(Sequence):
    """An immutable sequence of 32-bit ints (or of another array typecode: ``Writer.floats`` makes
    doubles) kept in a :class:`Mapped` file; ``view`` is the raw memoryview (indexing it costs no
    Python call)."""

    __slots__ = ("_file", "_at", "view")

    def __init__(self, values=()):
        writer = Writer()
        made = writer.ints(values)
        writer.finish()
        self._set(made._file, made._at)

    def _set(self, file: Mapped, at: tuple) -> None:
        start, n, code = at
        self._file, self._at = file, at
        self.view = file.view[start:start + array(code).itemsize * n].cast(code)

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, index):
        return self.view[index]

    def __iter__(self):
        return iter(self.view)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        return f"<Ints of {len(self.view)} items>"

    def __reduce__(self):
        return (_ints_of, (self._file, self._at))


def _ints_of(file: Mapped, at: tuple) -> Ints:
    made = Ints.__new__(Ints)
    made._set(file, at)
    return made


def _strings_of(file: Mapped, at: tuple) -> Strings:
    made = Strings.__new__(Strings)
    made._set(file, at)
    return made


class Writer:
    """Columns written into one file: :meth:`strings` for each, then :meth:`finish` (the columns
    can be read only then)."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._size = 0
        self._made: list[tuple[Strings | Ints, tuple]] = []
        self._then: list = []
        self.file: Mapped | None = None

    def _put(self, data: bytes, align: int = 1) -> int:
        pad = -self._size % align
        if pad:
            self._chunks.append(bytes(pad))
            self._size += pad
        at = self._size
        self._chunks.append(data)
        self._size += len(data)
        return at

    def strings(self, items, *, lookup: bool = False, ordered: bool = False) -> Strings:
        """A column of str (readable once :meth:`finish` has run). ``lookup``: keep the positions
        sorted by value too, for :meth:`Strings.index_of`; ``ordered``: the items are sorted
        already (so it bisects them directly)."""
        items = items if isinstance(items, (list, tuple)) else list(items)
        if ordered and any(a > b for a, b in zip(items, items[1:])):
            raise ValueError("a column made as ordered must have its items sorted")
        encoded = [str(item).encode("utf-8", ERRORS) if not isinstance(item, str) else item.encode("utf-8", ERRORS)
                   for item in items]
        text_at = self._put(b"".join(encoded))
        ends = array("q", [text_at]) * (len(encoded) + 1)
        at = text_at
        for i, data in enumerate(encoded):
            at += len(data)
            ends[i + 1] = at
        del encoded
        ends_at = self._put(ends.tobytes(), 8)
        order_at = SORTED if ordered else -1
        if lookup and not ordered:
            order = array("i", sorted(range(len(items)), key=items.__getitem__))
            order_at = self._put(order.tobytes(), 4)
        made = Strings.__new__(Strings)
        self._made.append((made, (text_at, len(items), ends_at, order_at)))
        return made

    def ints(self, values) -> Ints:
        """A column of 32-bit ints (readable once :meth:`finish` has run)."""
        return self._numbers(values, "i")

    def floats(self, values) -> Ints:
        """A column of doubles (readable once :meth:`finish` has run; NaN and infinities kept)."""
        return self._numbers(values, "d")

    def _numbers(self, values, code: str) -> Ints:
        values = values if isinstance(values, array) and values.typecode == code else array(code, values)
        at = self._put(values.tobytes(), values.itemsize)
        made = Ints.__new__(Ints)
        self._made.append((made, (at, len(values), code)))
        return made

    def then(self, action) -> None:
        """``action()`` once the file is mapped (after the columns are readable)."""
        self._then.append(action)

    def finish(self) -> Mapped:
        self.file = Mapped(self._chunks)
        self._chunks = []
        for made, at in self._made:
            made._set(self.file, at)
        for action in self._then:
            action()
        self._made, self._then = [], []
        return self.file
