"""Moderation: accept (publish as the submission's own named graph, with PROV-O, in one store
transaction), reject (kept with a reason), edits that replace earlier submitted statements and the
imported values of the properties they state (kb.overrides), withdrawals, and what a moderator needs
to decide: the diff against the store and possible duplicates.
"""

from __future__ import annotations

import difflib
import re

import pyoxigraph as ox

from kb.errors import BadRequest
from kb.contribute.overrides import overridden, pairs_of
from kb.contribute.queue import RDF, RDFS, XSD, Submission, SubmissionStore, now_iso, website_host
from kb.terms import sparql_term

PROV = "http://www.w3.org/ns/prov#"
FOAF = "http://xmlns.com/foaf/0.1/"
LICENCE = "https://creativecommons.org/licenses/by/4.0/"


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _owned(subject: str, entity: str) -> bool:
    """True for the entity itself and its fragment nodes (memberships, ``#node-1``...)."""
    return subject == entity or subject.startswith(entity + "#")


def provenance_triples(kb, sub: Submission, moderator: str, when: str, revises: list[str]) -> list[ox.Triple]:
    """PROV-O for an accepted submission's graph, written into that graph (one atomic write)."""
    g = kb.graphs.submission(sub.id)
    graph, activity, mod = _n(g), _n(g + "#activity"), _n(g + "#moderator")
    dt = lambda v: ox.Literal(v, datatype=_n(XSD + "dateTime"))  # noqa: E731
    t = [
        ox.Triple(graph, _n(RDF + "type"), _n(PROV + "Entity")),
        ox.Triple(graph, _n(PROV + "wasGeneratedBy"), activity),
        ox.Triple(graph, _n(PROV + "generatedAtTime"), dt(when)),
        ox.Triple(graph, _n("http://purl.org/dc/terms/license"), _n(LICENCE)),
        ox.Triple(graph, _n(RDFS + "label"), ox.Literal(_graph_label(sub, moderator, when), language="en")),
        ox.Triple(activity, _n(RDF + "type"), _n(PROV + "Activity")),
        ox.Triple(activity, _n(RDF + "type"), _n(kb.names.dsi("Submission"))),
        ox.Triple(activity, _n(RDFS + "label"), ox.Literal(f"{sub.kind} submission {sub.id}")),
        ox.Triple(activity, _n(PROV + "startedAtTime"), dt(sub.created)),
        ox.Triple(activity, _n(PROV + "endedAtTime"), dt(when)),
        ox.Triple(activity, _n(PROV + "wasAssociatedWith"), mod),
        ox.Triple(mod, _n(RDF + "type"), _n(PROV + "Person")),
        ox.Triple(mod, _n(FOAF + "nick"), ox.Literal(moderator)),
        ox.Triple(mod, _n(RDFS + "label"), ox.Literal(f"moderator {moderator}")),
    ]
    for entity in sub.entities:
        t.append(ox.Triple(activity, _n(PROV + "generated"), _n(entity)))
    if sub.submitter.named and sub.submitter.name:
        who = _n(g + "#submitter")
        cls = FOAF + ("Organization" if sub.submitter.kind == "organisation" else "Person")
        agent_cls = PROV + ("Organization" if sub.submitter.kind == "organisation" else "Person")
        t += [ox.Triple(graph, _n(PROV + "wasAttributedTo"), who),
              ox.Triple(activity, _n(PROV + "wasAssociatedWith"), who),
              ox.Triple(who, _n(RDF + "type"), _n(agent_cls)),
              ox.Triple(who, _n(RDF + "type"), _n(cls)),
              ox.Triple(who, _n(FOAF + "name"), ox.Literal(sub.submitter.name)),
              ox.Triple(who, _n(RDFS + "label"), ox.Literal(sub.submitter.name))]
    for old in revises:
        t.append(ox.Triple(graph, _n(PROV + "wasRevisionOf"), _n(kb.graphs.submission(old))))
    return t


def _graph_label(sub: Submission, moderator: str, when: str) -> str:
    """What an entity page shows under "where this comes from"."""
    who = f", sent by {sub.submitter.name}" if sub.submitter.named and sub.submitter.name else ""
    return f"Contribution {sub.id} ({sub.kind}){who}, accepted by moderator {moderator} on {when[:10]}"


