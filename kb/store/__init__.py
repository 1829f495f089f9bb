"""The store interface: `KB.open(settings)` gives the embedded Oxigraph store or a remote SPARQL 1.1 store; the public default graph, loading and per-generation caches."""
