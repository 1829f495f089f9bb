"""The ``dsikb`` command: exit 0 on success, 1 on a finding (validation failure), 2 on an error.

Every subcommand is a thin shell over a function in ``kb``; the functions do the work and are what the
web app and the tests call too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from kb.errors import KBError, NotFound
from kb.settings import Settings


def _settings(args) -> Settings:
    return Settings.from_env(store=getattr(args, "store", None), base_uri=getattr(args, "base_uri", None))


def _open(args, read_only=False):
    from kb.store import KB

    return KB.open(_settings(args), read_only=read_only)


def cmd_init(args) -> int:
    from kb.build.init import init

    settings = _settings(args)
    if args.sources is not None:
        settings = settings.replace(sources=args.sources)
    summary = init(settings, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(summary, indent=2) if args.json else _summary_text(summary))
    return 0


def _summary_text(summary: dict) -> str:
    lines = [f"store: {summary['store']}"]
    for graph, state in summary["graphs"].items():
        lines.append(f"  {state:9} {graph}")
    lines.append(f"triples: {summary['triples']}")
    return "\n".join(lines)


def cmd_serve(args) -> int:
    from endpoint.server import serve

    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    settings = Settings.from_env(store=args.store, host=args.host, port=args.port)
    return serve(settings, workers=args.workers)


def waitress_options(settings: Settings) -> dict:
    """Options of the waitress server `dsikb serve` runs: enough threads that pages never wait for
    SPARQL, which may hold at most ``DSIKB_SPARQL_THREADS`` of them (docs/sparql.md)."""
    if settings.sparql_threads >= settings.server_threads:
        print(f"warning: DSIKB_SPARQL_THREADS ({settings.sparql_threads}) >= DSIKB_SERVER_THREADS "
              f"({settings.server_threads}): SPARQL can hold every thread and pages can wait",
              file=sys.stderr)
    # The app decides which X-Forwarded-For to believe (DSIKB_TRUSTED_PROXIES, addresses or networks):
    # left to itself, waitress deletes the header from every peer it was not told to trust.
    return {"threads": settings.server_threads, "ident": "dsikb", "clear_untrusted_proxy_headers": False}


def cmd_import(args) -> int:
    from kb.importers import run_import

    kb = _open(args)
    report = run_import(kb, args.source, Path(args.dir), report_dir=args.report_dir)
    print(report.summary())
    from kb.build.derive import derive

    for graph, state in derive(kb).items():  # shortcuts and collaborations follow the new data
        print(f"  {state}: {graph}")
    return 0


def cmd_fetch_sources(args) -> int:
    from kb.build.sources import fetch_sources

    dest = fetch_sources(Path(args.dest), log=lambda m: print(m, file=sys.stderr))
    print(dest)
    return 0


def cmd_load(args) -> int:
    from kb.store import KB

    # a bulk load leaves the public default graph to the next open of the store (kb/store/loader.py)
    kb = KB.open(_settings(args), defer_view=True)
    defer = {"defer_view": True} if isinstance(kb, KB) else {}  # a remote store loads over HTTP
    total = 0
    for file in args.files:
        t0 = time.monotonic()
        added = kb.load_file(file, graph=args.graph, format=args.format, **defer)
        total += added
        print(f"{file}: {added} triples added in {time.monotonic() - t0:.2f} s", file=sys.stderr)
    print(f"{total} triples added")
    return 0


def cmd_dump(args) -> int:
    from kb.publish.dump import dump

    kb = _open(args, read_only=True)  # a dump may run while `dsikb serve` holds the store
    n = dump(kb, args.format, args.out, graph=args.graph, public=args.public)
    if args.out:
        print(f"{n} statements written to {args.out}", file=sys.stderr)
    return 0


def cmd_validate(args) -> int:
    from kb.contribute.validate import validate_file

    result = validate_file(Path(args.file), settings=_settings(args))
    print(result.text)
    return 0 if result.conforms else 1


def cmd_stats(args) -> int:
    from kb.publish.stats import stats

    figures = stats(_open(args, read_only=True), detail=True)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            if isinstance(value, dict):
                print(f"{key}:")
                for k, v in value.items():
                    print(f"  {k}: {v}")
            else:
                print(f"{key}: {value}")
    return 0


def cmd_link(args) -> int:
    from kb.link import link_command

    return link_command(_open(args), args, settings=_settings(args))


def cmd_moderator(args) -> int:
    import getpass

    from kb.contribute import accounts

    path = args.file or _settings(args).moderators
    if not path:
        raise KBError("name the accounts file: --file FILE or DSIKB_MODERATORS")
    if args.action == "remove":
        accounts.remove_account(path, args.name)
        print(f"moderator {args.name} removed from {path}; their sessions have ended", file=sys.stderr)
        return 0
    if args.action == "passwd" and args.name not in accounts.read_accounts(path):
        raise NotFound(f"no moderator named {args.name!r} in {path}")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(f"password for {args.name}: ")
    if args.action == "passwd":
        accounts.set_password(path, args.name, password)
        print(f"password of moderator {args.name} changed in {path}; their sessions have ended", file=sys.stderr)
        return 0
    new = accounts.add_account(path, args.name, password)
    print(f"moderator {args.name} added to {path}" if new else
          f"moderator {args.name} updated in {path}; their sessions have ended", file=sys.stderr)
    return 0


def cmd_backup(args) -> int:
    from kb.store.backup import backup

    manifest = backup(_open(args), args.dir)
    print(f"backed up {manifest['quads']} quads ({manifest['store_kind']} store, generation "
          f"{manifest['generation']}) and {', '.join(manifest['files'])} into {args.dir}")
    return 0


def cmd_restore(args) -> int:
    from kb.store.backup import restore

    result = restore(_settings(args), args.dir)
    print(f"restored {result['restored']['quads']} quads from {args.dir} (made "
          f"{result['manifest']['created']}) into {_settings(args).store}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsikb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help):
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        p.add_argument("--store", help="store directory or sparql+http(s):// URL (DSIKB_STORE)")
        return p

    p = command("init", cmd_init, "Build or bring up to date the store: ontology, taxonomies, shapes, "
                "curated data and the real DSI sources. Re-running changes nothing.")
    p.add_argument("--sources", help="folder with the DSI exports (default: ../shared/data/dsi, else fetch)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = command("serve", cmd_serve, "Serve the knowledge base over HTTP.")
    p.add_argument("--host", help="address to listen on (DSIKB_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (DSIKB_PORT, default 8080)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="remote store: N app processes (gunicorn); embedded store: one app process that "
                        "owns the store and N SPARQL query processes (DSIKB_QUERY_WORKERS)")

    p = command("backup", cmd_backup, "Back up the store, its submission queue and moderator accounts "
                "into a new folder (consistent while the server runs).")
    p.add_argument("dir", help="folder to create")

    p = command("restore", cmd_restore, "Restore a backup made by `dsikb backup` into a new store.")
    p.add_argument("dir", help="the backup folder")

    p = command("import", cmd_import, "Import one real DSI export into its own named graph.")
    p.add_argument("source", choices=["dsi2013", "dsi4eu"], help="which export")
    p.add_argument("dir", help="folder holding the export files")
    p.add_argument("--report-dir", default="var/reports", help="where the import report is written")

    p = command("fetch-sources", cmd_fetch_sources,
                "Download the DSI exports from their pinned public origin and verify their SHA-256 sums.")
    p.add_argument("--dest", default="var/sources", help="folder to write them to")

    p = command("load", cmd_load, "Load RDF files (all or nothing per file).")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--graph", help="named graph IRI for triples (quad formats keep their graphs)")
    p.add_argument("--format", help="ttl, nt, nq, trig, jsonld or rdf (default: by extension)")

    p = command("dump", cmd_dump, "Write the store (or one graph) as RDF; gzip when FILE ends in .gz.")
    p.add_argument("--format", default="nq", choices=["ttl", "nt", "nq", "trig", "jsonld"])
    p.add_argument("--out", help="output file (default: standard output)")
    p.add_argument("--graph", help="only this named graph")
    p.add_argument("--public", action="store_true",
                   help="leave out hidden and withdrawn entities, as the /dumps/ files do")

    p = command("validate", cmd_validate, "Validate an RDF file against the SHACL shapes (exit 1 if it does not conform).")
    p.add_argument("file")

    p = command("stats", cmd_stats, "Figures of the store: triples, entities per class, graphs, links.")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("moderator", cmd_moderator, "Manage moderator accounts (name:hash lines in DSIKB_MODERATORS).")
    p.add_argument("action", choices=["add", "passwd", "remove"],
                   help="add (or replace) an account, change its password, or remove it; "
                        "passwd and remove end the account's sessions")
    p.add_argument("name")
    p.add_argument("--file", help="accounts file (default: DSIKB_MODERATORS)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    p = command("link", cmd_link, "Link entities to other datasets (Wikidata).")
    p.add_argument("target", choices=["wikidata"])
    p.add_argument("--endpoint", help="SPARQL endpoint to query (DSIKB_WIKIDATA_ENDPOINT)")
    p.add_argument("--limit", type=int, help="link at most this many entities")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KBError as exc:
        print(f"dsikb {args.command}: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except (OSError, ValueError) as exc:
        print(f"dsikb {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dsikb {args.command}: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
