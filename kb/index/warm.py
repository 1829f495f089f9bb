"""Build at start-up what the first requests would otherwise wait for: the browse tables, the
full-text index and the network of this store generation. ``dsikb serve`` runs :func:`warm` in the
background. Its own module, above browse, search and the network (which reads browse's facets)."""

from __future__ import annotations


def warm(kb) -> None:
    from kb.index import browse, search
    from kb.publish import network

    search.connect(kb).close()
    for type_ in browse.BROWSE_TYPES:
        browse.table(kb, type_)
    network.view(kb)  # the /network page: the network of this generation and its unfiltered view
