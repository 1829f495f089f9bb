"""The submissions database and what intake, moderation and overrides share: the SQLite queue
(``{store}.submissions.sqlite``, WAL journal, ``synchronous=FULL``: a committed row survives a crash
of the process or the machine) with each submission's raw body, parsed graph, submitter, time and
status; minting of new IRIs; body parsing. Intake itself is :mod:`kb.contribute.submissions`."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyoxigraph as ox

from kb.errors import BadRequest, NotFound, SyntaxProblem, UnsupportedMediaType
from kb.settings import remote_state_file
from kb.terms import iri as parse_iri

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCTERMS = "http://purl.org/dc/terms/"
GEO = "http://www.w3.org/2003/01/geo/wgs84_pos#"
VCARD = "http://www.w3.org/2006/vcard/ns#"

MEDIA_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/json": None,  # the simple JSON shape of docs/submission.schema.json
}
SUBMITTER_KINDS = ("person", "organisation")  # docs/submissions.md: X-Submitter-Kind: person|organisation
SUBMITTABLE = ("Organisation", "Project", "Activity", "Funding", "Place", "Event")
STATUSES = ("pending", "accepted", "rejected")

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('create', 'edit', 'withdraw')),
    media_type TEXT NOT NULL,
    raw BLOB NOT NULL,
    ntriples TEXT NOT NULL,
    entities TEXT NOT NULL,
    submitter_name TEXT,
    submitter_email TEXT,
    submitter_kind TEXT,
    named INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT UNIQUE,
    content_hash TEXT NOT NULL UNIQUE,
    report TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    reason TEXT,
    moderator TEXT,
    decided TEXT,
    superseded_by TEXT
);
CREATE INDEX IF NOT EXISTS submissions_status ON submissions (status, created);
CREATE TABLE IF NOT EXISTS minted (
    iri TEXT PRIMARY KEY,
    submission TEXT NOT NULL REFERENCES submissions (id)
);
"""


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Submitter:
    """Who sent a submission; ``named`` is their consent to be credited in the provenance."""

    name: str = ""
    email: str = ""
    kind: str = "person"  # person | organisation
    named: bool = False


@dataclass
class Submission:
    id: str
    created: str
    kind: str
    media_type: str
    raw: bytes
    ntriples: str
    entities: list[str]
    submitter: Submitter
    status: str = "pending"
    reason: str | None = None
    moderator: str | None = None
    decided: str | None = None
    superseded_by: str | None = None
    report: str | None = None
    idempotency_key: str | None = None
    content_hash: str = ""

    def triples(self) -> list[ox.Triple]:
        return list(ox.parse(self.ntriples, ox.RdfFormat.N_TRIPLES)) if self.ntriples else []

    def status_body(self) -> dict:
        """What ``GET /api/submissions/{id}`` answers."""
        body = {"id": self.id, "status": self.status, "kind": self.kind, "submitted": self.created,
                "entities": self.entities, "location": f"/api/submissions/{self.id}"}
        if self.status == "rejected":
            body["reason"] = self.reason
        if self.decided:
            body["decided"] = self.decided
        if self.superseded_by:
            body["superseded_by"] = self.superseded_by
        body["duplicates"] = self.duplicates()
        return body

    def duplicates(self) -> list[dict]:
        """Existing entities this new one may duplicate, found at intake (kb.moderation)."""
        return [r["duplicate"] for r in json.loads(self.report or "[]") if "duplicate" in r]


