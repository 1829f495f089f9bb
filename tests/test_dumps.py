"""Dumps: ``kb.dump`` and ``dsikb dump`` (streaming, gzip, public ones leave hidden and withdrawn
entities out) and ``/dumps/`` over HTTP (listing as HTML and JSON, downloads with ETag,
Last-Modified, Content-Length, 304, regeneration when the store changes)."""

from __future__ import annotations

import gzip
import hashlib
import io

import pytest
import rdflib

from tests.conftest import settings_for
from tests.support import make_app

EX = "https://w3id.org/dsi/"
SMALL = """
@prefix dsi: <https://w3id.org/dsi/def/dsi#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://w3id.org/dsi/id/organisation/nesta> a dsi:Organisation ; rdfs:label "Nesta"@en ;
    owl:sameAs <http://www.wikidata.org/entity/Q6985508>, <http://data.digitalsocial.eu/id/organization/0001> ;
    dsi:takesPartIn <https://w3id.org/dsi/id/project/p1> .
<https://w3id.org/dsi/id/organisation/waag> a dsi:Organisation ; rdfs:label "Waag"@en ;
    skos:closeMatch <http://www.wikidata.org/entity/Q2268422> .
<https://w3id.org/dsi/id/organisation/spam> a dsi:Organisation ; rdfs:label "Buy <script>alert(1)</script> now"@en ;
    dsi:hidden true ; dsi:takesPartIn <https://w3id.org/dsi/id/project/p1> ;
    owl:sameAs <http://www.wikidata.org/entity/Q1> .
<https://w3id.org/dsi/id/project/p1> a dsi:Project ; rdfs:label "Project one"@en .
<https://w3id.org/dsi/id/project/p1#membership-spam-takes-part> a dsi:ActivityMembership ;
    dsi:organisation <https://w3id.org/dsi/id/organisation/spam> ; dsi:project <https://w3id.org/dsi/id/project/p1> .
<https://w3id.org/dsi/id/organisation/gone> a dsi:Organisation ; rdfs:label "Gone"@en ;
    dsi:withdrawn "2025-01-01T00:00:00Z"^^xsd:dateTime .
"""
# statements about or pointing to the spam/gone entities and the spam membership node
EXCLUDED = 5 + 3 + 3
SMALL_TOTAL = 5 + 3 + 5 + 2 + 3 + 3


def parse_quads(data, format="nquads") -> rdflib.Dataset:
    """Quads parsed back with rdflib (whose Dataset.parse warns about its own deprecated API)."""
    import warnings

    ds = rdflib.Dataset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="rdflib")
        warnings.filterwarnings("ignore", message="Dataset", category=DeprecationWarning)
        ds.parse(data=data, format=format)
    return ds


