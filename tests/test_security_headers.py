"""Hosts and headers: a request naming a host the server does not answer for gets 400 (so no link,
redirect, listing or manifest ever names a host a client made up); HTML pages carry a
Content-Security-Policy without inline script, nosniff, no framing and a referrer policy; other
responses carry nosniff; YASGUI's build files are not served."""

from __future__ import annotations

import gc

import pytest

from tests.conftest import settings_for
from tests.support import make_app

EVIL = "evil.example"


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    from tests.test_dumps import make_small_kb

    kb = make_small_kb(tmp_path_factory.mktemp("security") / "store")
    yield kb
    del kb
    gc.collect()


@pytest.fixture(scope="module")
def small_app(small_kb):
    return make_app(small_kb)


@pytest.fixture()
def c(small_app):
    return small_app.test_client()


def get(client, path, **kwargs):
    r = client.get(path, **kwargs)
    r.get_data()
    r.close()
    return r


# -- Host ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, accept", [
    ("/id/organisation/nesta", "text/html"), ("/id/organisation/nesta", "text/turtle"), ("/", "text/html"),
    ("/dumps/", "application/json"), ("/dumps/", "text/html"), ("/reconcile", "application/json"),
    ("/browse/organisation.json", "application/json"), ("/search.json?q=nesta", "application/json"),
    ("/sparql", "text/turtle"), ("/static/dsikb.css", "text/css"), ("/no/such/page", "text/html"),
])
@pytest.mark.parametrize("host", [EVIL, EVIL + ":80", "localhost.evil.example", "w3id.org.evil.example",
                                  "evil.example:8080", "[::2]:80", "localhost@evil.example"])
def test_an_untrusted_host_gets_400_and_no_link_to_it(c, path, accept, host):
    r = get(c, path, headers={"Host": host, "Accept": accept})
    assert r.status_code == 400, (path, host, r.status_code)
    body = r.get_data(as_text=True)
    assert "Location" not in r.headers
    assert "evil.example/" not in body and "//evil" not in body
    assert "host" in body.lower()  # a message that says what is wrong


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:8080", "[::1]",
                                  "[::1]:8080", "w3id.org", "W3ID.org", "w3id.org:443"])
def test_the_default_trusted_hosts_answer_with_links_to_themselves(c, host):
    r = get(c, "/id/organisation/nesta", headers={"Host": host, "Accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["Location"] in ("/page/organisation/nesta", f"http://{host}/page/organisation/nesta")
    listing = c.get("/dumps/", headers={"Host": host, "Accept": "application/json"}).get_json()
    assert all(f["url"].lower().startswith(f"http://{host.lower()}/dumps/") for f in listing["files"]), listing["files"]
    manifest = c.get("/reconcile", headers={"Host": host}).get_json()
    assert manifest["preview"]["url"].lower().startswith(f"http://{host.lower()}/reconcile/preview")


def test_trusted_hosts_setting_replaces_the_default(small_kb):
    settings = small_kb.settings.replace(trusted_hosts="data.example.org example.net:8443")
    from endpoint import create_app

    client = create_app(settings, kb=small_kb).test_client()
    assert get(client, "/", headers={"Host": "data.example.org"}).status_code == 200
    assert get(client, "/", headers={"Host": "data.example.org:8080"}).status_code == 200
    assert get(client, "/", headers={"Host": "example.net:8443"}).status_code == 200
    assert get(client, "/", headers={"Host": "example.net"}).status_code == 400  # port 80 is not 8443
    assert get(client, "/", headers={"Host": "localhost"}).status_code == 400
    assert get(client, "/", headers={"Host": "sub.data.example.org"}).status_code == 400


def test_a_malformed_trusted_hosts_setting_is_refused(small_kb):
    from endpoint import create_app

    with pytest.raises(ValueError, match="DSIKB_TRUSTED_HOSTS"):
        create_app(small_kb.settings.replace(trusted_hosts="https://example.org/"), kb=small_kb)


def test_the_live_server_answers_on_its_own_address(small_app):
    import urllib.error
    import urllib.request

    from tests.support import live_server

    with live_server(small_app) as url:
        with urllib.request.urlopen(url + "/dumps/index.json", timeout=30) as resp:
            files = __import__("json").load(resp)["files"]
        assert all(f["url"].startswith(url + "/dumps/") for f in files)
        req = urllib.request.Request(url + "/", headers={"Host": EVIL})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=30)
        assert err.value.code == 400
        err.value.close()


# -- headers -------------------------------------------------------------------------------------------
HTML_PAGES = ["/", "/page/organisation/nesta", "/browse/organisation", "/search?q=nesta", "/dumps/", "/submit",
              "/sparql", "/def/dsi", "/no/such/page"]


@pytest.mark.parametrize("path", HTML_PAGES)
def test_html_pages_carry_the_security_headers(c, path):
    r = get(c, path, headers={"Accept": "text/html"})
    assert r.mimetype == "text/html", path
    csp = {d.split()[0]: d.split()[1:] for d in r.headers["Content-Security-Policy"].split(";") if d.strip()}
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"]
    # inline styles only where YASGUI needs them; inline script nowhere
    assert csp.get("style-src") == (["'self'", "'unsafe-inline'"] if path == "/sparql" else None)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_the_reconciliation_preview_may_be_framed_but_runs_nothing(c):
    r = get(c, "/reconcile/preview?id=organisation/nesta")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "X-Frame-Options" not in r.headers  # OpenRefine shows it in a frame
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path, accept", [
    ("/data/organisation/nesta.ttl", None), ("/dumps/index.json", None), ("/static/dsikb.css", None),
    ("/static/submit.js", None), ("/healthz", None), ("/sparql?query=ASK{}", "application/sparql-results+json"),
    ("/no/such/thing", "text/plain"),
])
def test_other_responses_say_nosniff(c, path, accept):
    r = get(c, path, headers={"Accept": accept} if accept else {})
    assert r.status_code < 500
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", ["build.sh", "package.json", "package-lock.json", "VERSION"])
def test_yasgui_build_files_are_not_served(c, name):
    assert get(c, f"/static/yasgui/{name}").status_code == 404


def test_yasgui_itself_is_served(c):
    for name in ("yasgui.min.js", "yasgui.min.css"):
        assert get(c, f"/static/yasgui/{name}").status_code == 200


def test_settings_table_names_trusted_hosts():
    from kb.settings import PROJECT_ROOT

    assert "`DSIKB_TRUSTED_HOSTS`" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_for("x").trusted_hosts == ""
