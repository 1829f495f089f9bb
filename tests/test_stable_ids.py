"""Stable identifiers: building twice, re-importing and merging never break an old URI.

Every entity URI of the built store must keep answering through HTTP: 303 to its page or data, or,
for a merged entity, 301 to the survivor (whose own URI answers 303, and whose page 200).
"""

from __future__ import annotations

import pytest

from kb.errors import BadRequest
from tests.conftest import settings_for

PAIR_QUERY = """SELECT ?a ?b WHERE {
  ?a a dsi:Project ; rdfs:label ?l . ?b a dsi:Project ; rdfs:label ?l .
  FILTER(STR(?a) < STR(?b)) FILTER NOT EXISTS { ?a dsi:hidden true } FILTER NOT EXISTS { ?b dsi:hidden true }
} ORDER BY ?l LIMIT 1"""


def entity_iris(kb) -> set[str]:
    rows = kb.select(f"SELECT DISTINCT ?e WHERE {{ ?e a ?t FILTER(STRSTARTS(STR(?e), '{kb.names.id_ns}')) }}")
    return {r["e"].value for r in rows if kb.names.parse_entity(r["e"].value)}


@pytest.fixture(scope="module")
def old_iris(built_kb):
    iris = entity_iris(built_kb)
    assert len(iris) > 2000
    return iris


def test_building_twice_mints_the_same_identifiers(old_iris, tmp_path):
    from kb.build.init import init
    from kb.store import KB

    settings = settings_for(tmp_path / "again")
    kb = KB.open(settings)
    init(settings, kb=kb)
    assert entity_iris(kb) == old_iris


def test_reimport_and_merge_keep_every_old_uri_answering(kb_copy, old_iris):
    from endpoint import create_app
    from kb.build.init import init
    from kb.contribute.merge import merge

    kb = kb_copy
    pair = kb.select(PAIR_QUERY)
    assert pair, "the real data has duplicate projects (same name twice)"
    survivor, merged = pair[0]["a"].value, pair[0]["b"].value
    assert merge(kb, survivor, merged, by="moderator", reason="the same project entered twice")
    assert not merge(kb, survivor, merged, by="moderator")  # idempotent
    with pytest.raises(BadRequest):
        merge(kb, merged, survivor, by="moderator")  # the merged one cannot become a survivor
    summary = init(kb.settings, kb=kb)  # re-import every source, bring the store up to date
    assert not [g for g, state in summary["graphs"].items() if "/import/" in g and state != "unchanged"]
    assert entity_iris(kb) >= old_iris  # nothing lost, nothing renamed

    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    client = app.test_client()
    id_ns = kb.names.id_ns
    moved = []
    for iri in sorted(old_iris):
        path = "/id/" + iri[len(id_ns):]
        r = client.get(path, headers={"Accept": "text/html"})
        assert r.status_code in (303, 301), f"{path} answers {r.status_code}"
        if r.status_code == 301:
            moved.append(iri)
            assert r.headers["Location"].endswith("/id/" + survivor[len(id_ns):])
        else:
            assert r.headers["Location"].endswith("/page/" + iri[len(id_ns):])
    assert moved == [merged]
    page = client.get("/page/" + merged[len(id_ns):], headers={"Accept": "text/html"})
    assert page.status_code == 301 and page.headers["Location"].endswith("/page/" + survivor[len(id_ns):])
    assert client.get("/page/" + survivor[len(id_ns):]).status_code == 200
    data = client.get("/data/" + merged[len(id_ns):] + ".ttl")
    assert data.status_code == 301


def test_merge_refuses_nonsense(kb_copy):
    from kb.errors import NotFound
    from kb.contribute.merge import merge

    n = kb_copy.names
    org = kb_copy.select("SELECT ?e WHERE { ?e a dsi:Organisation } LIMIT 1")[0]["e"].value
    proj = kb_copy.select("SELECT ?e WHERE { ?e a dsi:Project } LIMIT 1")[0]["e"].value
    with pytest.raises(BadRequest, match="one type"):
        merge(kb_copy, org, proj, by="m")
    with pytest.raises(BadRequest, match="itself"):
        merge(kb_copy, org, org, by="m")
    with pytest.raises(NotFound):
        merge(kb_copy, org, n.entity("organisation", "no-such-thing-here"), by="m")
