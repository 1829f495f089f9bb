"""``/healthz``: liveness and store figures as JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify

from endpoint.state import get_kb
from kb.publish.stats import PROBE_WAIT, stats

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    kb = get_kb()
    figures = stats(kb, wait=PROBE_WAIT)
    return jsonify({"status": "ok", "store": {k: v for k, v in figures.items()}})
