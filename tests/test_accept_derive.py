"""Accepting a submission brings the derived graphs up to date incrementally (kb/build/incremental.py):
after accepts through the real path on a copy of the real store, deriving everything again from the
whole store must find nothing to change, in any derived graph, graph/meta or the public default
graph, and the /network page's figures must be those of a fresh computation."""

from __future__ import annotations

import json

import pyoxigraph as ox

from tests.test_submissions import BASE, ORG, project

PARTNERS = [{"organisation": ORG + "nesta", "role": "delivery-lead"},
            {"organisation": ORG + "waag-society", "role": "co-funder"},
            {"organisation": ORG + "swirrl", "role": "delivery-partner"}]


def test_an_accept_derives_what_a_full_derivation_gives(kb_copy):
    from kb.build.derive import derive
    from kb.contribute import moderation
    from kb.contribute.queue import SubmissionStore
    from kb.contribute.submissions import submit
    from kb.publish import network

    kb = kb_copy
    subs = SubmissionStore.for_kb(kb)
    g = kb.graphs
    dsi = kb.names.dsi

    def accept(body: dict) -> None:
        sid = submit(kb, subs, json.dumps(body).encode(), "application/json").submission.id
        moderation.accept(kb, subs, sid, "alice")

    def countries(entity: str) -> set[str]:
        return {q.object.value for q in kb.quads(ox.NamedNode(entity), ox.NamedNode(dsi("partnerCountry")), None,
                                                 ox.NamedNode(g.partner_countries))}

    swirrl_projects = {q.object.value for q in kb.quads(ox.NamedNode(ORG + "swirrl"), ox.NamedNode(dsi("takesPartIn")),
                                                        None, ox.NamedNode(g.derived))}
    assert swirrl_projects
    def shared(a: str, b: str) -> int:  # projects the network counts between two organisations
        graph = network.network(kb).graph
        return graph[a][b]["weight"] if graph.has_edge(a, b) else 0

    shared_before = shared(ORG + "nesta", ORG + "swirrl")
    # a new project with three partners: shortcuts, collaborations, partner countries, network links
    accept(project(name="Incremental Derive Project", partners=PARTNERS))
    entity = BASE + "id/project/incremental-derive-project"
    assert kb.ask("ASK { GRAPH ?g { ?o dsi:leads ?p } }", bind={"g": ox.NamedNode(g.derived), "o": ox.NamedNode(ORG + "nesta"),
                                                             "p": ox.NamedNode(entity)})
    assert countries(entity) == {BASE + "id/place/united-kingdom", BASE + "id/place/netherlands"}
    assert shared(ORG + "nesta", ORG + "swirrl") == shared_before + 1
    # an organisation moves: every project it takes part in gets its new country
    accept({"type": "organisation", "entity": ORG + "swirrl", "name": "Swirrl", "website": "https://swirrl.com/",
            "country": "France", "shortDescription": "Linked data publishing."})
    assert all(BASE + "id/place/france" in countries(p) for p in swirrl_projects | {entity})
    # a partner withdraws: it leaves the collaborations' counts, the countries and the network
    accept({"withdraw": ORG + "waag-society", "reason": "We asked to be removed"})
    assert BASE + "id/place/netherlands" not in countries(entity)
    assert ORG + "waag-society" not in network.network(kb).graph

    graphs = [g.derived, g.partner_countries, g.network, g.aligned, g.meta]
    incremental = {name: {q.triple for q in kb.graph_quads(name)} for name in graphs}
    public = {q.triple for q in kb.quads(None, None, None, ox.DefaultGraph())}
    served = network.network(kb)
    states = derive(kb)  # everything again, from the whole store
    assert set(states.values()) == {"unchanged"}, states
    assert {name: {q.triple for q in kb.graph_quads(name)} for name in graphs} == incremental
    assert {q.triple for q in kb.quads(None, None, None, ox.DefaultGraph())} == public
    fresh = network.compute(kb)
    assert (served.degree, served.community, served.positions) == (fresh.degree, fresh.community, fresh.positions)


def test_an_accept_cut_before_its_derivation_is_derived_at_the_next_start(kb_copy, monkeypatch):
    """A crash between recording an accept and deriving from it leaves the marker file: the recovery
    that runs when the app starts derives from the whole store and clears it."""
    from kb.build import incremental
    from kb.contribute import moderation
    from kb.contribute.queue import SubmissionStore
    from kb.contribute.submissions import submit

    kb = kb_copy
    subs = SubmissionStore.for_kb(kb)
    france = BASE + "id/place/france"
    country = ox.NamedNode(kb.names.dsi("partnerCountry"))
    projects = {q.object for q in kb.quads(ox.NamedNode(ORG + "swirrl"), ox.NamedNode(kb.names.dsi("takesPartIn")),
                                           None, ox.NamedNode(kb.graphs.derived))}
    assert projects

    def in_france() -> bool:
        return all(list(kb.quads(p, country, ox.NamedNode(france), ox.NamedNode(kb.graphs.partner_countries)))
                   for p in projects)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("the process stopped here")

    body = {"type": "organisation", "entity": ORG + "swirrl", "name": "Swirrl", "website": "https://swirrl.com/",
            "country": "France", "shortDescription": "Linked data publishing."}
    sid = submit(kb, subs, json.dumps(body).encode(), "application/json").submission.id
    with monkeypatch.context() as patched:
        patched.setattr(incremental, "derive_after", killed)
        try:
            moderation.accept(kb, subs, sid, "alice")
        except KeyboardInterrupt:
            pass
    marker = incremental.Marker.beside(subs.path)
    assert subs.get(sid).status == "accepted" and marker.present() and not in_france()
    moderation.recover(kb, subs)
    assert in_france() and not marker.present()
