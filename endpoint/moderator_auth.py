"""Moderator sign-in and sessions: server-checked session stamps, a maximum age, throttled sign-ins and
the session cookie's flags. The routes stay in ``endpoint.submissions``; they call these functions.

The session cookie is Flask's signed client-side cookie; what makes it revocable is the stamp it
carries (``kb.accounts.session_stamp``), compared with the accounts files on every moderator request.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import secrets
import threading
import time
from collections import deque
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from endpoint.state import get_settings
from kb.contribute import accounts

log = logging.getLogger(__name__)

NAME, STAMP, SINCE = "moderator", "moderator_stamp", "moderator_since"
SECURE_CHOICES = {"auto": None, "yes": True, "true": True, "on": True, "1": True,
                  "no": False, "false": False, "off": False, "0": False}


def init_app(app: Flask) -> None:
    """Cookie flags and the sign-in throttle (kept in memory: per process)."""
    settings = app.config["DSIKB_SETTINGS"]
    mode = settings.cookie_secure.strip().lower()
    if mode not in SECURE_CHOICES:
        raise ValueError(f"DSIKB_COOKIE_SECURE must be auto, yes or no: {settings.cookie_secure!r}")
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SECURE"] = SECURE_CHOICES[mode] is True
    app.config["DSIKB_COOKIE_SECURE"] = SECURE_CHOICES[mode]  # None: decided per request
    app.session_interface = SessionInterface()
    app.extensions["dsikb_login_throttle"] = LoginThrottle(settings.login_max_failures)


# -- the cookie ---------------------------------------------------------------------------------
def _loopback(host: str) -> bool:
    name = urlsplit("//" + host).hostname or ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cookie_secure() -> bool:
    """Secure unless set off, or (auto) the request is plain http to a loopback host such as `make run`'s."""
    fixed = current_app.config.get("DSIKB_COOKIE_SECURE")
    if fixed is not None:
        return fixed
    return request.is_secure or not _loopback(request.host)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, with the Secure flag decided per request in auto mode."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("DSIKB_COOKIE_SECURE") is None and has_request_context():
            return cookie_secure()
        return super().get_cookie_secure(app)


def https_notice() -> str | None:
    """Why sign-in cannot work here: a Secure cookie does not come back over plain http."""
    if cookie_secure() and not request.is_secure:
        return ("Sign-in needs https at this address: the session cookie is marked Secure, so the browser "
                "will not send it back over plain http. Use https, or set DSIKB_COOKIE_SECURE=no "
                "(only on a network you trust).")
    return None


# -- sessions -----------------------------------------------------------------------------------
def start_session(name: str) -> None:
    """A new session for ``name``: its stamp, the time, and a new CSRF token."""
    session.clear()
    session[NAME] = name
    session[STAMP] = accounts.session_stamp(get_settings().moderators, name)
    session[SINCE] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)


def current_moderator() -> str | None:
    """The signed-in moderator's name, or None when the session is missing, expired or revoked."""
    name = session.get(NAME)
    if not name:
        return None
    settings = get_settings()
    since = session.get(SINCE)
    stamp = accounts.session_stamp(settings.moderators, name)
    fresh = isinstance(since, (int, float)) and 0 <= time.time() - since < settings.session_max_age
    if stamp is None or not fresh or not secrets.compare_digest(str(session.get(STAMP, "")), stamp):
        session.clear()
        return None
    return name


def end_session() -> None:
    """Sign out: the account's stamp changes, so copies of this cookie (and the moderator's other
    sessions) are refused too."""
    name = current_moderator()
    if name:
        try:
            accounts.end_sessions(get_settings().moderators, name)
        except OSError as exc:  # a read-only accounts folder: this cookie still goes
            log.warning("could not end the sessions of %s on the server: %s", name, exc)
    session.clear()


def moderator_required(view):
    """Moderators only: anyone else (or a revoked or expired session) goes to the sign-in page."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_moderator() is None:
            return redirect(url_for("submissions.login", next=request.path))
        return view(*args, **kwargs)
    return wrapper


# -- sign-in ------------------------------------------------------------------------------------
def login_page(error: str | None = None, status: int = 200):
    body = render_template("moderate_login.html", error=error, notice=https_notice(),
                           next=request.values.get("next", ""))
    return body, status


def sign_in():
    """Check a sign-in form (after its CSRF token): throttled first, then one password hash."""
    throttle: LoginThrottle = current_app.extensions["dsikb_login_throttle"]
    name, password = request.form.get("name", ""), request.form.get("password", "")
    keys = (("name", name[:100]), ("address", request.remote_addr or ""))
    wait = throttle.begin(keys)  # counted as a failure until it succeeds: no guesses in parallel
    if wait:
        seconds = math.ceil(wait)
        body, status = login_page(f"Too many failed sign-ins for this name or from this address: "
                                  f"try again in {seconds} seconds.", 429)
        return body, status, {"Retry-After": str(seconds)}
    if accounts.check(get_settings().moderators, name, password):
        throttle.succeeded(keys)
        start_session(name)
        target = request.form.get("next") or ""
        return redirect(target if target.startswith("/moderate") else url_for("submissions.queue"), code=303)
    return login_page("Unknown name or wrong password.", 401)


class LoginThrottle:
    """Failed sign-ins per key (a name, an address) in a sliding window. After ``max_failures`` in the
    window a key waits ``base_delay`` seconds from its last failure, doubled with every further failure
    (at most ``max_delay``); a success clears its keys. In memory, so per process."""

    def __init__(self, max_failures: int = 5, window: float = 900, base_delay: float = 30,
                 max_delay: float = 900, max_keys: int = 10_000):
        self.max_failures, self.window = max_failures, window
        self.base_delay, self.max_delay, self.max_keys = base_delay, max_delay, max_keys
        self.clock = time.monotonic
        self._failures: dict[tuple, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key, now: float) -> deque:
        times = self._failures.get(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def begin(self, keys) -> float:
        """An attempt for ``keys``: the seconds to wait when any of them is held back (the attempt is
        then not counted), else 0 and the attempt counts as a failure until ``succeeded``. Checking
        and counting under one lock stops simultaneous guesses from all passing the check."""
        if self.max_failures <= 0:
            return 0.0
        now, longest = self.clock(), 0.0
        with self._lock:
            recent = {key: self._recent(key, now) for key in keys}
            for times in recent.values():
                over = len(times) - self.max_failures
                if over >= 0:
                    delay = min(self.base_delay * 2 ** over, self.max_delay)
                    longest = max(longest, times[-1] + delay - now)
            if longest > 0:
                return longest
            if len(self._failures) >= self.max_keys:
                self._prune(now)
            for key, times in recent.items():
                times.append(now)
                self._failures[key] = times
        return 0.0

    def succeeded(self, keys) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()

    def _prune(self, now: float) -> None:
        """Forget keys with no failure in the window; if still full, the least recent ones."""
        for key in [k for k, t in self._failures.items() if not t or now - t[-1] > self.window]:
            del self._failures[key]
        if len(self._failures) >= self.max_keys:
            by_last = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in by_last[: len(by_last) - self.max_keys // 2]:
                del self._failures[key]