def accept(kb, subs: SubmissionStore, sid: str, moderator: str) -> Submission:
    """Publish a pending submission as ``graph/submission/{id}`` with its provenance; earlier
    accepted submissions about the same entities lose those statements (kept in the spool and linked
    by ``prov:wasRevisionOf``). Everything happens in one SPARQL update: all or nothing."""
    sub = subs.get(sid)
    if sub.status != "pending":
        raise BadRequest(f"submission {sid} is already {sub.status}")
    when = now_iso()
    graph = kb.graphs.submission(sid)
    earlier = {}
    for entity in sub.entities:
        for old in subs.accepted_with(entity):
            if old.id != sid:
                earlier.setdefault(old.id, set()).add(entity)
    triples = sub.triples()
    if sub.kind == "withdraw":
        entity = _n(sub.entities[0])
        triples.append(ox.Triple(entity, _n(kb.names.dsi("withdrawn")), ox.Literal(when, datatype=_n(XSD + "dateTime"))))
    replaced = overridden(kb, pairs_of(kb, triples, sub.entities))  # none for new entities
    triples += provenance_triples(kb, sub, moderator, when, sorted(earlier))
    g = _n(graph)
    touched = {t.subject for t in triples} | {q.subject for q in replaced}  # what the update may change
    ops = [f"DROP SILENT GRAPH {sparql_term(g)}", f"INSERT DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(triples)} }} }}"]
    for base in sorted({q.graph_name.value for q in replaced}):  # imported values the edit corrects
        gone = [q for q in replaced if q.graph_name.value == base]
        ops.append(f"DELETE DATA {{ GRAPH {sparql_term(_n(base))} {{ {sparql_term(gone)} }} }}")
    for old_id, entities in sorted(earlier.items()):
        old = _n(kb.graphs.submission(old_id))
        stale = [q for q in kb.graph_quads(old.value)
                 if any(_owned(q.subject.value, e) for e in entities if isinstance(q.subject, ox.NamedNode))]
        if stale:
            ops.append(f"DELETE DATA {{ GRAPH {sparql_term(old)} {{ {sparql_term(stale)} }} }}")
            touched |= {q.subject for q in stale}
        touched.add(old)
        invalidated = ox.Triple(old, _n(PROV + "invalidatedAtTime"), ox.Literal(when, datatype=_n(XSD + "dateTime")))
        ops.append(f"INSERT DATA {{ GRAPH {sparql_term(old)} {{ {sparql_term(invalidated)} }} }}")
    from kb.build import incremental

    with incremental.LOCK:  # one accept's derivation at a time: each reads what the last one wrote
        left = incremental.Marker.beside(subs.path)  # an accept stopped before deriving leaves it
        behind = left.present()
        was = incremental.before(kb, touched)  # what the derived graphs are computed from, before
        left.set()
        kb.update(" ;\n".join(ops), touched=touched)
        kb.flush()
        decided = subs.decide(sid, "accepted", moderator=moderator, supersedes=sorted(earlier))
        # collaborations, shortcuts, partner countries, network figures now, not at the next `dsikb
        # init`: only where this submission changes them (the same result as deriving from the whole
        # store); from the whole store when an earlier accept was cut before its derivation
        if behind:
            from kb.build.derive import derive

            derive(kb)
        else:
            incremental.derive_after(kb, was)
        left.clear()
    from kb.publish import network_job

    network_job.refresh(kb)  # figures an accept left to the background job (a big network): computed now
    return decided


def reject(subs: SubmissionStore, sid: str, moderator: str, reason: str) -> Submission:
    """Keep the submission, marked rejected with a reason the submitter can read."""
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("give a reason: the submitter sees it in the submission's status")
    sub = subs.get(sid)
    if sub.status != "pending":
        raise BadRequest(f"submission {sid} is already {sub.status}")
    return subs.decide(sid, "rejected", moderator=moderator, reason=reason)


