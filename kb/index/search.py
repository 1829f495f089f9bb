"""Full-text search over labels, alternative names and descriptions: a SQLite FTS5 index.

The index lives beside the store (``{store}.search.sqlite``; in memory for an in-memory store) and is
rebuilt, into a temporary file swapped in atomically, whenever the store's generation changes: in a
background thread, one build at a time, coalesced, under a lock file that the app's processes share
(kb/index/refresh.py). Meanwhile requests that pass a bound (``/search``: ``DSIKB_INDEX_WAIT``) are
answered from the previous index, and :class:`Result`'s ``index`` says so.
Tokens are folded with ``unicode61 remove_diacritics 2`` so "societe" finds "Société"; results are
ranked by bm25 with labels weighing most. Hidden (spam, test) entities are left out unless asked for.

Search forgives: spaces do not matter ("fab lab" and "fablab" are one query: the letters are split
into every run of indexed words they can form, :func:`segmentations`), a name found inside another
name counts (a trigram index over names without spaces: "phone" finds "Fairphone"), and a word the
index does not know, or knows far less than a close one, gets a "did you mean" (rapidfuzz over the
index's vocabulary: "Fairfone" -> "fairphone").
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import weakref
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from rapidfuzz import fuzz, process

from kb.errors import BadRequest
from kb.index import browse
from kb.index.browse import table
from kb.index.columns import Writer
from kb.index.refresh import Building, Refresher
from kb.namespaces import LEGACY_ID, STANDARD_PREFIXES
from kb.store import KB, child

SEARCH_TYPES = {"organisation": "Organisation", "project": "Project", "activity": "Activity",
                "event": "Event", "person": "Person", "place": "Place"}
WEIGHTS = (10.0, 5.0, 1.0)  # label, other names, descriptions
MAX_QUERY = 200
_TOKEN = re.compile(r"\w+", re.UNICODE)
_DIGIT = re.compile(r"\d")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LEGACY_KINDS = ("organization", "activity")  # the 2013 site's /id/{kind}/{uuid}
DSI4EU_ID = re.compile(r"^dsi4eu:(organisation|project):[0-9]+$")
_lex_lock = threading.Lock()
_lexicons: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> Lexicon of the newest index read


@dataclass
class Hit:
    iri: str
    type: str
    label: str
    snippet: str
    hidden: bool
    score: float
    place: str = ""  # "Amsterdam, Netherlands" (organisations and projects; a project's partners' countries)


@dataclass
class Result:
    """What a search page shows: one page of hits, how many in all, how many of each type (before
    the type filter: the type menu offers these), and a correction of the words when one is likely."""

    hits: list[Hit]
    total: int
    types: dict[str, int]
    suggestion: str | None = None  # "did you mean ..."
    searched: str = ""  # the text the hits are for: the query, or the suggestion when it found nothing
    corrected: bool = False  # the hits are for the suggestion
    index: dict | None = None  # {"generation", "current", "refreshing"} of the index that answered


def index_path(kb: KB) -> Path | None:
    return kb.path.with_name(kb.path.name + ".search.sqlite") if kb.path else None


def _rows(kb: KB):
    """(iri, type, label, other names, description, hidden) for every entity of a searchable type.

    Read with index range scans, one per property, rather than one big SPARQL join: flat cost."""
    n = kb.names
    P = STANDARD_PREFIXES

    def scan(predicate: str):
        for row in kb.query("SELECT ?s ?o ?p WHERE { ?s ?p ?o }", prologue=False,
                            substitutions={ox.Variable("p"): ox.NamedNode(predicate)}):
            yield row[0], row[1]

    kinds = {}
    for slug, cls in SEARCH_TYPES.items():
        for q in kb.quads(None, ox.NamedNode(P["rdf"] + "type"), ox.NamedNode(n.dsi(cls)), None):
            if isinstance(q.subject, ox.NamedNode):
                kinds.setdefault(q.subject, slug)
    for s_, _ in itertools.chain(scan(n.dsi("mergedInto")), scan(n.dsi("withdrawn"))):
        kinds.pop(s_, None)
    texts: dict = {key: {} for key in ("label", "alt", "desc")}
    for key, predicate in (("label", P["rdfs"] + "label"), ("alt", P["skos"] + "altLabel"),
                           ("alt", P["skos"] + "prefLabel"), ("desc", P["dcterms"] + "description"),
                           ("desc", n.dsi("shortDescription"))):
        for s_, o in scan(predicate):
            if s_ in kinds and isinstance(o, ox.Literal):
                texts[key].setdefault(s_, []).append(o)
    hidden = {s_ for s_, o in scan(n.dsi("hidden")) if o.value == "true"}
    for node, slug in kinds.items():
        labels = sorted(texts["label"].get(node, []),
                        key=lambda lit: (lit.language not in (None, "en"), lit.language or "", lit.value))
        label = labels[0].value if labels else ""
        others = sorted({lit.value for lit in labels[1:] + texts["alt"].get(node, [])} - {label})
        descs = sorted({lit.value for lit in texts["desc"].get(node, [])})
        yield node.value, slug, label, " | ".join(others), " ".join(descs), int(node in hidden)


SCHEMA = "3"  # of the index file: a new one rebuilds old files (3: rowids in name order)
TRIGRAM = sqlite3.sqlite_version_info >= (3, 34, 0)  # FTS5's trigram tokenizer; without it, no name-inside-name hits


def fold(text: str) -> str:
    """Casefolded, without accents: what the unicode61 tokenizer compares."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def squash(text: str) -> str:
    """Folded letters and digits only: "Fab Lab" and "FabLab" -> "fablab"."""
    return "".join(_TOKEN.findall(fold(text))).replace("_", "")


