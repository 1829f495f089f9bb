"""Outbound links: a small general linker from our entities to other datasets (Wikidata first).

``dsikb link wikidata`` calls :func:`link_command`; :class:`kb.linking.linker.Linker` does the work
for any :class:`kb.linking.targets.Target`; links land in ``graph/linkset/{target}``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kb.errors import BadRequest
from kb.settings import Settings, remote_state_file

# kb.reconcile imports kb.linking.matching, and the linker imports kb.reconcile: the heavier modules
# are imported inside the functions so that importing this package stays cycle-free.


def state_path(kb, target: str) -> Path:
    """Where a run's progress is kept: next to an on-disk store; for a remote store in the state
    folder of its submission queue (kb.settings.remote_state_file); else under var/."""
    if getattr(kb, "path", None):
        return kb.path.with_name(f"{kb.path.name}.link-{target}.json")
    if kb.settings.store_is_remote:
        return remote_state_file(kb.settings, f".link-{target}.json")
    return Path("var") / f"link-{target}.json"


def link(kb, target: str, settings: Settings, *, endpoint: str | None = None, limit: int | None = None,
         resume: bool = False, log=lambda m: None, client=None,
         batch_size: int = 40) -> dict:
    """Link the store's public organisations, projects and places to ``target``; returns figures."""
    from kb.link.client import SparqlClient
    from kb.link.linker import Linker
    from kb.link.targets import TARGETS

    if target not in TARGETS:
        raise BadRequest(f"unknown link target {target!r}: one of {', '.join(TARGETS)}")
    if limit is not None and limit < 0:
        raise BadRequest("--limit must be zero or more")
    client = client or SparqlClient(endpoint or settings.wikidata_endpoint, settings.user_agent,
                                    timeout=settings.query_timeout, log=log)
    linker = Linker(kb, TARGETS[target], client, batch_size=batch_size, log=log)
    figures = linker.run(state_path=state_path(kb, target), resume=resume, limit=limit)
    kb.flush()
    return figures


def link_command(kb, args, settings: Settings) -> int:
    """``dsikb link TARGET [--endpoint URL] [--limit N] [--resume]``: 0 done, 2 failed (resumable)."""
    from kb.link.client import RemoteError

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        figures = link(kb, args.target, settings, endpoint=args.endpoint, limit=args.limit,
                       resume=args.resume, log=log)
    except RemoteError as exc:
        print(f"dsikb link: {exc.message}; progress is saved, run again with --resume", file=sys.stderr)
        kb.flush()
        return 2
    print(f"{figures['entities']} entities looked at: {figures['same_as']} owl:sameAs, "
          f"{figures['close_match']} skos:closeMatch ({figures['requests']} requests, "
          f"{figures['retries']} retries, {figures['seconds']} s)")
    return 0
