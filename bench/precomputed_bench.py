"""The editor's gallery answered precomputed (kb/sparql/precomputed.py) against evaluated, side by side.

For each gallery query, alternately: the gallery text (answered from the table of this generation)
and the same query made unique by an unused PREFIX line (evaluated by the worker pool's heavy lane,
never from the result cache), through the app's WSGI interface (no HTTP client in the figures);
medians in milliseconds, and how long computing the whole table took.

    .venv/bin/python bench/precomputed_bench.py --store var/store --rounds 7
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    from endpoint import create_app, sparql
    from endpoint.sparql_editor import examples
    from kb.settings import Settings
    from kb.sparql import precomputed
    from kb.store import KB

    settings = Settings.from_env(store=args.store).replace(rate_limit=0)
    kb = KB.open(settings)
    app = create_app(settings, kb=kb)
    client = app.test_client()
    svc = app.extensions["dsikb_sparql"]
    getattr(svc.pool, "start", lambda: None)()  # as dsikb serve does before it listens
    table = svc.precomputed
    started = time.perf_counter()
    table.refresh()
    refresh = time.perf_counter() - started
    assert table.ready(), table.failures
    rows = []
    n = 0
    for ex in examples():
        media = precomputed.media_for(table.forms[ex.name])[0]
        served, evaluated = [], []
        for _ in range(args.rounds):
            n += 1
            for text, out, want in ((ex.query, served, True),
                                    (f"PREFIX bench{n}: <http://example.org/{n}#>\n" + ex.query, evaluated, False)):
                t0 = time.perf_counter()
                r = client.get("/sparql", query_string={"query": text}, headers={"Accept": media})
                body = r.data
                out.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and ("X-SPARQL-Precomputed" in r.headers) == want, (ex.name, body[:200])
        rows.append((ex.name, statistics.median(evaluated), statistics.median(served)))
    sparql.close(app)
    label = f" ({args.label})" if args.label else ""
    print(f"Gallery{label}: whole table computed in {refresh:.1f} s; {args.rounds} rounds, medians\n")
    print("| query | evaluated ms | precomputed ms | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, ev, pre in rows:
        print(f"| {name} | {ev:.1f} | {pre:.2f} | {ev / pre:.0f}x |")
    total_ev, total_pre = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"| **whole gallery (sum of medians)** | {total_ev:.0f} | {total_pre:.1f} | {total_ev / total_pre:.0f}x |")


if __name__ == "__main__":
    main()
