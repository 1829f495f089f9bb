"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from endpoint.state import get_kb
from kb.stats import stats

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    kb = get_kb()
    return render_template("home.html", figures=stats(kb), base=kb.names.base)
