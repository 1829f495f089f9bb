"""Intake of submissions that are never lost: parse, mint, validate, then write durably (in the queue,
:mod:`kb.contribute.queue`) before answering.

A submission is stored in SQLite beside the store (``{store}.submissions.sqlite``, WAL journal,
``synchronous=FULL``: a committed row survives a crash of the process or the machine) with its raw body,
its parsed graph as N-Triples, who sent it and when, and its status (pending, accepted, rejected with a
reason). A second POST with the same ``Idempotency-Key`` or the same content returns the first one.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.contribute.queue import (RDF, RDFS, SUBMITTABLE, SUBMITTER_KINDS, MintTaken, Submission,
                                 SubmissionStore, Submitter, content_hash, media_type_of, mint, new_id,
                                 now_iso, parse_rdf, placeholder_ns)
from kb.errors import BadRequest, TooLarge, Unprocessable
from kb.nesting import check_depth
from kb.terms import FieldProblem, iri as parse_iri


# -- intake: parse, mint, validate, store ------------------------------------------------------
@dataclass
class Intake:
    """The outcome of one POST: the stored submission and whether it is new (False: a repeat)."""

    submission: Submission
    created: bool
    result: object = None
    warnings: list[dict] = field(default_factory=list)


class NotConforming(Unprocessable):
    """The submission parsed but breaks the shapes: carries the SHACL result (a 422, not a fault)."""

    def __init__(self, result, results: list[dict]):
        super().__init__("the submission does not conform to the shapes: " + "; ".join(
            f"{r['field']}: {r['message']}" for r in results if r["severity"] == "Violation")[:2000])
        self.result = result
        self.results = results


_INTAKE_LOCK = threading.Lock()


def submit(kb, subs: SubmissionStore, raw: bytes, content_type: str | None, *,
           idempotency_key: str | None = None, submitter: Submitter | None = None,
           max_bytes: int | None = None) -> Intake:
    """Take one submission body: 413/415/400/422 as errors, else stored durably (202)."""
    limit = max_bytes if max_bytes is not None else kb.settings.submission_max_bytes
    if len(raw) > limit:
        raise TooLarge(f"the body has {len(raw)} bytes; submissions may have at most {limit}")
    media_type = media_type_of(content_type)
    check_depth(raw, media_type)  # before any parser: deep nesting crashes recursive parsers
    if submitter is not None and submitter.kind not in SUBMITTER_KINDS:
        raise FieldProblem("X-Submitter-Kind", f"{submitter.kind[:50]!r} is not a kind of submitter: use "
                           + " or ".join(SUBMITTER_KINDS), status=400)
    chash = content_hash(media_type, raw)
    existing = subs.find(idempotency_key=idempotency_key, content_hash=chash)
    if existing is not None:
        return Intake(existing, False)
    submitter = submitter or Submitter()
    for attempt in range(3):
        try:
            stored, created, result, results = _intake(kb, subs, raw, media_type, submitter,
                                                       idempotency_key, chash)
            break
        except MintTaken:
            if attempt == 2:
                raise BadRequest("could not mint a free identifier: send the submission again") from None
    return Intake(stored, created, result, [r for r in results if r["severity"] != "Violation"])


def _intake(kb, subs, raw, media_type, submitter, idempotency_key, chash):
    """Parse, mint, validate and store, holding the intake lock (one slug never goes to two)."""
    from kb.contribute.submission_validation import results_of, validate

    with _INTAKE_LOCK:
        early: list[dict] = []  # fields left out as unreadable (kb.submission_messages), said with the rest
        kind, triples, entities, minted = _build(kb, subs, raw, media_type, submitter, early)
        results, result = [], None
        if kind != "withdraw":
            result = validate(kb, triples)
            own = {t.subject.value for t in triples}  # context entities are not this submission's fault
            results = [r for r in results_of(kb, result) if r["focus"] in own]
            if media_type == "application/json":  # people's words for people's shape
                from kb.contribute.submission_messages import shacl_result

                word = "project" if any(t.object.value == kb.names.dsi("Project") for t in triples) else "organisation"
                results = [shacl_result(r, word) for r in results]
            results = early + [r for r in results if r["field"] not in {e["field"] for e in early}]
            if any(r["severity"] == "Violation" for r in results):
                raise NotConforming(result, results)
            if kind == "create":
                from kb.contribute.moderation import duplicate_warning, intake_duplicates

                results += [duplicate_warning(m) for e in entities for m in intake_duplicates(kb, triples, e)]
        sub = Submission(
            id=new_id(), created=now_iso(), kind=kind, media_type=media_type, raw=raw,
            ntriples=ox.serialize(sorted(triples, key=str), format=ox.RdfFormat.N_TRIPLES).decode(),
            entities=entities, submitter=submitter, idempotency_key=idempotency_key or None,
            content_hash=chash,
            report=json.dumps([r for r in results if r["severity"] != "Violation"]) if results else None)
        stored, created = subs.add(sub, minted)
    return stored, created, result, results


def _build(kb, subs, raw, media_type, submitter, early=None):
    """(kind, triples, entities, minted IRIs) of a body; problems of single fields go to ``early``."""
    from kb.contribute.submission_json import json_to_triples, load_json

    n = kb.names
    if media_type == "application/json":
        data = load_json(raw, early)
        if "submitter" in data:
            who = data["submitter"]
            submitter.name = submitter.name or who.get("name", "")
            submitter.email = submitter.email or who.get("email", "")
            submitter.kind = who.get("kind", submitter.kind)
            submitter.named = bool(who.get("consentToBeNamed", submitter.named))
        if "withdraw" in data:
            entity = _must_exist(kb, _entry(data["withdraw"], "withdraw"), "withdraw")
            triples = [ox.Triple(entity, ox.NamedNode(n.dsi("reason")),
                                 ox.Literal(data.get("reason") or "withdrawal requested"))]
            return "withdraw", triples, [entity.value], []
        if data.get("entity"):
            entity = _must_exist(kb, _entry(data["entity"], "entity"), "entity")
            return "edit", json_to_triples(kb, data, entity.value, early), [entity.value], []
        iri = mint(kb, subs, data["type"], data["name"], set())
        return "create", json_to_triples(kb, data, iri, early), [iri], [iri]
    triples = parse_rdf(raw, media_type, placeholder_ns(kb))
    if not triples:
        raise BadRequest("the body holds no statements")
    return _mint_rdf(kb, subs, triples)


def _entry(value: str, field: str) -> ox.NamedNode:
    """The IRI of an entry to change or withdraw; a malformed one is a plain problem on its field."""
    try:
        return parse_iri(value, field)
    except FieldProblem:
        raise FieldProblem(field, "This is not the identifier (IRI) of an entity of this knowledge base: "
                           "choose one from the suggestions") from None


def _must_exist(kb, node: ox.NamedNode, field: str = "entity") -> ox.NamedNode:
    """``node`` when it is an entity of the store (looked up as a bound term), else a 422."""
    if not node.value.startswith(kb.names.id_ns) or not kb.ask("ASK { ?e ?p ?o }", bind={"e": node}):
        raise FieldProblem(field, "This is not an entity of this knowledge base: choose one from the "
                           "suggestions (to add a new one, leave out the entry to change)")
    return node


def _mint_rdf(kb, subs, triples):
    """Give new entities (blank nodes or relative IRIs typed with a submittable class) their IRIs;
    name remaining blank nodes after the first entity; existing entity subjects make an edit."""
    n = kb.names
    placeholder = placeholder_ns(kb)
    classes = {n.dsi(c): c.lower() for c in SUBMITTABLE}
    types, labels = {}, {}
    for t in triples:
        if t.predicate.value == RDF + "type" and isinstance(t.object, ox.NamedNode) and t.object.value in classes:
            types.setdefault(t.subject, classes[t.object.value])
        elif t.predicate.value == RDFS + "label" and isinstance(t.object, ox.Literal):
            labels.setdefault(t.subject, t.object.value)
    mapping, minted, entities, edits = {}, [], [], []
    for subject, type_ in types.items():
        fresh = isinstance(subject, ox.BlankNode) or subject.value.startswith(placeholder)
        if fresh:
            iri = mint(kb, subs, type_, labels.get(subject) or type_, set(minted))
            mapping[subject] = ox.NamedNode(iri)
            minted.append(iri)
            entities.append(iri)
        elif subject.value.startswith(n.id_ns):
            _must_exist(kb, subject)
            entities.append(subject.value)
            edits.append(subject.value)
        else:
            raise Unprocessable(f"<{subject.value}> is outside this knowledge base ({n.id_ns}): use a "
                                "blank node or a relative IRI for a new entity")
    if not entities:
        raise Unprocessable("the submission describes no organisation, project, activity, funding, "
                            "place or event (give it an rdf:type of the DSI ontology)")
    anchor = entities[0]
    counter = iter(range(1, 1_000_000))

    def rename(term):
        if term in mapping:
            return mapping[term]
        if isinstance(term, ox.BlankNode) or (isinstance(term, ox.NamedNode) and term.value.startswith(placeholder)):
            mapping[term] = ox.NamedNode(f"{anchor}#node-{next(counter)}")
            return mapping[term]
        return term

    out = [ox.Triple(rename(t.subject), t.predicate, rename(t.object)) for t in triples]
    stray = sorted({t.subject.value for t in out if not any(
        t.subject.value == e or t.subject.value.startswith(e + "#") for e in entities)})
    if stray:
        raise Unprocessable(f"statements about <{stray[0]}> are outside this submission: describe only the "
                            "entities it adds or changes (typed with a DSI class) and their own #nodes")
    kind = "edit" if edits and not minted else "create"
    return kind, out, entities, minted

