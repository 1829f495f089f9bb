"""Build at start-up what the first requests would otherwise wait for: the browse tables, the
full-text index and the network of this store generation. ``dsikb serve`` runs :func:`warm` in the
background. Its own module, above browse, search and the network (which reads browse's facets)."""

from __future__ import annotations

import logging


def warm(kb, *, network_too: bool = True) -> None:
    """``network_too`` False (a remote store): the lists and the index only; the network is computed
    when /network is first asked for (its job writes figures that differ from the store's, and a
    remote store may be read-only, or shared by several app processes that would each compute it)."""
    from kb.index import browse, search
    from kb.publish import network, network_job

    if not network_too:
        search.connect(kb).close()
        browse.tables(kb)
        return
    network_job.refresh(kb)  # in a child process from now on: it also writes graph/network if an accept
    # was stopped before its figures were (they are then of an older generation)
    search.connect(kb).close()
    for type_ in browse.BROWSE_TYPES:
        browse.table(kb, type_)
    try:
        net, _ = network_job.current(kb)  # waits on the job (a pipe), not holding the interpreter
    except network_job.Computing as exc:
        logging.getLogger("dsikb.network").warning("no network of organisations at start-up: %s", exc.message)
        return
    network.view(kb, net=net)  # the /network page's unfiltered view
