"""Settling accepts a crash cut between the store write and the queue update
(:func:`kb.contribute.moderation.recover`), also when the store is not there yet.

An app starts with a remote store that may be down; it must start anyway (and answer 503 while the
store is away) and settle the interrupted accepts as soon as the store answers again, without a
restart. :class:`Recovery` holds that pending work: the app calls :meth:`Recovery.settle` at start-up
and before requests until it has run once.
"""

from __future__ import annotations

import threading
import time

from kb.errors import KBError

RETRY_SECONDS = 2.0  # while the store is down, one try per this many seconds (a try costs retries)


def store_unavailable(exc: BaseException) -> bool:
    """Whether an error says the store is away for now (503), not a fault of ours."""
    return isinstance(exc, KBError) and exc.status == 503


class Recovery:
    """Runs :func:`~kb.contribute.moderation.recover` once over ``kb`` and ``subs``, as soon as the
    store answers. Thread-safe: one try at a time, the others wait for its outcome."""

    def __init__(self, kb, subs, *, retry_seconds: float = RETRY_SECONDS):
        self.kb, self.subs = kb, subs
        self.retry_seconds = retry_seconds
        self.pending = True
        self.settled: list[str] = []  # the submissions found accepted
        self._failure: KBError | None = None
        self._failed_at = 0.0
        self._lock = threading.Lock()

    def settle(self, *, strict: bool = True) -> list[str]:
        """Run the recovery unless done. When the store is unavailable: raise its 503 (``strict``)
        or return [] and try again later (at most once per ``retry_seconds``; a 503 seen less than
        that ago is answered without asking the store again). Other errors propagate. A call that
        is not ``strict`` never waits for a try under way in another thread."""
        if not self.pending:
            return self.settled
        if not self._lock.acquire(blocking=strict):
            return []
        try:
            return self._settle(strict)
        finally:
            self._lock.release()

    def _settle(self, strict: bool) -> list[str]:
        if not self.pending:
            return self.settled
        if self._failure is not None and time.monotonic() - self._failed_at < self.retry_seconds:
            if strict:
                failure = self._failure
                raise KBError(failure.message, status=failure.status, headers=failure.headers)
            return []
        if not self.subs.exists:  # no queue yet: nothing was ever accepted
            self.pending = False
            return []
        from kb.contribute.moderation import recover

        try:
            self.settled = recover(self.kb, self.subs)
        except KBError as exc:
            if not store_unavailable(exc):
                raise
            self._failure, self._failed_at = exc, time.monotonic()
            if strict:
                raise
            return []
        self.pending, self._failure = False, None
        return self.settled
