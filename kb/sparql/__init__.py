"""The SPARQL service over a knowledge base, without any web framework: safety checks
(:mod:`kb.sparql.safety`), result formats (:mod:`kb.sparql.formats`), stoppable evaluation in worker
processes (:mod:`kb.sparql.pool`), a small result cache (:mod:`kb.sparql.cache`) and the service
description (:mod:`kb.sparql.description`). ``endpoint/sparql.py`` puts HTTP around it."""