class SubmissionStore:
    """The durable spool of submissions: one SQLite file, a connection per call (thread-safe)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()  # one connection shared by the server's threads, one at a time
        self._db: sqlite3.Connection | None = None  # opened on first use: opening an app writes nothing

    @classmethod
    def for_kb(cls, kb) -> "SubmissionStore":
        """The queue of ``kb``: ``DSIKB_SUBMISSIONS_DB`` when set; else beside an on-disk store; for a
        remote store one file per store in the user's state folder (kb.settings.remote_state_file), never
        relative to the working directory; for an in-memory store a temporary file (nothing is
        durable there anyway)."""
        configured = getattr(kb.settings, "submissions_db", "")
        if configured:
            return cls(Path(configured).expanduser())
        if getattr(kb, "path", None) is not None:
            return cls(kb.path.with_name(kb.path.name + ".submissions.sqlite"))
        if kb.settings.store_is_remote:
            return cls(remote_state_file(kb.settings, ".submissions.sqlite"))
        return cls(None)

    @property
    def exists(self) -> bool:
        return self.path is not None and self.path.exists()

    def _connect(self) -> "_Locked":
        """The shared connection, held under the lock. Kept open: closing the last connection makes
        SQLite checkpoint the WAL (an extra fsync per request); durability comes from
        ``synchronous=FULL``, which syncs the WAL at every commit."""
        with self._lock:
            if self._db is None:
                if self.path is None:
                    import tempfile

                    self.path = Path(tempfile.mkdtemp(prefix="dsikb-submissions-")) / "submissions.sqlite"
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.execute("PRAGMA foreign_keys=ON")
                db.executescript(SCHEMA_SQL)
                self._db = db
        return _Locked(self._lock, self._db)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- reading -----------------------------------------------------------------------------
    def get(self, sid: str) -> Submission:
        with self._connect() as db:
            row = db.execute("SELECT * FROM submissions WHERE id = ?", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"no submission {sid!r}: check the id in the Location header you were given")
        return _from_row(row)

    def find(self, *, idempotency_key: str | None = None, content_hash: str | None = None) -> Submission | None:
        with self._connect() as db:
            row = None
            if idempotency_key:
                row = db.execute("SELECT * FROM submissions WHERE idempotency_key = ?",
                                 (idempotency_key,)).fetchone()
            if row is None and content_hash:
                row = db.execute("SELECT * FROM submissions WHERE content_hash = ?",
                                 (content_hash,)).fetchone()
        return _from_row(row) if row else None

    def list(self, status: str | None = None, limit: int = 200) -> list[Submission]:
        with self._connect() as db:
            if status:
                rows = db.execute("SELECT * FROM submissions WHERE status = ? ORDER BY created, id LIMIT ?",
                                  (status, limit)).fetchall()
            else:
                rows = db.execute("SELECT * FROM submissions ORDER BY created, id LIMIT ?", (limit,)).fetchall()
        return [_from_row(r) for r in rows]

    def ids(self) -> set[str]:
        with self._connect() as db:
            return {r[0] for r in db.execute("SELECT id FROM submissions")}

    def is_minted(self, iri: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM minted WHERE iri = ?", (iri,)).fetchone() is not None

    def accepted_with(self, entity: str) -> list[Submission]:
        """Accepted, not yet superseded submissions that describe ``entity``."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM submissions WHERE status = 'accepted' AND superseded_by IS NULL "
                "AND EXISTS (SELECT 1 FROM json_each(submissions.entities) WHERE value = ?) ORDER BY created",
                (entity,)).fetchall()
        return [_from_row(r) for r in rows]

    # -- writing -----------------------------------------------------------------------------
    def add(self, sub: Submission, minted: list[str]) -> tuple[Submission, bool]:
        """Write ``sub`` durably (committed and synced when this returns). Returns (stored, created):
        an earlier submission with the same key or content is returned instead of a new one."""
        with self._connect() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO submissions (id, created, kind, media_type, raw, ntriples, entities, "
                    "submitter_name, submitter_email, submitter_kind, named, idempotency_key, content_hash, "
                    "report, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                    (sub.id, sub.created, sub.kind, sub.media_type, sub.raw, sub.ntriples,
                     json.dumps(sub.entities), sub.submitter.name, sub.submitter.email, sub.submitter.kind,
                     int(sub.submitter.named), sub.idempotency_key, sub.content_hash, sub.report))
                db.executemany("INSERT INTO minted (iri, submission) VALUES (?, ?)",
                               [(iri, sub.id) for iri in minted])
                db.execute("COMMIT")
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")
                existing = self.find(idempotency_key=sub.idempotency_key, content_hash=sub.content_hash)
                if existing is None:  # another process minted the same IRI meanwhile
                    raise MintTaken(sub.entities) from None
                return existing, False
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return sub, True

    def decide(self, sid: str, status: str, *, moderator: str, reason: str | None = None,
               supersedes: list[str] = ()) -> Submission:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._connect() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("UPDATE submissions SET status = ?, reason = ?, moderator = ?, decided = ? WHERE id = ?",
                           (status, reason, moderator, now_iso(), sid))
                for old in supersedes:
                    db.execute("UPDATE submissions SET superseded_by = ? WHERE id = ?", (sid, old))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return self.get(sid)


class MintTaken(Exception):
    """An IRI minted for this submission was taken by another process in the meantime: mint again."""


class _Locked:
    """``with store._connect() as db``: the shared connection, under the store's lock."""

    def __init__(self, lock, db):
        self.lock, self.db = lock, db

    def __enter__(self):
        self.lock.acquire()
        return self.db

    def __exit__(self, *exc):
        self.lock.release()