def _fill(conn: sqlite3.Connection, kb: KB, generation: str) -> None:
    conn.executescript("""
        CREATE VIRTUAL TABLE IF NOT EXISTS entity USING fts5(
            label, alt, description, iri UNINDEXED, type UNINDEXED, hidden UNINDEXED,
            tokenize = 'unicode61 remove_diacritics 2');
        CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(entity, 'row');
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
    """)
    rows = list(_rows(kb))
    # rowids in name order (label casefolded, then IRI): a search ranks equal scores by rowid, and
    # the lexicon needs no sort of every name (kb/index/search.py, Lexicon)
    rows.sort(key=lambda row: ((row[2] or "").casefold(), row[0]))
    conn.executemany(
        "INSERT INTO entity (rowid, iri, type, label, alt, description, hidden) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, *row) for i, row in enumerate(rows, 1)])
    # one row per entity, same rowid: its names without spaces, apart so that no match spans two
    if TRIGRAM:
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS names USING fts5(squashed, tokenize = 'trigram')")
        conn.executemany("INSERT INTO names (rowid, squashed) VALUES (?, ?)",
                         [(i, " | ".join(squash(name) for name in [label, *alt.split(" | ")] if name))
                          for i, (_, _, label, alt, _, _) in enumerate(rows, 1)])
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                     [("generation", str(generation)), ("base", kb.names.base)])
    conn.commit()


def _stamp(kb: KB) -> str:
    """What the index must match: generation, time of the last change and base of the store (a
    rebuilt store that happens to reach the same generation number still gets a fresh index)."""
    return f"{SCHEMA}|{kb.generation}|{kb.modified}|{kb.names.base}"


