"""dsikb: the knowledge base of Digital Social Innovation (store, import, dumps, linking, CLI).

Nothing in this package imports Flask: these are small functions over a store, used by the
command line, the web app and the tests alike.
"""

__version__ = "0.1.0"