def recover(kb, subs: SubmissionStore) -> list[str]:
    """After a crash between the store write and the spool update: a pending submission whose graph
    is in the store was accepted; record it (the moderator is read back from the provenance), after
    deriving again what the cut accept did not (collaborations, figures); likewise when an accept was
    cut after recording but before its derivation (its marker file is left). The store is read before
    anything is recorded, so a store that goes away meanwhile leaves the work for the next try."""
    from kb.build import incremental

    left = incremental.Marker.beside(subs.path)  # an accept cut between its write and its derivation
    pending = subs.list("pending", limit=100_000)
    if not pending and not left.present():
        return []
    published = set(kb.named_graphs())  # one request for all, not one per pending submission
    prefix = kb.graphs.ns + "submission/"
    found = []
    for sub in pending:
        graph = kb.graphs.submission(sub.id)
        if graph not in published:
            continue
        rows = kb.select("SELECT ?g ?m ?nick WHERE { GRAPH ?g { ?m foaf:nick ?nick } }",
                         bind={"g": _n(graph), "m": _n(graph + "#moderator")})
        moderator = rows[0]["nick"].value if rows else "unknown"
        revised = [r["old"].value[len(prefix):] for r in kb.select(
            "SELECT ?g ?old WHERE { GRAPH ?g { ?g prov:wasRevisionOf ?old } }", bind={"g": _n(graph)})]
        found.append((sub.id, moderator, revised))
    if found or left.present():
        from kb.build.derive import derive

        with incremental.LOCK:
            derive(kb)
            left.clear()
    for sid, moderator, revised in found:
        subs.decide(sid, "accepted", moderator=moderator, supersedes=revised)
    return [sid for sid, _, _ in found]


# -- what a moderator sees ---------------------------------------------------------------------
PARTNER = "partner"  # memberships in a diff: ("partner", "{organisation IRI} {role IRI}")


def _memberships(triples, entity: str) -> set[tuple[str, str]]:
    nodes: dict = {}
    for t in triples:
        if t.subject.value.startswith(entity + "#membership"):
            nodes.setdefault(t.subject.value, {})[t.predicate.value.rsplit("#", 1)[-1]] = t.object.value
    return {(PARTNER, f"{m.get('organisation', '')} {m.get('role', '')}".strip()) for m in nodes.values()}


def _current_memberships(kb, entity: str) -> set[tuple[str, str]]:
    rows = kb.select("SELECT DISTINCT ?e ?o ?r WHERE { ?m dsi:project ?e ; dsi:organisation ?o . "
                     "OPTIONAL { ?m dsi:role ?r } }", bind={"e": _n(entity)})
    return {(PARTNER, f"{r['o'].value} {r['r'].value if r.get('r') is not None else ''}".strip()) for r in rows}


def diff(kb, sub: Submission) -> list[dict]:
    """Per entity: 'create' or 'change', with added and removed (property, value) pairs; partner
    memberships as ("partner", "{organisation} {role}") pairs."""
    triples = sub.triples()
    mine = {}
    for t in triples:
        for entity in sub.entities:
            if t.subject.value == entity:
                mine.setdefault(entity, set()).add((t.predicate.value, _show(t.object)))
    out = []
    for entity in sub.entities:
        rows = kb.select("SELECT DISTINCT ?e ?p ?o WHERE { ?e ?p ?o }", bind={"e": _n(entity)})
        current = {(r["p"].value, _show(r["o"])) for r in rows}
        proposed = mine.get(entity, set()) | _memberships(triples, entity)
        if sub.kind == "withdraw":
            out.append({"entity": entity, "action": "withdraw", "added": [], "removed": sorted(current)})
        elif not current:
            out.append({"entity": entity, "action": "create", "added": sorted(proposed), "removed": []})
        else:
            from_subs = set(subs_statements(kb, entity))
            corrected = {(q.predicate.value, _show(q.object))
                         for q in overridden(kb, pairs_of(kb, triples, [entity]))}
            members = _current_memberships(kb, entity)
            replaced = members if _memberships(triples, entity) else set()
            out.append({"entity": entity, "action": "change", "added": sorted(proposed - current - members),
                        "removed": sorted((from_subs | corrected | replaced) - proposed)})
    return out


def named(kb, pairs) -> list[tuple[str, str]]:
    """(property, value) pairs in words: labels of properties, concepts, places and partners."""
    from kb.publish.describe import best_label

    def word(value: str, term: bool = False) -> str:
        if not term and not value.startswith(kb.names.base):
            return value  # websites and other addresses are shown as they are
        try:
            label = best_label(kb, _n(value))
        except ValueError:
            label = None
        return label or value.rsplit("#", 1)[-1].rsplit("/", 1)[-1].replace("-", " ")

    out = []
    for p, o in pairs:
        if p == PARTNER:
            org, _, role = o.partition(" ")
            out.append(("partner", f"{word(org)} ({word(role)})" if role else word(org)))
        else:
            out.append((word(p, term=True), word(o)))
    return out


