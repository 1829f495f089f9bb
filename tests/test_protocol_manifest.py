"""The W3C SPARQL 1.1 Protocol tests that apply to a read-only endpoint (every ``query_*`` and
``bad_query_*`` entry), and the Service Description tests, run from the W3C manifests themselves:
requests, data files and expected responses are read from the Turtle, not retyped."""

from __future__ import annotations

import io
import json

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import RDF, RDFS, Namespace
from rdflib.collection import Collection
from rdflib.query import Result

from tests.conftest import SPECS, settings_for
from kb.store import publicview

PROTOCOL = SPECS / "sparql11-protocol" / "manifest.ttl"
SERVICE_DESCRIPTION = SPECS / "sparql11-service-description" / "manifest.ttl"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")

TABULAR = {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
           "text/tab-separated-values"}
RDF_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml"}


def _entries(path) -> tuple[rdflib.Graph, list[rdflib.URIRef]]:
    graph = rdflib.Graph().parse(path, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    return graph, list(Collection(graph, graph.value(manifest, MF.entries)))


PROTOCOL_GRAPH, PROTOCOL_ENTRIES = _entries(PROTOCOL)
READ_ONLY_TESTS = [e for e in PROTOCOL_ENTRIES
                   if str(e).split("#")[-1].startswith(("query_", "bad_query_"))]
UPDATE_TESTS = [e for e in PROTOCOL_ENTRIES
                if str(e).split("#")[-1].startswith(("update_", "bad_update_"))]
TOKEN = "w3c-manifest-token"


def _graph_data(test) -> frozenset[tuple[str, str]]:
    """(data file, graph IRI) pairs the test needs loaded."""
    g = PROTOCOL_GRAPH
    return frozenset((str(g.value(d, UT.graph)), str(g.value(d, RDFS.label))) for d in g.objects(test, UT.graphData))


@pytest.fixture(scope="module")
def endpoint_for(tmp_path_factory):
    """A real app over a store holding exactly the graphs a test names, one store per data set;
    ``fresh=True`` gives a store of its own with SPARQL Update on (update tests change data)."""
    from endpoint import create_app, sparql
    from kb.store import KB

    apps: dict = {}
    made: list = []

    def build(data: frozenset, token: str | None):
        path = tmp_path_factory.mktemp("w3c-protocol") / "store"
        settings = settings_for(path, rate_limit=0, query_workers=1, update_token=token,
                                trusted_hosts="localhost www.example")
        kb = KB.open(settings)
        for file_iri, graph in sorted(data):
            kb.add_quads(ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(graph)) for t in
                         ox.parse(path=file_iri.removeprefix("file://"), format=ox.RdfFormat.N_TRIPLES))
        publicview.rebuild(kb)  # derive the public default graph of what was written directly
        kb.bump()
        kb.flush()
        app = create_app(settings, kb=kb)
        app.config["TESTING"] = True
        made.append(app)
        return app

    def get(data: frozenset, *, fresh: bool = False):
        if fresh:
            return build(data, TOKEN).test_client()
        if data not in apps:
            apps[data] = build(data, None)
        return apps[data].test_client()

    yield get
    for app in made:
        sparql.close(app)


def _status_ok(code: int, expected: set) -> bool:
    return any(str(e).endswith(f"StatusCode{code // 100}xx") for e in expected)


