"""The store interface (kb/store/base.py, :class:`Store`): ``KB.open(settings)`` gives the embedded
Oxigraph store or, for a ``sparql+http(s)://`` setting, a remote SPARQL 1.1 store (kb/store/remote.py),
both behind the same methods; the public default graph, loading and per-generation caches live beside
them. Features use only the interface."""

from kb.store.base import Store
from kb.store.embedded import KB
from kb.store.loader import rdf_format, syntax_problem

__all__ = ["KB", "Store", "rdf_format", "syntax_problem"]