def parse_graph(data, format) -> rdflib.Graph:
    """Triples parsed back with rdflib (its JSON-LD parser warns about its own deprecated API)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return rdflib.Graph().parse(data=data, format=format)


def count_quads(ds: rdflib.Dataset) -> int:
    return sum(1 for _ in ds.quads((None, None, None, None)))


def make_small_kb(path):
    """An on-disk store with SMALL in the curated graph and one triple duplicated in another graph."""
    from kb.store import KB

    kb = KB.open(settings_for(path))
    data = path.parent / "small.ttl"
    data.write_text(SMALL)
    kb.load_file(data, graph=kb.graphs.curated)
    dup = path.parent / "dup.ttl"
    dup.write_text('<https://w3id.org/dsi/id/project/p1> <http://www.w3.org/2000/01/rdf-schema#label> "Project one"@en .')
    kb.load_file(dup, graph=kb.graphs.derived)
    return kb


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    return make_small_kb(tmp_path_factory.mktemp("dumps") / "store")


@pytest.fixture(scope="module")
def small_app(small_kb):
    return make_app(small_kb)


@pytest.fixture()
def small_client(small_app):
    return small_app.test_client()


# -- kb.dump ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, rdflib_format, quads", [
    ("nq", "nquads", True), ("trig", "trig", True), ("ttl", "turtle", False),
    ("nt", "nt", False), ("jsonld", "json-ld", False),
])
def test_dump_round_trips_every_format(small_kb, tmp_path, fmt, rdflib_format, quads):
    from kb.publish.dump import dump

    out = tmp_path / f"all.{fmt}.gz"
    n = dump(small_kb, fmt, out)
    with gzip.open(out, "rb") as fh:
        data = fh.read()
    if quads:
        ds = parse_quads(data, rdflib_format)
        assert n == SMALL_TOTAL + 1 == count_quads(ds)  # the duplicated label is in two graphs
        assert {str(g.identifier) for g in ds.graphs() if len(g)} >= {small_kb.graphs.curated, small_kb.graphs.derived}
    else:
        g = parse_graph(data, rdflib_format)
        assert n == SMALL_TOTAL == len(g)  # the union: each triple once


def test_public_dump_leaves_hidden_and_withdrawn_entities_out(small_kb, tmp_path):
    from kb.publish.dump import dump

    out = tmp_path / "public.nq"
    n = dump(small_kb, "nq", out, public=True)
    ds = parse_quads(out.read_bytes())
    assert n == count_quads(ds) == SMALL_TOTAL + 1 - EXCLUDED
    text = out.read_text()
    for gone in ("organisation/spam", "organisation/gone", "membership-spam", "Q1>"):
        assert gone not in text
    assert "organisation/nesta" in text and "Q6985508" in text


def test_dump_of_one_graph_and_unknown_graph(small_kb, tmp_path):
    from kb.publish.dump import dump
    from kb.errors import BadRequest

    out = tmp_path / "derived.ttl"
    assert dump(small_kb, "ttl", out, graph=small_kb.graphs.derived) == 1
    assert len(rdflib.Graph().parse(out)) == 1
    with pytest.raises(BadRequest, match="no graph"):
        dump(small_kb, "ttl", tmp_path / "x.ttl", graph=EX + "graph/nope")
    assert not (tmp_path / "x.ttl").exists()  # nothing half-written


def test_dump_writes_to_a_binary_stream(small_kb):
    from kb.publish.dump import dump

    buf = io.BytesIO()
    assert dump(small_kb, "nt", buf) == SMALL_TOTAL
    assert len(rdflib.Graph().parse(data=buf.getvalue(), format="nt")) == SMALL_TOTAL


def test_cli_dump_gz_and_stdout(tmp_path, capsysbinary):
    from kb.cli import main

    kb = make_small_kb(tmp_path / "store")
    kb.flush()
    del kb
    import gc

    gc.collect()
    out = tmp_path / "d.nq.gz"
    assert main(["dump", "--store", str(tmp_path / "store"), "--format", "nq", "--public", "--out", str(out)]) == 0
    err = capsysbinary.readouterr().err.decode()
    assert f"{SMALL_TOTAL + 1 - EXCLUDED} statements written" in err
    ds = parse_quads(gzip.decompress(out.read_bytes()))
    assert count_quads(ds) == SMALL_TOTAL + 1 - EXCLUDED
    assert main(["dump", "--store", str(tmp_path / "store"), "--format", "nt"]) == 0
    stdout = capsysbinary.readouterr().out
    assert len(rdflib.Graph().parse(data=stdout, format="nt")) == SMALL_TOTAL


def test_cli_dump_of_a_missing_store_exits_2(tmp_path, capsys):
    from kb.cli import main

    assert main(["dump", "--store", str(tmp_path / "none"), "--format", "nq"]) == 2
    assert "dsikb init" in capsys.readouterr().err


# -- /dumps/ over HTTP ----------------------------------------------------------------------------------
def fetch(client, path, method="get", **kwargs):
    """A response with its body read and its file closed (downloads are streamed from disk)."""
    r = getattr(client, method)(path, **kwargs)
    r.get_data()
    r.close()
    return r


@pytest.mark.parametrize("accept, content_type", [
    ("text/html", "text/html"), ("application/json", "application/json"),
    ("text/html;q=0.5, application/json", "application/json"), (None, "text/html"),
])
def test_listing_negotiates_html_and_json(small_client, accept, content_type):
    headers = {"Accept": accept} if accept else {}
    r = small_client.get("/dumps/", headers=headers)
    assert r.status_code == 200 and r.mimetype == content_type
    assert "Accept" in r.headers["Vary"]
    if content_type == "application/json":
        body = r.get_json()
        assert [f["name"] for f in body["files"]] == ["dsi.ttl.gz", "dsi.nt.gz", "dsi.nq.gz", "dsi.jsonld.gz"]
        nq = next(f for f in body["files"] if f["name"] == "dsi.nq.gz")
        nt = next(f for f in body["files"] if f["name"] == "dsi.nt.gz")
        assert nq["triples"] == SMALL_TOTAL + 1 - EXCLUDED  # statements, one per graph stating them
        # the dataset's figure is its RDF merge: the N-Triples file, each triple once
        assert nt["triples"] == SMALL_TOTAL - EXCLUDED == body["triples"]
        assert nq["url"].startswith("http://localhost/dumps/")
    else:
        html = r.get_data(as_text=True)
        assert "<h1>Download the dataset</h1>" in html and "dsi.nq.gz" in html and "SHA-256" in html


def test_listing_json_twin_and_406(small_client):
    r = small_client.get("/dumps/index.json")
    assert r.status_code == 200 and r.is_json and len(r.get_json()["files"]) == 4
    r = small_client.get("/dumps/", headers={"Accept": "image/png"})
    assert r.status_code == 406 and "text/html" in r.get_data(as_text=True)


@pytest.mark.parametrize("name, rdflib_format, expected", [
    ("dsi.nq.gz", "nquads", SMALL_TOTAL + 1 - EXCLUDED),
    ("dsi.ttl.gz", "turtle", SMALL_TOTAL - EXCLUDED),
    ("dsi.nt.gz", "nt", SMALL_TOTAL - EXCLUDED),
    ("dsi.jsonld.gz", "json-ld", SMALL_TOTAL - EXCLUDED),
])
def test_download_parses_back_with_listed_size_and_checksum(small_client, name, rdflib_format, expected):
    listing = {f["name"]: f for f in small_client.get("/dumps/index.json").get_json()["files"]}
    r = fetch(small_client, f"/dumps/{name}")
    assert r.status_code == 200 and r.mimetype == "application/gzip"
    body = r.data
    assert int(r.headers["Content-Length"]) == len(body) == listing[name]["bytes"]
    assert hashlib.sha256(body).hexdigest() == listing[name]["sha256"]
    assert r.headers["ETag"] == f'"{listing[name]["sha256"]}"' and r.headers["Last-Modified"]
    data = gzip.decompress(body)
    if rdflib_format == "nquads":
        size = count_quads(parse_quads(data))
    else:
        size = len(parse_graph(data, rdflib_format))
    assert size == expected == listing[name]["triples"]
    assert b"organisation/spam" not in data


def test_download_conditional_get(small_client):
    first = fetch(small_client, "/dumps/dsi.nt.gz")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    r = fetch(small_client, "/dumps/dsi.nt.gz", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == etag
    r = fetch(small_client, "/dumps/dsi.nt.gz", headers={"If-Modified-Since": modified})
    assert r.status_code == 304
    r = fetch(small_client, "/dumps/dsi.nt.gz", headers={"If-None-Match": '"something-else"'})
    assert r.status_code == 200 and r.data == first.data
    r = fetch(small_client, "/dumps/dsi.nt.gz", method="head")
    assert r.status_code == 200 and r.headers["Content-Length"] == first.headers["Content-Length"]


def test_download_resumes_with_a_range(small_client):
    whole = fetch(small_client, "/dumps/dsi.ttl.gz").data
    r = fetch(small_client, "/dumps/dsi.ttl.gz", headers={"Range": "bytes=10-"})
    assert r.status_code == 206 and r.data == whole[10:]
    assert r.headers["Content-Range"] == f"bytes 10-{len(whole) - 1}/{len(whole)}"


def test_unknown_dump_is_404_with_the_list(small_client):
    r = small_client.get("/dumps/dsi.rdf.gz", headers={"Accept": "text/plain"})
    assert r.status_code == 404 and "dsi.nq.gz" in r.get_data(as_text=True)


@pytest.mark.embedded_only("the dumps sit in a folder beside the on-disk store (a remote store's are per process, in a temporary folder)")
def test_dumps_are_regenerated_only_when_the_store_changes(tmp_path):
    from endpoint import create_app

    kb = make_small_kb(tmp_path / "store")
    client = create_app(kb.settings, kb=kb).test_client()
    first = client.get("/dumps/index.json").get_json()
    again = client.get("/dumps/index.json").get_json()
    assert again["created"] == first["created"] and again["generation"] == first["generation"]
    assert (tmp_path / "store.dumps" / "manifest.json").exists()  # beside the store
    etag = fetch(client, "/dumps/dsi.nq.gz").headers["ETag"]
    extra = tmp_path / "extra.ttl"
    extra.write_text('<https://w3id.org/dsi/id/organisation/fablab> <http://www.w3.org/2000/01/rdf-schema#label> "Fab Lab" .')
    kb.load_file(extra, graph=kb.graphs.curated)
    after = client.get("/dumps/index.json").get_json()
    assert after["generation"] > first["generation"] and after["fresh"]
    assert after["triples"] == first["triples"] + 1
    r = fetch(client, "/dumps/dsi.nq.gz", headers={"If-None-Match": etag})
    assert r.status_code == 200 and b"Fab Lab" in gzip.decompress(r.data)
    assert len([p for p in (tmp_path / "store.dumps").iterdir() if p.is_dir()]) == 1  # old files removed
