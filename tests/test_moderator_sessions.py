"""Moderator sessions over HTTP: a cookie dies at logout, account removal, password change and after
its maximum age; failed sign-ins are throttled per account and per address (429 + Retry-After,
without running the hash); unknown names cost what known ones do; the cookie's attributes."""

from __future__ import annotations

import gc
import io
import re
import statistics
import time
from http.cookies import SimpleCookie

import pytest

from tests.test_submissions import small_store

PASSWORD = "correct horse battery"
OTHER = "another good password"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    kb = small_store(tmp_path_factory.mktemp("sessions") / "store")
    yield kb
    del kb
    gc.collect()


@pytest.fixture()
def accounts_file(tmp_path):
    from kb.contribute.accounts import add_account

    path = tmp_path / "moderators"
    add_account(path, "alice", PASSWORD)
    add_account(path, "bob", OTHER)
    return path


def make(store, accounts_file, **settings):
    from endpoint import create_app

    # dsi.example.org stands for a public host name the operator trusts (DSIKB_TRUSTED_HOSTS)
    settings = {"trusted_hosts": "localhost 127.0.0.1 [::1] dsi.example.org", **settings}
    app = create_app(store.settings.replace(moderators=str(accounts_file), secret_key="test-key", **settings),
                     kb=store)
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def app(store, accounts_file):
    return make(store, accounts_file)


def token(client, path="/moderate/login", **kw) -> str:
    html = client.get(path, **kw).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def attempt(client, name, password, addr="192.0.2.1", **kw):
    """One sign-in from ``addr`` (REMOTE_ADDR), with a fresh CSRF token."""
    env = {"REMOTE_ADDR": addr}
    form = {"name": name, "password": password, "csrf_token": token(client, environ_base=env, **kw)}
    return client.post("/moderate/login", data=form, environ_base=env, **kw)


def signed_in(app, name="alice", password=PASSWORD):
    client = app.test_client()
    resp = attempt(client, name, password)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    assert client.get("/moderate").status_code == 200
    return client