def subs_statements(kb, entity: str) -> set[tuple[str, str]]:
    """(property, value) of ``entity`` held in submission graphs (what an accepted edit replaces)."""
    prefix = kb.graphs.ns + "submission/"
    rows = kb.select("SELECT DISTINCT ?e ?prefix ?p ?o WHERE { GRAPH ?g { ?e ?p ?o } FILTER(STRSTARTS(STR(?g), ?prefix)) }",
                     bind={"e": _n(entity), "prefix": ox.Literal(prefix)})
    return {(r["p"].value, _show(r["o"])) for r in rows}


def _show(term) -> str:
    return term.value if isinstance(term, (ox.NamedNode, ox.Literal)) else str(term)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def _facts(triples, entity: str, predicate: str) -> str:
    return next((t.object.value for t in triples if t.subject.value == entity
                 and t.predicate.value == predicate), "")


def intake_duplicates(kb, triples, entity: str) -> list:
    """kb.contribute.duplicates matches (same website host, same name, close name in the same city) of a new
    organisation or project ``entity`` described by ``triples``."""
    from kb.contribute import duplicates as dup

    kinds = {kb.names.dsi("Organisation"): "organisation", kb.names.dsi("Project"): "project"}
    kind = kinds.get(_facts(triples, entity, RDF + "type"))
    if kind is None:
        return []
    dsi = kb.names.dsi
    return [m for m in dup.candidates(kb, _facts(triples, entity, RDFS + "label"), _facts(triples, entity, dsi("website")),
                                      _facts(triples, entity, dsi("city")) or None,
                                      _facts(triples, entity, dsi("country")) or None, type=kind)
            if m.iri != entity]


def duplicate_warning(match) -> dict:
    """What the submitter and the moderator read about one suspected duplicate (no IRIs)."""
    return {"field": "name", "path": "name", "severity": "Warning", "duplicate": match.as_dict(),
            "message": f"Is this {match.label}? It has the {' and the '.join(match.why)}. If it is, "
                       "suggest a change to it instead of adding a new entry."}


def duplicates(kb, sub: Submission, *, cutoff: float = 0.85) -> list[dict]:
    """Existing entities that may be the same as a new one: kb.duplicates' evidence (same website
    host, same name, close name in the same city) and a similar name anywhere."""
    if sub.kind != "create":
        return []
    found: dict[tuple[str, str], dict] = {}
    triples = sub.triples()
    for entity in sub.entities:
        site = _facts(triples, entity, kb.names.dsi("website"))
        for m in intake_duplicates(kb, triples, entity):
            why = [f"{w} {website_host(site)}" if w == "same website host" and site else w for w in m.why]
            found[(entity, m.iri)] = {"entity": entity, "candidate": m.iri, "label": m.label, "why": why,
                                      "score": 1.0}
        label, type_ = _facts(triples, entity, RDFS + "label"), _facts(triples, entity, RDF + "type")
        if not type_ or not label:
            continue
        rows = kb.select("SELECT ?e (SAMPLE(?l) AS ?label) ?type ?self WHERE { ?e a ?type ; rdfs:label ?l "
                         "FILTER(?e != ?self) } GROUP BY ?e ?type ?self", bind={"type": _n(type_), "self": _n(entity)})
        name = _norm(label)
        for row in rows:
            other = _norm(row["label"].value)
            ratio = difflib.SequenceMatcher(None, name, other).ratio() if name and other else 0.0
            if ratio >= cutoff:
                d = found.setdefault((entity, row["e"].value), {"entity": entity, "candidate": row["e"].value,
                                                                "label": row["label"].value, "why": [], "score": 0})
                d["why"].append(f"similar name ({ratio:.0%})")
                d["score"] = max(d["score"], ratio)
    out = sorted(found.values(), key=lambda d: -d["score"])[:20]
    for d in out:
        d["why"] = ", ".join(d["why"])
    return out


def provenance(kb, entity: str) -> list[dict]:
    """Accepted submissions that describe ``entity``: graph, when, moderator, submitter (if named).
    For entity pages ("where does this come from")."""
    rows = kb.select("""
        SELECT DISTINCT ?e ?g ?when ?nick ?who WHERE {
          GRAPH ?g { ?e ?p ?o . ?g prov:generatedAtTime ?when ; prov:wasGeneratedBy ?a .
                     ?a prov:wasAssociatedWith ?m . ?m foaf:nick ?nick .
                     OPTIONAL { ?g prov:wasAttributedTo ?s . ?s foaf:name ?who } }
        } ORDER BY ?when""", bind={"e": _n(entity)})
    return [{"graph": r["g"].value, "generated": r["when"].value, "moderator": r["nick"].value,
             "submitter": r["who"].value if "who" in r else None} for r in rows]