def _stored_generation(path: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        finally:
            conn.close()
        return row[0] if row else None
    except sqlite3.Error:
        return None


def _usable(stamp: str | None, kb: KB) -> bool:
    """An index of this store's base and this schema: current or not, it can answer."""
    return bool(stamp) and stamp.startswith(f"{SCHEMA}|") and stamp.endswith(f"|{kb.names.base}")


def _rank(stamp: str) -> tuple[int, str]:
    parts = stamp.split("|")
    return (int(parts[1]), parts[2]) if len(parts) >= 4 and parts[1].isdigit() else (-1, "")


def stamp_generation(stamp: str) -> int | None:
    """The store generation an index stamp is of."""
    generation = _rank(stamp)[0]
    return generation if generation >= 0 else None


def _probe(kb: KB):
    """The index file as it is (another process may have built it): (stamp, path) when usable."""
    path = index_path(kb)
    if path is None:
        return None
    stamp = _stored_generation(path)
    return (stamp, path) if _usable(stamp, kb) else None


@contextlib.contextmanager
def _file_lock(path: Path):
    """One process at a time builds the file (others wait, then find it built): ``{index}.lock``."""
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(kb: KB, stamp: str):
    """The index for ``stamp``: a connection of this process's own when the store has no folder to
    keep it beside (a large remote store: built by a child process into a private file, opened, then
    unlinked; else in memory), else the file, rebuilt into a temporary file swapped in atomically
    (by a child process for a large store), under a lock file shared by the app's processes."""
    path = index_path(kb)
    in_child = child.worth_it(kb)
    if path is None and in_child:
        # the index of a remote store is this process's (built per process, never stale: another
        # store may answer at the same address later), but not in its memory: an in-memory index
        # of 1M statements kept ~40-60 MiB in the process; the file's pages are the kernel's cache
        folder = Path(tempfile.mkdtemp(prefix="dsikb-search-"))
        try:
            built = child.run(kb, rebuild, folder / "index.sqlite", stamp, name="dsikb-search-index")
            return sqlite3.connect(f"file:{built}?mode=ro", uri=True, check_same_thread=False)
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the open connection keeps the file until it closes
    if path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        _fill(conn, kb, stamp)
        return conn
    with _file_lock(path):
        if _stored_generation(path) != stamp:  # else another process built it while this one waited
            if in_child:  # a large store: this process keeps none of the build's scratch (kb/store/child.py)
                child.run(kb, rebuild, path, stamp, name="dsikb-search-index")
            else:
                rebuild(kb, path, stamp)
    return path


refresher = Refresher(_build, name="search-index", what="search index", probe=_probe, rank=_rank)


@dataclass
class Index:
    """An open index: ``stamp`` is what it was built for; ``current`` when that is the store's
    present state; ``refreshing`` when a newer one is being built."""

    conn: sqlite3.Connection
    stamp: str
    current: bool
    refreshing: bool
    shared: bool  # the process's own index's one connection (in memory, or a private file): not to be closed

    @property
    def info(self) -> dict:
        return {"generation": stamp_generation(self.stamp), "current": self.current, "refreshing": self.refreshing}

    def close(self) -> None:
        if not self.shared:
            self.conn.close()


def open_index(kb: KB, wait: float | None = None, fresh_wait: float | None = None) -> Index:
    """The index of the store's present state, built in the background (kb/index/refresh.py): waited
    for at most ``fresh_wait`` seconds when an older one exists (then that one, ``current`` False),
    else at most ``wait`` (None: until built), then :class:`~kb.index.refresh.Building`."""
    want = _stamp(kb)
    snap = refresher.get(kb, want, wait=wait, fresh_wait=fresh_wait)
    if isinstance(snap.value, sqlite3.Connection):
        return Index(snap.value, snap.key, snap.key == want, snap.refreshing, True)
    conn = sqlite3.connect(f"file:{snap.value}?mode=ro", uri=True, check_same_thread=False)
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    stamp = row[0] if row else snap.key  # the file opened: another process may have swapped in a newer one
    return Index(conn, stamp, stamp == want, snap.refreshing and stamp != want, False)


def connect(kb: KB) -> sqlite3.Connection:
    """A connection of the caller's own (to close) to an index that is current with the store
    (waiting for its build); of the in-memory index, a copy, so closing it closes nothing shared."""
    index = open_index(kb)
    if not index.shared:
        return index.conn
    copy = sqlite3.connect(":memory:", check_same_thread=False)
    index.conn.backup(copy)
    return copy


def rebuild(kb: KB, path: Path | None = None, generation: str | None = None) -> Path:
    """Build the index afresh into a temporary file, then swap it in."""
    path = path or index_path(kb)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        _fill(conn, kb, _stamp(kb) if generation is None else generation)
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def fts_query(text: str) -> str:
    """The user's words as an FTS5 query: every word must match, the last one as a prefix."""
    words = _TOKEN.findall(text)
    if not words:
        return ""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def legacy_entity(kb: KB, text: str, *, kind: str | None = None) -> str | None:
    """The entity an old identifier names, else None: a 2013 IRI (``{LEGACY_ID}organization/{uuid}``,
    carried as owl:sameAs), a bare 2013 UUID (of an organisation or an activity, or of ``kind`` only),
    or a DSI4EU identifier (``dsi4eu:organisation:336``, carried as dcterms:identifier). Exact matches
    by index lookups; a merged entity's old identifier gives the entity, which then redirects."""
    text = text.strip()
    candidates = []
    if text.startswith(LEGACY_ID):
        candidates.append((STANDARD_PREFIXES["owl"] + "sameAs", ox.NamedNode(text)))
    elif UUID.match(text.lower()):
        for k in ([kind] if kind else LEGACY_KINDS):
            candidates.append((STANDARD_PREFIXES["owl"] + "sameAs", ox.NamedNode(f"{LEGACY_ID}{k}/{text.lower()}")))
    elif DSI4EU_ID.match(text):
        candidates.append((STANDARD_PREFIXES["dcterms"] + "identifier", ox.Literal(text)))
    for predicate, value in candidates:
        found = sorted({q.subject.value for q in kb.quads(None, ox.NamedNode(predicate), value, None)
                        if isinstance(q.subject, ox.NamedNode) and kb.names.parse_entity(q.subject.value)})
        if found:
            return found[0]
    return None


def _exact_hit(kb: KB, iri: str) -> Hit:
    from kb.publish.describe import best_label

    node = ox.NamedNode(iri)
    type_ = kb.names.parse_entity(iri)[0]
    hidden = any(q.object.value == "true" for q in
                 kb.quads(node, ox.NamedNode(kb.names.dsi("hidden")), None, None))
    return Hit(iri, type_, best_label(kb, node) or iri.rsplit("/", 1)[-1], "", hidden, 0.0)


def search(kb: KB, text: str, *, type: str | None = None, limit: int = 20, offset: int = 0,
           include_hidden: bool = False) -> tuple[list[Hit], int]:
    """Ranked hits for ``text`` (accent- and case-insensitive) and the total number of matches."""
    result = find(kb, text, type=type, limit=limit, offset=offset, include_hidden=include_hidden, correct=False)
    return result.hits, result.total


@dataclass
class Lexicon:
    """Per store generation: the index's words (sorted, with how many entities use each) and, by rowid,
    each indexed entity's type and whether it is hidden: two bytes each (a dict of every entity's IRI
    and label was ~400 bytes an entity, 41 MiB at 1M statements). Rowids are in name order (the
    index is written so), so equal scores rank by rowid. The IRIs and labels of the hits shown are
    read from the index. The words and their counts are columns of a mapped file
    (kb/index/columns.py: with the rank's sort and a dict of places, the first searches at 10M
    statements left +131 MiB in the app, now +11); the words a misspelling may be corrected to
    (those without digits) are a list, for rapidfuzz."""

    generation: str  # the stamp of the index it was read from
    words: Sequence[str]  # sorted
    counts: Sequence[int]  # entities using each word, in the order of words
    fuzzy: list[str]  # the words without digits: what a suggestion may be
    types: bytearray  # rowid -> 1 + index in type_names; 0: no entity has this rowid
    hidden: bytearray  # rowid -> 1 when hidden
    type_names: list[str]
    longest: int = 0  # the longest word's length

    def docs(self, word: str) -> int:
        """How many entities use ``word`` (0: none)."""
        i = self.words.index_of(word) if len(word) <= self.longest else None
        return 0 if i is None else self.counts[i]

    def has(self, rowid: int) -> bool:
        return 0 <= rowid < len(self.types) and self.types[rowid] != 0

    def type_of(self, rowid: int) -> str:
        return self.type_names[self.types[rowid] - 1]

    def present_types(self) -> set[str]:
        """The types some indexed entity has."""
        return {self.type_names[code - 1] for code in set(self.types) if code}


def _load_lexicon(conn: sqlite3.Connection, stamp: str) -> Lexicon:
    words, counts, fuzzy, longest = [], array("i"), [], 0
    for term, n in conn.execute("SELECT term, doc FROM vocab ORDER BY term"):
        words.append(term)
        counts.append(n)
        longest = max(longest, len(term))
        if not _DIGIT.search(term):
            fuzzy.append(term)
    columns = Writer()
    words, counts = columns.strings(words, ordered=True), columns.ints(counts)
    columns.finish()
    (top,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM entity").fetchone()
    types, hidden = bytearray(top + 1), bytearray(top + 1)
    type_names: list[str] = []
    codes: dict[str, int] = {}
    for rowid, typ, flag in conn.execute("SELECT rowid, type, hidden FROM entity"):
        code = codes.get(typ)
        if code is None:
            type_names.append(typ)
            code = codes[typ] = len(type_names)
        types[rowid], hidden[rowid] = code, bool(int(flag))
    return Lexicon(stamp, words, counts, fuzzy, types, hidden, type_names, longest)


def lexicon_of(kb: KB, index: Index) -> Lexicon:
    """The lexicon of the index opened (its rowids are that index's), loaded once per index."""
    cached = _lexicons.get(kb)
    if cached is not None and cached.generation == index.stamp:
        return cached
    with _lex_lock:
        cached = _lexicons.get(kb)
        if cached is None or cached.generation != index.stamp:
            cached = _lexicons[kb] = _load_lexicon(index.conn, index.stamp)
    return cached


def lexicon(kb: KB, wait: float | None = None, fresh_wait: float | None = None) -> Lexicon:
    """The lexicon of the index (waiting as :func:`open_index` does)."""
    index = open_index(kb, wait, fresh_wait)
    try:
        return lexicon_of(kb, index)
    finally:
        index.close()


MAX_SEGMENTATIONS = 12


def _is_prefix(lex: Lexicon, piece: str) -> bool:
    import bisect

    i = bisect.bisect_left(lex.words, piece)
    return i < len(lex.words) and lex.words[i].startswith(piece)


def segmentations(letters: str, lex: Lexicon) -> list[list[str]]:
    """The ways to read ``letters`` (a squashed query) as a run of indexed words, the last one
    possibly a prefix (marked with a trailing "*"); fewest words first, at most MAX_SEGMENTATIONS.
    Depends on the letters only, so "fab lab" and "fablab" are one query."""
    n = len(letters)
    best: list[list[list[str]]] = [[] for _ in range(n + 1)]
    best[n] = [[]]
    for i in range(n - 1, -1, -1):
        options = []
        for j in range(i + 1, n + 1):
            piece = letters[i:j]
            if len(piece) < (2 if any(c.isdigit() for c in piece) else 3) and not (i == 0 and j == n):
                continue  # "op en data": short pieces would read too much into the letters
            if j == n and _is_prefix(lex, piece):
                options.append([piece + "*"])
            elif best[j] and lex.docs(piece):
                options += [[piece, *rest] for rest in best[j]]
        options.sort(key=lambda seg: (len(seg), seg))
        best[i] = options[:MAX_SEGMENTATIONS]
    return best[0]


def match_expression(letters: str, lex: Lexicon, words: list[str] | None = None) -> str:
    """An FTS5 query: the user's own words (every one must match, the last as a prefix) or any
    reading of their letters; each word quoted (never FTS5 syntax)."""
    groups = []
    own = [w for w in (words or []) if w]
    readings = segmentations(letters, lex)
    if own and len(own) > 1:
        readings = [[*own[:-1], own[-1] + "*"], *readings]
    for seg in dict.fromkeys(tuple(seg) for seg in readings):
        words = ['"' + w.rstrip("*") + '"' + ("*" if w.endswith("*") else "") for w in seg]
        groups.append("(" + " ".join(words) + ")")
    return " OR ".join(groups)


def suggest(text: str, lex: Lexicon) -> str | None:
    """A likelier spelling of ``text``, word by word, or None: a word the index does not know (nor,
    for the last one, as the start of a word), or knows in at most two entities while a close word
    (rapidfuzz ratio >= 75) is used by five times more."""
    words = _TOKEN.findall(fold(text))
    out, changed = [], False
    for i, word in enumerate(words):
        known = lex.docs(word)
        if known == 0 and i == len(words) - 1 and _is_prefix(lex, word):
            known = 1
        choice = word
        if len(word) >= 4 and known <= 2:
            found = process.extract(word, lex.fuzzy, scorer=fuzz.ratio, score_cutoff=75, limit=8)
            found = [(w, score, lex.docs(w)) for w, score, _ in found if w != word]
            found = [f for f in found if f[2] >= max(1, 5 * known)]
            if found:
                choice = max(found, key=lambda f: (f[1], f[2], f[0]))[0]
                changed = True
        out.append(choice)
    return " ".join(out) if changed else None


class _PlaceMap:
    """The place ("City, Country") of an organisation or project (a project's, when an IRI is
    both), read from the browse tables' columns when asked: no Row, and no dict of every IRI."""

    def __init__(self, generation: int, tabs: dict | None):
        self.generation, self.tabs = generation, tabs or {}

    def get(self, iri: str, default: str = "") -> str:
        for t in ("project", "organisation"):
            tab = self.tabs.get(t)
            pos = tab.position_of(iri) if tab is not None else None
            if pos is not None:
                text = tab.place_at(pos)
                if text:
                    return text
        return default


def _places(kb: KB, wait: float | None = None, fresh_wait: float | None = None) -> _PlaceMap:
    """The places of the browse tables at hand (they may be the previous generation's while the
    new ones are built; none when there are no tables in time)."""
    try:
        snap = browse.snapshot(kb, wait, fresh_wait)
    except Building:
        return _PlaceMap(-1, None)
    return _PlaceMap(snap.key, snap.value)


def _place_of(kb: KB, tabs: dict | None = None) -> dict[str, str]:
    """IRI -> place of every organisation and project with one, as searches read them (for tests
    and benchmarks)."""
    places = _PlaceMap(0, tabs if tabs is not None else {t: table(kb, t) for t in ("organisation", "project")})
    out = {}
    for tab in places.tabs.values():
        for iri in tab.iris:
            text = places.get(iri)
            if text:
                out[iri] = text
    return out


def find(kb: KB, text: str, *, type: str | None = None, limit: int = 20, offset: int = 0,
         include_hidden: bool = False, correct: bool = True, switch: bool = True,
         wait: float | None = None, fresh_wait: float | None = -1.0) -> Result:
    """Ranked hits for ``text`` with counts per type and, when ``correct``, a "did you mean"; when
    nothing matches, the suggestion does and ``switch``, the hits are the suggestion's (``corrected``).
    The index is waited for as :func:`open_index` says; ``fresh_wait`` -1 (the default) means the
    store's ``DSIKB_INDEX_WAIT`` and ``wait`` None its query timeout, when it has settings, else
    until built. ``Result.index`` says which index answered."""
    if len(text) > MAX_QUERY:
        raise BadRequest(f"the search text is too long ({len(text)} characters; at most {MAX_QUERY})")
    if type is not None and type not in SEARCH_TYPES:
        raise BadRequest(f"unknown type {type!r}: use one of {', '.join(SEARCH_TYPES)}")
    exact = legacy_entity(kb, text)
    if exact is not None:  # an old identifier names one entity: that is the answer
        hit = _exact_hit(kb, exact)
        if (type is None or hit.type == type) and (include_hidden or not hit.hidden):
            return Result([hit] if offset == 0 and limit > 0 else [], 1, {hit.type: 1}, None, text)
    if fresh_wait == -1.0:
        settings = getattr(kb, "settings", None)
        fresh_wait = getattr(settings, "index_wait", None)
        wait = getattr(settings, "query_timeout", None) if wait is None else wait
    index = open_index(kb, wait, fresh_wait)
    try:
        lex = lexicon_of(kb, index)
        places = _places(kb, wait, fresh_wait)
        result = _find(index.conn, lex, places, text, type, limit, offset, include_hidden)
        if correct:
            result.suggestion = suggest(text, lex)
            if result.suggestion and not result.types and switch:
                other = _find(index.conn, lex, places, result.suggestion, type, limit, offset, include_hidden)
                if other.types:
                    other.suggestion, other.corrected = result.suggestion, True
                    result = other
    finally:
        index.close()
    result.index = index.info
    return result


def _find(conn: sqlite3.Connection, lex: Lexicon, places: _PlaceMap, text: str, type_: str | None,
          limit: int, offset: int, include_hidden: bool) -> Result:
    letters = squash(text)
    if not letters:
        return Result([], 0, {}, None, text)
    expression = match_expression(letters, lex, [squash(w) for w in _TOKEN.findall(fold(text))])
    scores: dict[int, float] = {}
    if expression:
        w = ", ".join(str(x) for x in WEIGHTS)
        scores = dict(conn.execute(f"SELECT rowid, bm25(entity, {w}) FROM entity WHERE entity MATCH ?",
                                   (expression,)))
    if TRIGRAM and len(letters) >= 3:  # a name with these letters inside (trigram index): after word matches
        for (rowid,) in conn.execute("SELECT rowid FROM names WHERE names MATCH ?", ('"' + letters + '"',)):
            scores.setdefault(rowid, 0.0)
    found = [(rowid, score) for rowid, score in scores.items()
             if lex.has(rowid) and (include_hidden or not lex.hidden[rowid])]
    by_code: dict[int, int] = {}
    for rowid, _ in found:
        code = lex.types[rowid]
        by_code[code] = by_code.get(code, 0) + 1
    types = {lex.type_names[code - 1]: n for code, n in by_code.items()}
    if type_:
        code = lex.type_names.index(type_) + 1 if type_ in lex.type_names else -1
        found = [(rowid, score) for rowid, score in found if lex.types[rowid] == code]
    found.sort(key=lambda f: (f[1], f[0]))  # ties in score: by rowid, i.e. by name, then IRI (as written)
    page = found[offset:offset + limit] if limit > 0 else []
    snippets = _snippets(conn, expression, [rowid for rowid, _ in page])
    names = _names(conn, [rowid for rowid, _ in page])
    hits = []
    for rowid, score in page:
        iri, label = names[rowid]
        hits.append(Hit(iri, lex.type_of(rowid), label or iri.rsplit("/", 1)[-1], snippets.get(rowid, ""),
                        bool(lex.hidden[rowid]), score, places.get(iri, "")))
    return Result(hits, len(found), types, None, text)


def _names(conn: sqlite3.Connection, rowids: list[int]) -> dict[int, tuple[str, str]]:
    """rowid -> (IRI, label) of these entities, read from the index (the rowids go as one JSON
    parameter: the SQL text is constant)."""
    if not rowids:
        return {}
    import json

    return {rowid: (iri, label) for rowid, iri, label in conn.execute(
        "SELECT rowid, iri, label FROM entity WHERE rowid IN (SELECT value FROM json_each(?))",
        [json.dumps(rowids)])}


MARK_START, MARK_END = "\x02", "\x03"  # around matched words in snippets (pages make them <mark>)


def _snippets(conn: sqlite3.Connection, expression: str, rowids: list[int]) -> dict[int, str]:
    """FTS5 snippet() of the description around the matched words; the description's start for a
    hit by name only."""
    if not rowids:
        return {}
    import json

    out: dict[int, str] = {}
    if expression:  # the rowids go as one JSON parameter: the SQL text is constant
        out = {rowid: snip for rowid, snip in conn.execute(
            "SELECT rowid, snippet(entity, 2, ?, ?, ' … ', 24) FROM entity WHERE entity MATCH ? "
            "AND rowid IN (SELECT value FROM json_each(?))", [MARK_START, MARK_END, expression, json.dumps(rowids)])
            if snip}
    rest = [r for r in rowids if r not in out]
    if rest:
        for rowid, desc in conn.execute("SELECT rowid, description FROM entity "
                                        "WHERE rowid IN (SELECT value FROM json_each(?))", [json.dumps(rest)]):
            if desc:
                words = desc.split()
                out[rowid] = " ".join(words[:24]) + (" …" if len(words) > 24 else "")
    return out