def copy_of(app, client):
    """A second client holding a copy of ``client``'s session cookie (a stolen or kept cookie)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def refused(client) -> bool:
    resp = client.get("/moderate")
    return resp.status_code == 302 and "/moderate/login" in resp.headers["Location"]


def cli(*argv, stdin="") -> int:
    from kb.cli import main

    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return main(list(argv))
    finally:
        sys.stdin = old


# -- server-side invalidation ------------------------------------------------------------------
def test_a_cookie_copied_before_logout_is_refused_after_logout(app):
    client = signed_in(app)
    kept = copy_of(app, client)
    assert kept.get("/moderate").status_code == 200
    resp = client.post("/moderate/logout", data={"csrf_token": token(client, "/moderate")})
    assert resp.status_code == 303
    assert refused(client)
    assert refused(kept)
    assert refused(kept)  # and stays refused
    assert kept.post("/moderate/merge", data={"csrf_token": "x"}).status_code == 302
    assert signed_in(app).get("/moderate").status_code == 200  # signing in again works


def test_removing_the_account_ends_its_sessions(app, accounts_file, capsys):
    alice, bob = signed_in(app), signed_in(app, "bob", OTHER)
    assert cli("moderator", "remove", "alice", "--file", str(accounts_file)) == 0
    assert "removed" in capsys.readouterr().err
    assert refused(alice)
    assert bob.get("/moderate").status_code == 200  # other accounts keep theirs
    assert attempt(app.test_client(), "alice", PASSWORD).status_code == 401
    assert cli("moderator", "remove", "alice", "--file", str(accounts_file)) == 2
    assert "no moderator" in capsys.readouterr().err
    # adding the name again does not bring the old cookie back
    assert cli("moderator", "add", "alice", "--file", str(accounts_file), "--password-stdin",
               stdin=PASSWORD + "\n") == 0
    assert refused(alice)


def test_changing_the_password_ends_its_sessions(app, accounts_file, capsys):
    alice, bob = signed_in(app), signed_in(app, "bob", OTHER)
    kept = copy_of(app, alice)
    new = "a brand new passphrase"
    assert cli("moderator", "passwd", "alice", "--file", str(accounts_file), "--password-stdin",
               stdin=new + "\n") == 0
    assert refused(alice) and refused(kept)
    assert bob.get("/moderate").status_code == 200
    assert attempt(app.test_client(), "alice", PASSWORD).status_code == 401
    assert attempt(app.test_client(), "alice", new, addr="192.0.2.2").status_code == 303
    assert cli("moderator", "passwd", "nobody", "--file", str(accounts_file), "--password-stdin",
               stdin=new + "\n") == 2
    assert "no moderator" in capsys.readouterr().err


def test_a_session_expires_after_its_maximum_age(store, accounts_file):
    app = make(store, accounts_file, session_max_age=3600)
    client = signed_in(app)
    with client.session_transaction() as sess:  # signed in 61 minutes ago (the cookie is still signed)
        sess["moderator_since"] -= 3660
    assert refused(client)


def test_the_csrf_token_changes_at_sign_in(app):
    client = app.test_client()
    before = token(client)
    form = {"name": "alice", "password": PASSWORD, "csrf_token": before}
    assert client.post("/moderate/login", data=form).status_code == 303
    after = token(client, "/moderate")
    assert after != before


# -- throttling --------------------------------------------------------------------------------
@pytest.fixture()
def hashes(monkeypatch):
    """Counts the password hashes computed (werkzeug's check_password_hash, as kb.accounts calls it)."""
    from kb.contribute import accounts

    calls = []
    real = accounts.check_password_hash

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    return calls


def test_failures_for_one_account_are_throttled_with_a_growing_delay(app, hashes):
    client = app.test_client()
    for i in range(5):  # each from another address: only the account's count grows
        assert attempt(client, "alice", f"wrong guess {i}", addr=f"198.51.100.{i}").status_code == 401
    assert len(hashes) == 5
    resp = attempt(client, "alice", PASSWORD, addr="198.51.100.99")  # even the right password
    assert resp.status_code == 429
    first = int(resp.headers["Retry-After"])
    assert first > 0 and "try again" in resp.get_data(as_text=True).lower()
    assert len(hashes) == 5  # answered without hashing
    assert attempt(client, "bob", OTHER, addr="198.51.100.98").status_code == 303  # other accounts work
    throttle = app.extensions["dsikb_login_throttle"]
    throttle.clock = lambda now=time.monotonic() + first + 1: now  # the delay has passed
    assert attempt(client, "alice", "wrong again", addr="198.51.100.97").status_code == 401
    resp = attempt(client, "alice", PASSWORD, addr="198.51.100.96")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > first  # grows
    throttle.clock = lambda now=time.monotonic() + 10 * first: now
    assert attempt(client, "alice", PASSWORD, addr="198.51.100.95").status_code == 303  # resets
    assert attempt(client, "alice", "wrong once more", addr="198.51.100.94").status_code == 401


def test_failures_from_one_address_are_throttled(app, hashes):
    client = app.test_client()
    for i in range(5):  # other names each time, unknown ones too: only the address's count grows
        assert attempt(client, f"guess{i}", "not the password", addr="203.0.113.7").status_code == 401
    resp = attempt(client, "alice", PASSWORD, addr="203.0.113.7")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert len(hashes) == 5
    assert attempt(client, "alice", PASSWORD, addr="203.0.113.8").status_code == 303  # another address


def test_simultaneous_attempts_do_not_get_past_the_limit(app, hashes):
    """Ten guesses sent at once (the hash takes long enough for all to be in flight): at most the
    allowed five are hashed, the others get 429."""
    import threading

    statuses, start = [], threading.Barrier(10)

    def guess(i):
        client = app.test_client()
        env = {"REMOTE_ADDR": f"192.0.2.{100 + i}"}
        form = {"name": "alice", "password": f"parallel guess {i}", "csrf_token": token(client, environ_base=env)}
        start.wait()
        statuses.append(client.post("/moderate/login", data=form, environ_base=env).status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * 5 + [429] * 5
    assert len(hashes) == 5


def test_unknown_names_are_throttled_like_known_ones(app):
    client = app.test_client()
    for i in range(5):
        attempt(client, "nobody", f"guess {i}", addr=f"198.18.0.{i}")
    assert attempt(client, "nobody", "guess", addr="198.18.0.99").status_code == 429


# -- timing ------------------------------------------------------------------------------------
def test_unknown_and_known_names_take_the_same_time(store, accounts_file):
    """Medians of interleaved attempts (known name with a wrong password, unknown name): the ratio
    stays near 1, so response time does not tell which names exist. Measured in this process's CPU
    time (the password hashing is CPU work), which other jobs on a shared machine do not inflate."""
    app = make(store, accounts_file)
    client = app.test_client()
    throttle = app.extensions.get("dsikb_login_throttle")
    known, unknown = [], []
    for i in range(15):
        for name, times in (("alice", known), (f"nobody{i}", unknown)) if i % 2 else \
                ((f"nobody{i}", unknown), ("alice", known)):
            if throttle is not None:
                throttle.clear()
            form = {"name": name, "password": f"wrong {i}", "csrf_token": token(client)}
            t0 = time.process_time()
            resp = client.post("/moderate/login", data=form)
            times.append(time.process_time() - t0)
            assert resp.status_code == 401
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"median sign-in failure: known name {k * 1000:.1f} ms, unknown name {u * 1000:.1f} ms, "
          f"ratio {u / k:.2f}")
    assert 0.75 <= u / k <= 1.33


# -- the cookie --------------------------------------------------------------------------------
def session_cookie(resp):
    for header in resp.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if "session" in cookie:
            return cookie["session"]
    raise AssertionError("no session cookie set")


@pytest.mark.parametrize("base, secure", [
    ("http://localhost", False), ("http://127.0.0.1:8080", False), ("http://[::1]:8080", False),
    ("https://dsi.example.org", True), ("http://dsi.example.org", True)])
def test_the_session_cookie_attributes(app, base, secure):
    client = app.test_client()
    resp = attempt(client, "alice", PASSWORD, base_url=base)
    assert resp.status_code == 303
    morsel = session_cookie(resp)
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert bool(morsel["secure"]) is secure


def test_the_secure_flag_can_be_set_either_way(store, accounts_file):
    on = make(store, accounts_file, cookie_secure="yes")
    assert session_cookie(attempt(on.test_client(), "alice", PASSWORD))["secure"] is True
    off = make(store, accounts_file, cookie_secure="no")
    resp = attempt(off.test_client(), "alice", PASSWORD, base_url="http://dsi.example.org")
    assert not session_cookie(resp)["secure"]


def test_plain_http_to_a_public_host_says_why_sign_in_needs_https(app):
    html = app.test_client().get("/moderate/login", base_url="http://dsi.example.org").get_data(as_text=True)
    assert "https" in html and "DSIKB_COOKIE_SECURE" in html
    local = app.test_client().get("/moderate/login").get_data(as_text=True)
    assert "DSIKB_COOKIE_SECURE" not in local


def test_sign_out_works_when_the_state_file_cannot_be_written(app, monkeypatch, caplog):
    """A read-only accounts folder: sign-out still ends this browser's session (no 500) and says so in the log."""
    from kb.contribute import accounts

    client = signed_in(app)
    csrf = token(client, "/moderate")

    def read_only(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(accounts, "_write_atomically", read_only)
    resp = client.post("/moderate/logout", data={"csrf_token": csrf})
    assert resp.status_code == 303
    assert refused(client)
    assert "could not end the sessions of alice" in caplog.text


def test_a_wrong_cookie_secure_value_stops_the_start_with_a_message(store, accounts_file):
    with pytest.raises(ValueError, match="DSIKB_COOKIE_SECURE must be auto, yes or no"):
        make(store, accounts_file, cookie_secure="sometimes")