@pytest.mark.parametrize("test", READ_ONLY_TESTS + UPDATE_TESTS, ids=lambda t: str(t).split("#")[-1])
def test_w3c_protocol(test, endpoint_for):
    g = PROTOCOL_GRAPH
    updating = test in UPDATE_TESTS
    client = endpoint_for(_graph_data(test), fresh=updating)
    action = g.value(test, MF.action)
    requests = list(Collection(g, g.value(action, HT.requests)))
    assert requests, f"{test} has no request"
    for req in requests:
        method = str(g.value(req, HT.methodName))
        path = str(g.value(req, HT.absolutePath))
        assert path.startswith("/sparql/")
        headers = {}
        header_list = g.value(req, HT.headers)
        if header_list is not None:
            for h in Collection(g, header_list):
                headers[str(g.value(h, HT.fieldName))] = str(g.value(h, HT.fieldValue))
        body = g.value(req, HT.body)
        data = None
        if body is not None:
            encoding = str(g.value(body, CNT.characterEncoding) or "UTF-8")
            data = str(g.value(body, CNT.chars)).encode(encoding)
        content_type = headers.pop("content-type", None)
        if updating:  # the operator's token, which turns SPARQL Update on
            headers["Authorization"] = f"Bearer {TOKEN}"
        kwargs = {"method": method, "headers": headers}
        if data is not None:
            kwargs["data"] = data
        if content_type:
            kwargs["content_type"] = content_type
        response = client.open(path, **kwargs)
        resp = g.value(req, HT.resp)
        expected = set(g.objects(resp, MF.expectedStatus))
        assert _status_ok(response.status_code, expected), (response.status_code, response.data)
        fmt = g.value(resp, MF.expectedFormat)
        media = response.mimetype
        if fmt is not None and str(fmt) == "boolean":
            assert media in ("application/sparql-results+json", "application/sparql-results+xml")
            kind = "json" if media.endswith("json") else "xml"
            answer = Result.parse(io.BytesIO(response.data), format=kind).askAnswer
            expected_bool = g.value(resp, MF.expectedBoolean)
            if expected_bool is not None:
                assert answer is expected_bool.toPython()
        elif fmt is not None and str(fmt) == "tabular":
            assert media in TABULAR
            if media == "application/sparql-results+json":
                assert json.loads(response.data)["head"]["vars"] == ["value"]
        elif fmt is not None and str(fmt) == "RDF":
            assert media in RDF_TYPES
            rdflib.Graph().parse(data=response.data, format=RDF_TYPES[media])


def test_every_read_only_protocol_test_is_run():
    names = {str(e).split("#")[-1] for e in READ_ONLY_TESTS}
    assert len(names) == 19
    assert len(UPDATE_TESTS) == 13
    assert {"query_post_form", "query_multiple_dataset", "bad_query_non_utf8", "bad_query_method"} <= names


SD_GRAPH, SD_ENTRIES = _entries(SERVICE_DESCRIPTION)


def _check_sd(name: str, response, endpoint: str) -> None:
    g = rdflib.Graph()
    if name == "returns-rdf":
        assert response.status_code == 200
        assert response.mimetype in RDF_TYPES
    g.parse(data=response.data, format=RDF_TYPES.get(response.mimetype, "turtle"))
    services = list(g.subjects(RDF.type, SD.Service))
    if name == "has-endpoint-triple":
        assert (rdflib.URIRef(endpoint), SD.endpoint, rdflib.URIRef(endpoint)) in g
    elif name == "conforms-to-schema":
        assert len(services) == 1
        service = services[0]
        assert all(isinstance(e, rdflib.URIRef) for e in g.objects(service, SD.endpoint))
        languages = set(g.objects(service, SD.supportedLanguage))
        assert languages and languages <= {SD.SPARQL10Query, SD.SPARQL11Query, SD.SPARQL11Update}
        for prop in (SD.feature, SD.resultFormat, SD.inputFormat):
            assert all(isinstance(v, rdflib.URIRef) for v in g.objects(service, prop))
        dataset = g.value(service, SD.defaultDataset)
        assert (dataset, RDF.type, SD.Dataset) in g
        assert (g.value(dataset, SD.defaultGraph), RDF.type, SD.Graph) in g
        for named in g.objects(dataset, SD.namedGraph):
            assert isinstance(g.value(named, SD.name), rdflib.URIRef)


@pytest.mark.parametrize("test", SD_ENTRIES, ids=lambda t: str(t).split("#")[-1])
@pytest.mark.parametrize("accept", [None, "text/turtle", "application/rdf+xml"])
def test_w3c_service_description(test, accept, endpoint_for):
    client = endpoint_for(frozenset({(str(SPECS / "sparql11-protocol" / "data1.nt"),
                                      "http://kasei.us/2009/09/sparql/data/data1.rdf")}))
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", headers=headers, base_url="http://www.example:8080")
    _check_sd(str(test).split("#")[-1], response, "http://www.example:8080/sparql")
