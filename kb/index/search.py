"""Full-text search over labels, alternative names and descriptions: a SQLite FTS5 index.

The index lives beside the store (``{store}.search.sqlite``; in memory for an in-memory store) and is
rebuilt, into a temporary file swapped in atomically, whenever the store's generation changes.
Tokens are folded with ``unicode61 remove_diacritics 2`` so "societe" finds "Société"; results are
ranked by bm25 with labels weighing most. Hidden (spam, test) entities are left out unless asked for.
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kb.errors import BadRequest
from kb.namespaces import LEGACY_ID, STANDARD_PREFIXES
from kb.store import KB

SEARCH_TYPES = {"organisation": "Organisation", "project": "Project", "activity": "Activity",
                "event": "Event", "person": "Person", "place": "Place"}
WEIGHTS = (10.0, 5.0, 1.0)  # label, other names, descriptions
MAX_QUERY = 200
_TOKEN = re.compile(r"\w+", re.UNICODE)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LEGACY_KINDS = ("organization", "activity")  # the 2013 site's /id/{kind}/{uuid}
DSI4EU_ID = re.compile(r"^dsi4eu:(organisation|project):[0-9]+$")
_lock = threading.Lock()
_memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # in-memory KB -> (generation, index)


@dataclass
class Hit:
    iri: str
    type: str
    label: str
    snippet: str
    hidden: bool
    score: float


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


def _fill(conn: sqlite3.Connection, kb: KB, generation: str) -> None:
    conn.executescript("""
        CREATE VIRTUAL TABLE IF NOT EXISTS entity USING fts5(
            label, alt, description, iri UNINDEXED, type UNINDEXED, hidden UNINDEXED,
            tokenize = 'unicode61 remove_diacritics 2');
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
    """)
    conn.executemany(
        "INSERT INTO entity (iri, type, label, alt, description, hidden) VALUES (?, ?, ?, ?, ?, ?)",
        _rows(kb))
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                     [("generation", str(generation)), ("base", kb.names.base)])
    conn.commit()


def _stamp(kb: KB) -> str:
    """What the index must match: generation, time of the last change and base of the store (a
    rebuilt store that happens to reach the same generation number still gets a fresh index)."""
    return f"{kb.generation}|{kb.modified}|{kb.names.base}"


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


def connect(kb: KB) -> sqlite3.Connection:
    """A connection to an index that is current with the store (rebuilt first when it is not)."""
    generation = _stamp(kb)
    path = index_path(kb)
    if path is None:
        with _lock:
            cached = _memory.get(kb)
            if cached is None or cached[0] != generation:
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                _fill(conn, kb, generation)
                _memory[kb] = (generation, conn)
            return _memory[kb][1]
    if _stored_generation(path) != generation:
        with _lock:
            if _stored_generation(path) != generation:
                rebuild(kb, path, generation)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


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
    if len(text) > MAX_QUERY:
        raise BadRequest(f"the search text is too long ({len(text)} characters; at most {MAX_QUERY})")
    if type is not None and type not in SEARCH_TYPES:
        raise BadRequest(f"unknown type {type!r}: use one of {', '.join(SEARCH_TYPES)}")
    exact = legacy_entity(kb, text)
    if exact is not None:  # an old identifier names one entity: that is the answer
        hit = _exact_hit(kb, exact)
        if (type is None or hit.type == type) and (include_hidden or not hit.hidden):
            return ([hit] if offset == 0 and limit > 0 else []), 1
    match = fts_query(text)
    if not match:
        return [], 0
    where = "entity MATCH ?"
    params: list = [match]
    if type:
        where += " AND type = ?"
        params.append(type)
    if not include_hidden:
        where += " AND hidden = 0"
    conn = connect(kb)
    try:
        total = conn.execute(f"SELECT COUNT(*) FROM entity WHERE {where}", params).fetchone()[0]
        w = ", ".join(str(x) for x in WEIGHTS)
        rows = conn.execute(
            f"SELECT iri, type, label, snippet(entity, 2, '', '', ' … ', 24), hidden, bm25(entity, {w}) AS rank "
            f"FROM entity WHERE {where} ORDER BY rank, label LIMIT ? OFFSET ?",
            params + [limit, offset]).fetchall()
    finally:
        if index_path(kb) is not None:
            conn.close()
    hits = [Hit(iri, typ, label or iri.rsplit("/", 1)[-1], snip or "", bool(int(hidden)), score)
            for iri, typ, label, snip, hidden, score in rows]
    return hits, total
