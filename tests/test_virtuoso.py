"""Smoke suite on OpenLink Virtuoso 7 (Debian's ``virtuoso-opensource``) as the remote triple store:
the built store's graphs onto it through the store interface, then what a visitor (a page, a list, a
search), a SPARQL user, a contributor with a moderator, and a downloader do, each compared with the
embedded store's answer. ``dsikb init`` of the sources onto it runs with ``--backend=remote`` only
(minutes).

Virtuoso runs here as the current user, in the foreground, with its own virtuoso.ini (the packaged one,
adapted: database in a temp dir, free ports for SQL and HTTP, no result-row cap), and is stopped at the
end. The SPARQL user gets ``SPARQL_UPDATE`` (isql), so /sparql and the Graph Store Protocol at
/sparql-graph-crud take writes. The app is pointed at it with
``DSIKB_STORE=sparql+http://127.0.0.1:PORT/sparql``, ``DSIKB_STORE_GSP_URL=.../sparql-graph-crud`` and
``DSIKB_STORE_PUBLIC_GRAPH=https://w3id.org/dsi/graph/tmp/public``.

Virtuoso differs from Oxigraph where it matters to us: its default graph is the union of all graphs
and cannot be written (so the public view lives in a named graph that SPARQL users get as their
default graph), it keeps system graphs of its own, its TSV results are not SPARQL's, and it never
answers a direct POST of ``application/sparql-query`` (docs/deploy.md, "Tested stores").

Runs in ``make test`` (and ``make test-remote``); skipped, saying why, where Virtuoso is not
installed (``.ci/run`` installs it: ``apt-get install -y virtuoso-opensource``).
"""

from __future__ import annotations

import configparser
import gzip
import json
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests import support
from tests.conftest import SOURCES
from tests.remote import free_port

VIRTUOSO = shutil.which("virtuoso-t")
ISQL = shutil.which("isql-vt") or shutil.which("isql")
PACKAGED_INI = Path("/etc/virtuoso-opensource-7/virtuoso.ini")
PASSWORD = "correct horse battery"
START_TIMEOUT = 300  # seconds: a first start creates the database (half a minute on a busy machine)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(VIRTUOSO is None or ISQL is None, reason="OpenLink Virtuoso is not installed "
                       "(apt-get install -y virtuoso-opensource; .ci/run does): no virtuoso-t or isql"),
]

MINIMAL_INI = """
[Database]
[TempDatabase]
[Parameters]
DisableUnixSocket = 1
CaseMode = 2
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
[HTTPServer]
ServerThreads = 10
Charset = UTF-8
[SPARQL]
"""


def virtuoso_ini(folder: Path, sql_port: int, http_port: int) -> str:
    """The packaged virtuoso.ini (or a minimal one), with everything it writes in ``folder`` and our
    own ports: nothing shared with a system Virtuoso."""
    ini = configparser.ConfigParser(strict=False, interpolation=None, inline_comment_prefixes=(";",),
                                    comment_prefixes=(";", "#"))
    ini.optionxform = str  # Virtuoso's keys are case-sensitive
    ini.read_string(PACKAGED_INI.read_text() if PACKAGED_INI.exists() else MINIMAL_INI)
    for section in ("Database", "TempDatabase", "Parameters", "HTTPServer", "SPARQL", "URIQA"):
        if not ini.has_section(section):
            ini.add_section(section)
    db = ini["Database"]
    for key, name in (("DatabaseFile", "virtuoso.db"), ("ErrorLogFile", "virtuoso.log"),
                      ("LockFile", "virtuoso.lck"), ("TransactionFile", "virtuoso.trx"),
                      ("xa_persistent_file", "virtuoso.pxa")):
        db[key] = str(folder / name)
    db.setdefault("TempStorage", "TempDatabase")
    temp = ini["TempDatabase"]
    temp["DatabaseFile"] = str(folder / "virtuoso-temp.db")
    temp["TransactionFile"] = str(folder / "virtuoso-temp.trx")
    params = ini["Parameters"]
    params["ServerPort"] = f"127.0.0.1:{sql_port}"
    params["DirsAllowed"] = f"., {folder}"
    params.pop("VADInstallDir", None)  # no Conductor: quicker first start, nothing we use
    http = ini["HTTPServer"]
    http["ServerPort"] = f"127.0.0.1:{http_port}"
    if not Path(http.get("ServerRoot", "/nonexistent")).is_dir():
        (folder / "vsp").mkdir(exist_ok=True)
        http["ServerRoot"] = str(folder / "vsp")
    ini["URIQA"]["DefaultHost"] = f"127.0.0.1:{http_port}"
    sparql = ini["SPARQL"]
    sparql["ResultSetMaxRows"] = "10000000"  # the packaged 10000 would cut answers short, silently
    sparql["MaxQueryExecutionTime"] = "300"
    sparql["MaxQueryCostEstimationTime"] = "0"  # never refuse a query for its estimated cost
    if ini.has_section("Plugins"):
        ini.remove_section("Plugins")
    lines = []
    for section in ini.sections():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in ini[section].items())
    return "\n".join(lines) + "\n"


