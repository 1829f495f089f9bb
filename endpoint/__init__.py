"""The dsikb web app: ``create_app(settings=None)`` builds everything; nothing at import time."""

from __future__ import annotations

from flask import Flask

from kb.settings import Settings


def create_app(settings: Settings | None = None, *, kb=None) -> Flask:
    """Build the app over the store named by ``settings`` (default: from ``DSIKB_*`` variables).

    ``kb`` may be given an open :class:`kb.store.KB` (tests share one store across apps).
    """
    from endpoint import errors, health, i18n, observability, pages, security
    from endpoint.state import init_app

    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["DSIKB_SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key or __import__("secrets").token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = max(settings.submission_max_bytes, settings.max_query_length * 4)
    init_app(app, kb)
    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    observability.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(observability.bp)  # /metrics, /readyz
    app.register_blueprint(pages.bp)
    app.register_blueprint(_optional_blueprint("openapi").bp)  # /openapi.json: the API description
    for name in ("sparql", "resources", "dumps", "submissions", "reconcile", "browse", "moderate_duplicates",
                 "map", "stats"):
        module = _optional_blueprint(name)
        if module is not None:
            app.register_blueprint(module.bp)
            if hasattr(module, "init_app"):
                module.init_app(app)
    return app


def _optional_blueprint(name: str):
    """Blueprints of the HTTP surfaces, each in its own module."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(f"endpoint.{name}") is None:
        return None
    return importlib.import_module(f"endpoint.{name}")
