"""The precomputed gallery (kb/sparql/precomputed.py) shared by the app processes of one store: one
small SQLite file beside the submission queue. The first process to reach a store generation claims
it and computes the answers; the others wait for them (evaluating requests normally meanwhile) and
read them, so N app processes on a remote store cost the store one computation per write, and a
restarted server has its table at once.

A run is keyed by the app's *fingerprint* (the gallery texts, caps and prefixes: another version of
the app never reads this one's answers) and the store's generation together with the time of its
last change (a store built again at the same path starts counting generations afresh; the time
tells the two apart). A claim older than ``stale`` seconds whose run never finished (its process
died) is taken over.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    fingerprint TEXT NOT NULL, generation TEXT NOT NULL, owner TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, failures TEXT,
    PRIMARY KEY (fingerprint, generation));
CREATE TABLE IF NOT EXISTS answers (
    fingerprint TEXT NOT NULL, generation TEXT NOT NULL, name TEXT NOT NULL, media TEXT NOT NULL,
    body BLOB NOT NULL, info TEXT NOT NULL,
    PRIMARY KEY (fingerprint, generation, name, media));
"""
MINE, THEIRS, DONE = "mine", "theirs", "done"


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class SharedFile:
    """Runs and answers of one app fingerprint in the SQLite file at ``path``."""

    def __init__(self, path: str | Path, fingerprint: str, stale: float = 900.0):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.stale = stale
        self.owner = f"{os.getpid()}-{id(self)}"
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            self._db = db
        return self._db

    def claim(self, generation: str) -> str:
        """``mine`` (compute it now), ``theirs`` (another process is computing it) or ``done``."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT owner, started, finished FROM runs WHERE fingerprint=? AND "
                                 "generation=?", (self.fingerprint, generation)).fetchone()
                now = time.time()
                if row is None:
                    db.execute("INSERT INTO runs (fingerprint, generation, owner, started) VALUES "
                               "(?, ?, ?, ?)", (self.fingerprint, generation, self.owner, now))
                    state = MINE
                elif row[2] is not None:
                    state = DONE
                elif row[0] == self.owner or now - row[1] > self.stale:
                    db.execute("DELETE FROM answers WHERE fingerprint=? AND generation=?",
                               (self.fingerprint, generation))
                    db.execute("UPDATE runs SET owner=?, started=? WHERE fingerprint=? AND generation=?",
                               (self.owner, now, self.fingerprint, generation))
                    state = MINE
                else:
                    state = THEIRS
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return state

    def put(self, generation: str, name: str, media: str, body: bytes, info: dict) -> None:
        with self._lock:
            self._conn().execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                                 (self.fingerprint, generation, name, media, body, json.dumps(info)))

    def finish(self, generation: str, failures: dict[str, str]) -> None:
        """Mark the run complete, and forget the other finished runs of this fingerprint (a run
        under way, of a newer generation, is kept) and those of other app versions after a day."""
        with self._lock:
            db = self._conn()
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE runs SET finished=?, failures=? WHERE fingerprint=? AND generation=? "
                       "AND owner=?", (now, json.dumps(failures), self.fingerprint, generation, self.owner))
            db.execute("DELETE FROM runs WHERE (fingerprint=? AND generation<>? AND finished IS NOT NULL) "
                       "OR (fingerprint<>? AND started<?)",
                       (self.fingerprint, generation, self.fingerprint, now - 86400))
            db.execute("DELETE FROM answers WHERE NOT EXISTS (SELECT 1 FROM runs WHERE runs.fingerprint="
                       "answers.fingerprint AND runs.generation=answers.generation)")
            db.execute("COMMIT")

    def abandon(self, generation: str) -> None:
        """The store changed during the run: its answers are of no generation."""
        with self._lock:
            db = self._conn()
            db.execute("DELETE FROM answers WHERE fingerprint=? AND generation=?", (self.fingerprint, generation))
            db.execute("DELETE FROM runs WHERE fingerprint=? AND generation=? AND owner=?",
                       (self.fingerprint, generation, self.owner))

    def load(self, generation: str) -> tuple[dict, dict] | None:
        """``(answers, failures)`` of a finished run, or None."""
        with self._lock:
            db = self._conn()
            row = db.execute("SELECT failures FROM runs WHERE fingerprint=? AND generation=? AND "
                             "finished IS NOT NULL", (self.fingerprint, generation)).fetchone()
            if row is None:
                return None
            answers = {(name, media): (bytes(body), json.loads(info)) for name, media, body, info in db.execute(
                "SELECT name, media, body, info FROM answers WHERE fingerprint=? AND generation=?",
                (self.fingerprint, generation))}
            return answers, json.loads(row[0] or "{}")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
