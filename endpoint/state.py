"""Store access for requests: one KB per app, opened in ``create_app`` (the flaskr ``get_db`` pattern)."""

from __future__ import annotations

from flask import Flask, current_app

from kb.settings import Settings
from kb.store import KB


def init_app(app: Flask, kb: KB | None = None) -> None:
    settings: Settings = app.config["DSIKB_SETTINGS"]
    app.extensions["dsikb"] = kb if kb is not None else KB.open(settings)


def get_kb() -> KB:
    return current_app.extensions["dsikb"]


def get_settings() -> Settings:
    return current_app.config["DSIKB_SETTINGS"]
