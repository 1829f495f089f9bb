"""The store interface: ``KB.open(settings)`` gives the embedded Oxigraph store or, for a
``sparql+http(s)://`` setting, a remote SPARQL 1.1 store; the public default graph, loading and
per-generation caches live beside them."""

from kb.store.embedded import KB
from kb.store.loader import rdf_format, syntax_problem

__all__ = ["KB", "rdf_format", "syntax_problem"]
