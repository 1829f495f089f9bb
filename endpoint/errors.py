"""One handler renders every error as HTML, JSON or plain text, for whoever asked."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from kb.errors import KBError


def _render(status: int, title: str, message: str, headers: dict | None = None, field: str | None = None):
    accept = request.accept_mimetypes
    best = accept.best_match(["text/plain", "application/json", "text/html"], default="text/plain")
    if accept.provided and best == "text/html":
        body = render_template("error.html", status=status, title=title, message=message)
        response = (body, status, {"Content-Type": "text/html; charset=utf-8"})
    elif best == "application/json" or request.path.endswith(".json") or request.path.startswith(("/api/", "/reconcile")):
        body = {"status": status, "error": title, "message": message}
        if field:  # the parameter, header or JSON field the message is about
            body["field"] = field
        payload = jsonify(body)
        response = (payload, status)
    else:
        response = (f"{status} {title}: {message}\n", status, {"Content-Type": "text/plain; charset=utf-8"})
    body, code, *rest = response
    from flask import make_response

    resp = make_response(body, code, *rest)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


TITLES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          406: "Not Acceptable", 410: "Gone", 413: "Payload Too Large", 415: "Unsupported Media Type",
          422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
          503: "Service Unavailable"}


def disk_full(exc: BaseException) -> bool:
    """An error of a write that found no room: the store's (RocksDB) or the spool's (SQLite)."""
    import errno
    import sqlite3

    if isinstance(exc, OSError) and (exc.errno == errno.ENOSPC or "No space left on device" in str(exc)):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


def init_app(app: Flask) -> None:
    import sqlite3

    @app.errorhandler(OSError)
    @app.errorhandler(sqlite3.OperationalError)
    def storage_error(exc: Exception):
        """A full disk is the operator's problem, not the visitor's: 503 with a message, never a 500
        page; nothing half-written stays (each write is one transaction). Other faults stay 500s."""
        if not disk_full(exc):
            raise exc
        app.logger.error("disk full: %s", exc)
        return _render(503, TITLES[503], "the server has run out of disk space, so nothing was stored; "
                       "try again later (the operator has to free space)", {"Retry-After": "300"})

    @app.errorhandler(KBError)
    def kb_error(exc: KBError):
        g.dsikb_error = exc  # for the metrics (endpoint/observability.py)
        return _render(exc.status, TITLES.get(exc.status, "Error"), exc.message, exc.headers,
                       getattr(exc, "field", None))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        headers = dict(exc.get_headers()) if exc.code == 405 else {}
        headers.pop("Content-Type", None)
        return _render(exc.code or 500, exc.name, exc.description or exc.name, headers)
