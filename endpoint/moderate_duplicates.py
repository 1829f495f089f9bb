"""``/moderate/duplicates``: the suspected duplicate groups already in the data, for moderators, with
a one-click merge per pair (kb/contribute/merge.py: the merged entity then answers 301 to the survivor)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from endpoint.state import get_kb
from endpoint.submissions import check_csrf, moderator_required
from kb.contribute import duplicates
from kb.errors import BadRequest

bp = Blueprint("moderate_duplicates", __name__)


@bp.get("/moderate/duplicates")
@moderator_required
def duplicate_groups():
    """Every suspected group: names, places, websites, page links, and the pairs to merge."""
    kb = get_kb()
    groups = duplicates.cached_groups(kb)
    done = None
    if request.args.get("merged") and request.args.get("into"):
        done = {"merged": request.args["merged"], "into": request.args["into"]}
    return render_template("moderate_duplicates.html", groups=groups, done=done,
                           counts=_counts(groups))


@bp.post("/moderate/duplicates/merge")
@moderator_required
def merge_pair():
    """Merge one pair of a suspected group; the reason kept is ``duplicate: <evidence>``."""
    from kb.contribute.merge import merge

    check_csrf()
    kb = get_kb()
    survivor = request.form.get("survivor", "").strip()
    merged = request.form.get("merged", "").strip()
    if not survivor or not merged:
        raise BadRequest("choose the entity that stays (survivor) and the one merged into it (merged)")
    why = duplicates.pair_reasons(kb, survivor, merged)
    if not why:
        raise BadRequest("these two are not (or no longer) a suspected duplicate pair: reload the list, or "
                         "use /moderate/merge to merge any two entities")
    merge(kb, survivor, merged, by=session["moderator"], reason="duplicate: " + ", ".join(why))
    return redirect(url_for("moderate_duplicates.duplicate_groups", merged=merged, into=survivor), code=303)


def _counts(groups) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in groups:
        out[g.type] = out.get(g.type, 0) + 1
    return out