class Virtuoso:
    def __init__(self, folder: Path):
        self.folder = folder
        self.sql_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_tail(self) -> str:
        log = self.folder / "console.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def start(self) -> "Virtuoso":
        self.folder.mkdir(parents=True, exist_ok=True)
        ini = self.folder / "virtuoso.ini"
        ini.write_text(virtuoso_ini(self.folder, self.sql_port, self.http_port))
        with open(self.folder / "console.log", "ab") as out:
            self.process = subprocess.Popen([VIRTUOSO, "+foreground", "+configfile", str(ini)], cwd=self.folder,
                                            stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(self.url + "/sparql?query=ASK%7B%7D", timeout=5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"Virtuoso did not start in {START_TIMEOUT} s:\n{self.log_tail()}")
                time.sleep(0.5)
        # the anonymous SPARQL user may update (and so use the Graph Store Protocol): a test store
        self.isql('GRANT SPARQL_UPDATE TO "SPARQL";',
                  'GRANT EXECUTE ON DB.DBA.SPARQL_INSERT_DICT_CONTENT TO "SPARQL";',
                  'GRANT EXECUTE ON DB.DBA.SPARQL_DELETE_DICT_CONTENT TO "SPARQL";')
        return self

    def isql(self, *statements: str) -> str:
        done = subprocess.run([ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", "exec=" + " ".join(statements)],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0 or "Error" in done.stdout:
            pytest.fail(f"isql failed: {done.stdout}{done.stderr}")
        return done.stdout

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # Virtuoso checkpoints and exits on SIGTERM
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    server = Virtuoso(tmp_path_factory.mktemp("virtuoso") / "db").start()
    yield server
    server.stop()


PUBLIC_GRAPH = "https://w3id.org/dsi/graph/tmp/public"  # DSIKB_STORE_PUBLIC_GRAPH: Virtuoso's default graph is not writable
REPLACED = ("https://w3id.org/dsi/graph/matches", "https://w3id.org/dsi/graph/network")


def virtuoso_settings(server: Virtuoso, accounts: Path | None = None):
    from kb.settings import Settings

    return Settings.from_env(
        environ={}, store=f"sparql+{server.url}/sparql", store_gsp_url=f"{server.url}/sparql-graph-crud",
        store_public_graph=PUBLIC_GRAPH, sources=str(SOURCES), moderators=str(accounts or ""), rate_limit=0,
        submission_rate_limit=0, query_workers=1,
        # what a request waits for a first build (the /browse tables read over SPARQL) before its 503:
        # on a loaded machine the first build over Virtuoso took longer than the default 30 s
        query_timeout=120.0)


@pytest.fixture(scope="module")
def vkb(virtuoso, embedded, tmp_path_factory):
    """The built store's graphs onto Virtuoso through the store interface, as ``dsikb init`` writes
    them, but without building them again from the sources (a minute of Python): every graph by a
    Graph Store Protocol upload and the public view derived on Virtuoso, then two graphs again by
    ``replace_graph`` (the incremental upkeep of the public view, init's path for each graph).
    ``dsikb init`` itself onto Virtuoso: :func:`test_dsikb_init_onto_virtuoso` (--backend=remote)."""
    import pyoxigraph as ox

    from kb.contribute.accounts import add_account
    from kb.store import KB, publicview

    accounts = tmp_path_factory.mktemp("virtuoso-accounts") / "moderators"
    add_account(accounts, "alice", PASSWORD)
    kb = KB.open(virtuoso_settings(virtuoso, accounts))
    ekb = embedded.extensions["dsikb"]
    started = time.monotonic()
    graphs = [g for g in ekb.named_graphs() if g not in REPLACED]
    kb.add_quads(q for g in graphs for q in ekb.graph_quads(g))
    publicview.rebuild(kb)
    kb.bump()
    for g in REPLACED:
        placeholder = [ox.Triple(ox.NamedNode(g + "#placeholder"), ox.NamedNode(RDFS_LABEL), ox.Literal("old"))]
        kb.replace_graph(g, placeholder)
        kb.replace_graph(g, [q.triple for q in ekb.graph_quads(g)])
    kb.init_seconds = time.monotonic() - started
    yield kb
    kb.close()


RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


@pytest.fixture(scope="module")
def vapp(vkb):
    from endpoint import sparql

    app = support.make_app(vkb)
    yield app
    sparql.close(app)


@pytest.fixture(scope="module")
def embedded(built_kb, built_store_dir):
    """The embedded store's answers to compare with: the built store itself, opened in process."""
    from kb.settings import Settings
    from kb.store import KB

    from endpoint import sparql

    kb = built_kb
    if support.remote():
        kb = KB.open(Settings.from_env(environ={}, store=str(built_store_dir), sources=str(SOURCES),
                                       query_workers=1, rate_limit=0), read_only=True)
    app = support.make_app(kb)
    yield app
    sparql.close(app)


def _known_org(kb) -> tuple[str, str]:
    row = kb.select("SELECT ?s ?l WHERE { ?s a dsi:Organisation ; dsi:leads ?p ; rdfs:label ?l "
                    "FILTER NOT EXISTS { ?s dsi:hidden true } } ORDER BY ?s LIMIT 1")[0]
    return row["s"].value, row["l"].value


def _sparql_json(client, query: str) -> dict:
    r = client.get("/sparql", query_string={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    return json.loads(r.data)


def test_virtuoso_holds_every_graph_and_the_public_view_of_the_embedded_store(vkb, embedded):
    from kb.store import publicview

    ekb = embedded.extensions["dsikb"]
    expected = {g: ekb.triple_count(g) for g in ekb.named_graphs()}
    assert vkb.named_graphs() == sorted(expected), "Virtuoso's own graphs must not show"
    assert {g: vkb.triple_count(g) for g in expected} == expected
    assert publicview.size(vkb) == publicview.size(ekb) > 0
    assert vkb.generation > 0
    print(f"the built store onto Virtuoso: {vkb.init_seconds:.0f} s")


@pytest.mark.skipif(not support.remote(), reason="`dsikb init` of the real sources onto Virtuoso takes minutes: "
                    "make test-remote (pytest --backend=remote)")
def test_dsikb_init_onto_virtuoso(embedded, tmp_path_factory):
    from kb.build.init import init
    from kb.store import KB, publicview

    server = Virtuoso(tmp_path_factory.mktemp("virtuoso-init") / "db").start()
    try:
        settings = virtuoso_settings(server).replace(query_timeout=300.0)
        kb = KB.open(settings)
        init(settings, kb=kb)
        ekb = embedded.extensions["dsikb"]
        expected = {g: ekb.triple_count(g) for g in ekb.named_graphs()}
        assert kb.named_graphs() == sorted(expected)
        assert {g: kb.triple_count(g) for g in expected} == expected
        assert publicview.size(kb) == publicview.size(ekb)
        kb.close()
    finally:
        server.stop()


def test_page_of_a_known_organisation(vapp, embedded):
    iri, label = _known_org(embedded.extensions["dsikb"])
    kb = vapp.extensions["dsikb"]
    r = vapp.test_client().get("/page/" + iri[len(kb.names.id_ns):])
    assert r.status_code == 200
    assert f'<h1 id="title">{escape(label)}</h1>' in r.text


def escape(text: str) -> str:
    from markupsafe import escape as esc

    return str(esc(text))


def test_browse_lists_as_many_as_the_embedded_store(vapp, embedded):
    for type_ in ("organisation", "project"):
        got = vapp.test_client().get(f"/browse/{type_}.json").get_json()
        expected = embedded.test_client().get(f"/browse/{type_}.json").get_json()
        assert got["total"] == expected["total"] > 0
        assert [r["id"] for r in got["items"]] == [r["id"] for r in expected["items"]]


def test_search_finds_the_known_organisation(vapp, embedded):
    iri, label = _known_org(embedded.extensions["dsikb"])
    data = vapp.test_client().get("/search.json", query_string={"q": label, "type": "organisation"}).get_json()
    assert iri in [r["id"] for r in data["results"][:3]]


def test_sparql_default_graph_is_the_deduplicated_public_one(vapp, embedded):
    """Virtuoso's own default graph is the union of every graph (its system graphs too): through
    /sparql a user must still see the one public default graph, with the embedded store's counts."""
    for query in ("SELECT (COUNT(*) AS ?n) WHERE { ?o a dsi:Organisation }",
                  "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"):
        got = _sparql_json(vapp.test_client(), query)["results"]["bindings"][0]["n"]["value"]
        expected = _sparql_json(embedded.test_client(), query)["results"]["bindings"][0]["n"]["value"]
        assert int(got) == int(expected) > 0, query


def test_a_submission_accepted_by_a_moderator_is_published(vapp, embedded):
    iri, _ = _known_org(embedded.extensions["dsikb"])
    # a name and site of this run only: a remote store's submission queue may outlive a run (docs/deploy.md)
    key = uuid.uuid4().hex[:8]
    slug = f"virtuoso-smoke-air-map-{key}"
    client = vapp.test_client()
    project = {
        "type": "project", "name": f"Virtuoso Smoke Air Map {key}", "website": f"https://smoke-air-{key}.example.org/",
        "shortDescription": "Citizens measure air quality with open sensors.", "country": "United Kingdom",
        "areasOfSociety": ["energy-and-environment"], "technologyFocus": ["open-data"],
        "partners": [{"organisation": iri, "role": "delivery-lead"}], "startDate": "2024-01-01",
        "submitter": {"name": "Ada Example", "email": "ada@example.org", "consentToBeNamed": True}}
    r = client.post("/api/submissions", data=json.dumps(project), content_type="application/json")
    assert r.status_code == 202, r.get_data(as_text=True)
    sid = r.get_json()["id"]

    def csrf(path):
        page = client.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, f"{path}: {page.status_code} {page.text[:3000]}"
        return found.group(1)

    r = client.post("/moderate/login", data={"name": "alice", "password": PASSWORD, "csrf_token": csrf("/moderate/login")})
    assert r.status_code == 303, r.get_data(as_text=True)
    r = client.post(f"/moderate/{sid}/accept", data={"csrf_token": csrf(f"/moderate/{sid}")})
    assert r.status_code == 303, r.get_data(as_text=True)
    assert client.get(f"/api/submissions/{sid}", headers={"Accept": "application/json"}).get_json()["status"] == "accepted"

    page = client.get(f"/page/project/{slug}")
    assert page.status_code == 200 and f"Virtuoso Smoke Air Map {key}" in page.text
    found = client.get("/search.json", query_string={"q": "virtuoso smoke", "type": "project"}).get_json()
    assert any(r["id"].endswith(f"/id/project/{slug}") for r in found["results"])
    kb = vapp.extensions["dsikb"]
    ask = _sparql_json(client, f"ASK {{ <{kb.names.id_ns}project/{slug}> rdfs:label ?l }}")
    assert ask["boolean"] is True


def test_dump_matches_the_embedded_one(vapp, embedded):
    def listing(app):
        client = app.test_client()
        deadline = time.monotonic() + 600
        while True:  # the first request starts the dumps' generation: 503 until they are written
            r = client.get("/dumps/index.json")
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert r.status_code == 200, r.get_data(as_text=True)
        return client, {f["name"]: f for f in r.get_json()["files"]}

    client, files = listing(vapp)
    _, expected = listing(embedded)
    # the accepted submission of the test before (when it ran) adds statements: at least as many
    assert files["dsi.nt.gz"]["triples"] >= expected["dsi.nt.gz"]["triples"] > 0
    r = client.get("/dumps/dsi.nt.gz")
    assert r.status_code == 200
    body = r.get_data()
    r.close()
    lines = [line for line in gzip.decompress(body).splitlines() if line.strip()]

    assert len(lines) == files["dsi.nt.gz"]["triples"]
    assert not any(b"openlinksw.com/schemas/virtrdf" in line for line in lines), "Virtuoso's own graphs leaked"

