"""Which hosts the app answers for, and what every response tells browsers about itself.

Links, redirects, the dumps listing and the reconciliation manifest name the host that was asked, so a
request whose ``Host`` is not one of ``DSIKB_TRUSTED_HOSTS`` gets 400 instead of pages that point to a
host the client made up. HTML pages get a Content-Security-Policy that allows no inline script (pages
load theirs from /static/), and are never framed; every response says ``nosniff``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from kb.errors import BadRequest

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_ADDRESSES = {"0.0.0.0", "::", "[::]", ""}

CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
       "frame-ancestors 'none'; form-action 'self'")
# The reconciliation preview is shown by OpenRefine in a frame of another origin: it may be framed and
# keeps its inline style, but runs nothing at all.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
FRAMEABLE = {"reconcile.preview"}
# YASGUI (the query editor on /sparql) sets style attributes in its markup (results table layout):
# there, and only there, inline styles are allowed; script stays 'self' only.
EDITOR_CSP = CSP.replace("script-src 'self';", "script-src 'self'; style-src 'self' 'unsafe-inline';")
EDITOR_PAGES = {"sparql.sparql"}


def parse_host(value: str) -> tuple[str, int | None] | None:
    """``("example.org", 8080)`` from ``example.org:8080``, ``("::1", None)`` from ``[::1]``; None for
    anything that is not a bare host with an optional port (user info, path, bad port)."""
    try:
        parts = urlsplit("//" + value)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path or parts.query or parts.fragment \
            or "#" in value or "?" in value:
        return None
    return parts.hostname.lower().rstrip("."), port


def trusted_hosts(settings) -> list[tuple[str, int | None]]:
    """The (host, port or None for any port) pairs of DSIKB_TRUSTED_HOSTS, or the default: the host of
    the base URI, the address ``dsikb serve`` listens on, and the loopback names."""
    names = settings.trusted_hosts.split()
    if not names:
        names = [urlsplit(settings.base_uri).netloc, *LOCAL_HOSTS]
        if settings.host not in WILDCARD_ADDRESSES:
            names.append(f"[{settings.host}]" if ":" in settings.host and not settings.host.startswith("[")
                         else settings.host)
    out = []
    for name in names:
        parsed = parse_host(name)
        if parsed is None:
            raise ValueError(f"DSIKB_TRUSTED_HOSTS: {name!r} is not a host name (give 'name' or 'name:port')")
        out.append(parsed)
    return out


def host_is_trusted(host: str, trusted: list[tuple[str, int | None]], scheme: str = "http") -> bool:
    """Whether a ``Host`` value names one of ``trusted`` (case-insensitive; a port only if listed)."""
    parsed = parse_host(host) if host else None
    if parsed is None:
        return False
    name, port = parsed
    port = port or (443 if scheme == "https" else 80)
    return any(name == t_name and (t_port is None or t_port == port) for t_name, t_port in trusted)


def _check_host():
    trusted = current_app.extensions["dsikb_trusted_hosts"]
    host = request.host  # Werkzeug's: the Host header, checked for valid characters ("" when not)
    if not host_is_trusted(host, trusted, request.scheme):
        shown = (request.headers.get("Host") or "")[:100]
        raise BadRequest(f"this server does not answer for the host {shown!r}: ask it by one of its own "
                         "names (its operator lists them in DSIKB_TRUSTED_HOSTS)")


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        if request.endpoint in FRAMEABLE:
            response.headers.setdefault("Content-Security-Policy", PREVIEW_CSP)
        else:
            response.headers.setdefault("Content-Security-Policy",
                                        EDITOR_CSP if request.endpoint in EDITOR_PAGES else CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def init_app(app: Flask) -> None:
    """Check the Host of every request first, and add the headers to every response."""
    app.extensions["dsikb_trusted_hosts"] = trusted_hosts(app.config["DSIKB_SETTINGS"])
    app.before_request_funcs.setdefault(None, []).insert(0, _check_host)
    app.after_request(_headers)
