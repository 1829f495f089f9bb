"""One error hierarchy. Each error carries the HTTP status the web app answers it with and the exit
code the command line ends with; a failing validation is a *result*, not one of these."""

from __future__ import annotations


class KBError(Exception):
    """A fault a person can act on: the message says what went wrong and how to fix it."""

    status = 500
    exit_code = 2

    def __init__(self, message: str, *, status: int | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}


class BadRequest(KBError):
    status = 400


class SyntaxProblem(BadRequest):
    """Input that does not parse; the message names file or body, line and column."""


class NotFound(KBError):
    status = 404


class Gone(KBError):
    status = 410


class NotAcceptable(KBError):
    status = 406


class Forbidden(KBError):
    status = 403


class TooLarge(KBError):
    status = 413


class UnsupportedMediaType(KBError):
    status = 415


class Unprocessable(KBError):
    status = 422


class TooManyRequests(KBError):
    status = 429


class Timeout(KBError):
    status = 503


class SourceUnavailable(KBError):
    """A source file is missing, cannot be fetched, or fails its checksum."""