def _from_row(row) -> Submission:
    return Submission(
        id=row["id"], created=row["created"], kind=row["kind"], media_type=row["media_type"],
        raw=bytes(row["raw"]), ntriples=row["ntriples"], entities=json.loads(row["entities"]),
        submitter=Submitter(row["submitter_name"] or "", row["submitter_email"] or "",
                            row["submitter_kind"] or "person", bool(row["named"])),
        status=row["status"], reason=row["reason"], moderator=row["moderator"], decided=row["decided"],
        superseded_by=row["superseded_by"], report=row["report"], idempotency_key=row["idempotency_key"],
        content_hash=row["content_hash"])


def new_id() -> str:
    """Sortable, unguessable, valid as a graph name part: ``20261129t134959-3f9a1c2b``."""
    return time.strftime("%Y%m%dt%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


# -- slugs -------------------------------------------------------------------------------------
def slugify(text: str) -> str:
    """Lowercase ASCII, digits and hyphens (the importers' function when it exists)."""
    try:
        from kb.slugs import slugify as shared
    except ImportError:
        shared = None
    if shared is not None:
        return shared(text)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")


def mint(kb, subs: SubmissionStore, type_: str, label: str, taken: set[str]) -> str:
    """A new entity IRI ``{base}id/{type}/{slug}``, unique against the store, the spool and ``taken``."""
    base = slugify(label) or type_
    for n in range(1, 1000):
        slug = base if n == 1 else f"{base}-{n}"
        iri = kb.names.entity(type_, slug)
        if iri in taken or subs.is_minted(iri):
            continue
        if not kb.ask("ASK { { ?e ?p ?o } UNION { ?s ?p ?e } }", bind={"e": parse_iri(iri, "name")}):
            return iri
    raise BadRequest(f"could not mint an identifier for {label!r}")


# -- parsing -----------------------------------------------------------------------------------
def media_type_of(content_type: str | None) -> str:
    """The body's media type from a Content-Type header read by a real parser (the standard
    library's HTTP header policy): 400 for a malformed header, 415 for an unknown type or a
    charset other than UTF-8."""
    from email import message_from_string
    from email.policy import HTTP

    header = (content_type or "").strip()
    if any(c in header for c in "\r\n"):
        raise BadRequest("the Content-Type header is malformed: it holds a line break")
    parsed = message_from_string(f"Content-Type: {header}\n\n", policy=HTTP) if header else None
    if parsed is not None and parsed["content-type"].defects:
        problem = parsed["content-type"].defects[0]
        raise BadRequest(f"the Content-Type header {header[:200]!r} is malformed ({problem}): send e.g. "
                         "'application/json' or 'text/turtle; charset=utf-8'")
    mt = parsed.get_content_type() if parsed is not None else ""
    charset = parsed.get_param("charset") if parsed is not None else None
    if charset is not None and str(charset).strip().lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"cannot read a body in charset {str(charset)[:50]!r}: send UTF-8 "
                                   "(charset=utf-8, or leave the charset out)")
    if not header or mt not in MEDIA_TYPES:
        shown = header.split(";")[0].strip().lower()[:100]
        raise UnsupportedMediaType(
            f"cannot read a body of type {shown or '(none)'!r}: send text/turtle, application/ld+json, "
            "application/n-triples, or application/json in the shape of /api/submissions/schema")
    return mt


def content_hash(media_type: str, raw: bytes) -> str:
    canonical = raw
    if media_type == "application/json":
        try:
            canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except ValueError:
            pass
    return hashlib.sha256(media_type.encode() + b"\n" + canonical).hexdigest()


def placeholder_ns(kb) -> str:
    """Base IRI for relative IRIs in a submission (``<#org>``, ``<new-org>``): minted on intake."""
    return kb.names.base + "submission/new/"


def parse_rdf(raw: bytes, media_type: str, base_iri: str) -> list[ox.Triple]:
    """Triples of an RDF body; a syntax error names line and column (as a 400)."""
    try:
        quads = list(ox.parse(raw, MEDIA_TYPES[media_type], base_iri=base_iri))
    except SyntaxError as exc:
        raise body_syntax_problem(exc) from None
    if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in quads if hasattr(q, "graph_name")):
        raise BadRequest("a submission is one graph: named graphs are not accepted")
    return [ox.Triple(q.subject, q.predicate, q.object) for q in quads]


def body_syntax_problem(exc: SyntaxError) -> SyntaxProblem:
    line, col = getattr(exc, "lineno", None), getattr(exc, "offset", None)
    msg = exc.msg if getattr(exc, "msg", None) else str(exc)
    problem = SyntaxProblem(f"the body does not parse: line {line}, column {col}: {msg}")
    problem.line, problem.column = line, col
    return problem


def website_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host
