"""The app factory, /healthz and the one error handler, on a small store of their own."""

from __future__ import annotations

import pytest

from endpoint import create_app
from kb.store import KB
from tests.conftest import settings_for
from tests.support import counted_figures


@pytest.fixture()
def small_client(tmp_path):
    settings = settings_for(tmp_path / "store")
    kb = KB.open(settings)
    n = kb.names
    kb.update(f"""INSERT DATA {{ GRAPH <{kb.graphs.curated}> {{
        <{n.entity('organisation', 'nesta')}> a dsi:Organisation ; rdfs:label "Nesta" .
        <{n.entity('organisation', 'spam-co')}> a dsi:Organisation ; rdfs:label "Buy now" ; dsi:hidden true .
    }} }}""")
    app = create_app(settings, kb=kb)
    app.config["TESTING"] = True
    return app.test_client()


def test_create_app_builds_nothing_at_import_time():
    import endpoint

    assert not hasattr(endpoint, "app")


def test_healthz_reports_store_figures(small_client):
    response = small_client.get("/healthz")
    assert response.status_code == 200 and response.is_json
    assert response.get_json()["status"] == "ok"
    figures = counted_figures(small_client)
    assert figures["entities"]["Organisation"] == 1  # the hidden one is not counted
    assert figures["hidden_entities"] == 1
    # the public RDF merge (what SPARQL's default graph, VoID and the dumps hold): the hidden
    # organisation's statements are out; every statement of every graph is counted as quads
    assert figures["triples"] == 2 and figures["quads"] == 5


def test_home_page_shows_live_figures(small_client):
    counted_figures(small_client)
    response = small_client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>" in html and "organisations" in html


@pytest.mark.parametrize("accept, content_type, needle", [
    ("text/html", "text/html", "<h1>404 Not Found</h1>"),
    ("application/json", "application/json", '"status": 404'),
    ("text/plain", "text/plain", "404 Not Found"),
    (None, "text/plain", "404 Not Found"),
])
def test_errors_answer_in_the_asked_for_form(small_client, accept, content_type, needle):
    headers = {"Accept": accept} if accept else {}
    response = small_client.get("/no/such/page", headers=headers)
    assert response.status_code == 404
    assert response.content_type.startswith(content_type)
    assert needle in response.get_data(as_text=True).replace('"status":404', '"status": 404')


def test_method_not_allowed_keeps_allow_header(small_client):
    response = small_client.post("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
