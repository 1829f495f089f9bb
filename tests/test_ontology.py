"""The DSI ontology and its SKOS schemes: they parse, pass every QC query, match kb/vocab.py, and cover
every controlled value of the real DSI exports."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from kb import vocab
from kb.namespaces import SLUG_RE, names

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology" / "dsi.ttl"
TAXONOMIES = sorted((ROOT / "ontology" / "taxonomies").glob("*.ttl"))
QC = sorted((ROOT / "ontology" / "qc").glob("*.rq"))
DATA = Path("/work/shared/data/dsi")
N = names()
DSI = rdflib.Namespace(N.dsi_ns)
LEGACY = rdflib.Namespace("http://data.digitalsocial.eu/def/ontology/")
SCHEMES = ("technology-focus", "technology-method", "area-of-society", "dsi-area", "organisation-type",
           "organisation-size", "activity-type", "role", "support-type", "quality-issue")


@pytest.fixture(scope="module")
def store() -> ox.Store:
    """Ontology and all taxonomies in one in-memory Oxigraph store (default graph)."""
    s = ox.Store()
    for path in [ONTOLOGY, *TAXONOMIES]:
        s.load(path=str(path), format=ox.RdfFormat.TURTLE)
    return s


@pytest.fixture(scope="module")
def graph() -> rdflib.Graph:
    g = rdflib.Graph()
    for path in [ONTOLOGY, *TAXONOMIES]:
        g.parse(path, format="turtle")
    return g


def rows(store: ox.Store, query: str) -> list:
    return list(store.query(query))


# ---------------------------------------------------------------- parsing and the vocab contract

@pytest.mark.parametrize("path", [ONTOLOGY, *TAXONOMIES], ids=lambda p: p.name)
def test_parses_with_rdflib_and_pyoxigraph_to_the_same_size(path):
    g = rdflib.Graph().parse(path, format="turtle")
    s = ox.Store()
    s.load(path=str(path), format=ox.RdfFormat.TURTLE)
    assert len(g) > 0
    assert len(g) == len(s)


def test_one_taxonomy_file_per_scheme_named_by_its_slug():
    assert sorted(p.stem for p in TAXONOMIES) == sorted(SCHEMES)
    for path in TAXONOMIES:
        g = rdflib.Graph().parse(path, format="turtle")
        schemes = set(g.subjects(RDF.type, SKOS.ConceptScheme))
        assert schemes == {rdflib.URIRef(N.scheme(path.stem))}, path.name


def test_vocab_terms_are_exactly_the_terms_defined_in_the_ontology():
    g = rdflib.Graph().parse(ONTOLOGY, format="turtle")
    defined = {str(s)[len(N.dsi_ns):] for s in g.subjects(RDFS.isDefinedBy, rdflib.URIRef(N.ontology))
               if str(s).startswith(N.dsi_ns)}
    assert defined - vocab.TERMS == set(), "defined in dsi.ttl but missing from kb/vocab.py"
    assert vocab.TERMS - defined == set(), "in kb/vocab.py but not defined in dsi.ttl"
    classes = {str(s)[len(N.dsi_ns):] for s in g.subjects(RDF.type, OWL.Class) if str(s).startswith(N.dsi_ns)}
    assert classes == vocab.CLASSES


def test_ontology_metadata():
    g = rdflib.Graph().parse(ONTOLOGY, format="turtle")
    onto = rdflib.URIRef(N.ontology)
    vann = rdflib.Namespace("http://purl.org/vocab/vann/")
    dct = rdflib.Namespace("http://purl.org/dc/terms/")
    assert (onto, RDF.type, OWL.Ontology) in g
    assert g.value(onto, dct.license) == rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert str(g.value(onto, vann.preferredNamespacePrefix)) == "dsi"
    assert str(g.value(onto, vann.preferredNamespaceUri)) == N.dsi_ns
    assert str(g.value(onto, OWL.versionIRI)).startswith(N.ontology + "/")
    for p in (dct.title, dct.description, dct.creator, OWL.versionInfo):
        assert g.value(onto, p) is not None, p


@pytest.mark.parametrize("ours, legacy", [
    ("Project", "Activity"), ("ActivityMembership", "ActivityMembership"),
    ("OrganisationType", "OrganizationType"), ("ActivityType", "ActivityType"),
    ("AreaOfSociety", "AreaOfSociety"), ("TechnologyFocus", "TechnologyFocus"),
    ("TechnologyMethod", "TechnologyMethod"), ("OrganisationSize", "FTERange"), ("Role", "ActivityRole"),
    ("organisation", "organization"), ("project", "activity"), ("role", "role"),
    ("organisationType", "organizationType"), ("organisationSize", "numberOfFTEStaff"),
    ("areaOfSociety", "areaOfSociety"), ("technologyFocus", "technologyFocus"),
    ("technologyMethod", "technologyMethod"), ("activityType", "activityType"), ("socialImpact", "socialImpact"),
])
def test_legacy_terms_are_mapped(graph, ours, legacy):
    pairs = {(s, o) for p in (OWL.equivalentClass, OWL.equivalentProperty) for s, o in graph.subject_objects(p)}
    assert (DSI[ours], LEGACY[legacy]) in pairs


def test_legacy_queries_still_find_our_data(graph):
    """With the equivalences, an OWL RL reasoner answers a legacy-vocabulary query over our data."""
    from owlrl import DeductiveClosure, OWLRL_Semantics

    g = rdflib.Graph()
    g += rdflib.Graph().parse(ONTOLOGY, format="turtle")
    project = rdflib.URIRef(N.entity("project", "example"))
    g.add((project, RDF.type, DSI.Project))
    g.add((project, DSI.areaOfSociety, rdflib.URIRef(N.concept("area-of-society", "science"))))
    DeductiveClosure(OWLRL_Semantics).expand(g)
    assert (project, RDF.type, LEGACY.Activity) in g
    assert (project, LEGACY.areaOfSociety, rdflib.URIRef(N.concept("area-of-society", "science"))) in g


# ---------------------------------------------------------------- QC queries

@pytest.mark.parametrize("path", QC, ids=lambda p: p.stem)
def test_qc_query_returns_no_rows(store, path):
    found = rows(store, path.read_text())
    assert found == [], f"{path.name}: " + "; ".join(str(list(r)) for r in found[:10])


PREFIXES = N.turtle_prefixes()
BROKEN = {
    # qc file stem -> a small graph that breaks its rule
    "terms-labelled-en": "dsi:Organisation a owl:Class ; rdfs:label \"Organización\"@es .",
    "terms-second-language": "dsi:Organisation a owl:Class ; rdfs:label \"Organisation\"@en .",
    "properties-domain-range": "dsi:website a owl:ObjectProperty ; rdfs:domain dsi:Organisation .",
    "concepts-in-scheme": "<https://w3id.org/dsi/id/concept/role/x> a skos:Concept ; skos:prefLabel \"X\"@en .",
    "concepts-labelled": "<https://w3id.org/dsi/id/concept/role/x> a skos:Concept ; "
                         "skos:prefLabel \"X\"@en, \"Y\"@en ; skos:definition \"d\"@en .",
    "unique-preflabels": "<https://w3id.org/dsi/id/concept/role/x> skos:inScheme <https://w3id.org/dsi/id/concept/role> ; "
                         "skos:prefLabel \"Funder\"@en . <https://w3id.org/dsi/id/concept/role/y> skos:inScheme "
                         "<https://w3id.org/dsi/id/concept/role> ; skos:prefLabel \"funder\"@en .",
    "no-dangling-terms": "<https://w3id.org/dsi/id/project/p> dsi:noSuchTerm \"x\" .",
    "concept-types": "<https://w3id.org/dsi/id/concept/role/x> skos:inScheme <https://w3id.org/dsi/id/concept/role> .",
    "scheme-metadata": "<https://w3id.org/dsi/id/concept/role> a skos:ConceptScheme .",
}


def test_every_qc_query_has_a_broken_example():
    assert sorted(BROKEN) == sorted(p.stem for p in QC)


@pytest.mark.parametrize("path", QC, ids=lambda p: p.stem)
def test_qc_query_finds_the_fault_in_a_broken_graph(path):
    s = ox.Store()
    s.load(PREFIXES + BROKEN[path.stem], format=ox.RdfFormat.TURTLE)
    assert len(rows(s, path.read_text())) >= 1, f"{path.name} cannot fail"


# ---------------------------------------------------------------- concepts

def test_concept_iris_follow_the_contract(graph):
    for concept, scheme in graph.subject_objects(SKOS.inScheme):
        slug_scheme = str(scheme)[len(N.concept_ns):]
        assert slug_scheme in SCHEMES
        prefix = N.scheme(slug_scheme) + "/"
        assert str(concept).startswith(prefix), concept
        assert SLUG_RE.match(str(concept)[len(prefix):]), concept


def test_every_concept_has_a_second_language_preflabel(graph):
    for concept in set(graph.subjects(RDF.type, SKOS.Concept)):
        langs = {lab.language for lab in graph.objects(concept, SKOS.prefLabel)}
        assert "en" in langs and len(langs) >= 2, concept


def test_roles_and_quality_issues_the_brief_names_exist(graph):
    concepts = set(graph.subjects(RDF.type, SKOS.Concept))
    for slug in ("sole-funder", "co-funder", "delivery-lead", "delivery-partner", "evaluator",
                 "advisory-group-member", "takes-part"):
        assert rdflib.URIRef(N.concept("role", slug)) in concepts
    for slug in ("spam", "test-entry", "no-name", "placeholder-date", "impossible-coordinates",
                 "outside-europe", "duplicate"):
        assert rdflib.URIRef(N.concept("quality-issue", slug)) in concepts


def test_areas_of_society_2018_revision_is_mapped_to_the_earlier_areas(graph):
    dct = rdflib.Namespace("http://purl.org/dc/terms/")
    old = rdflib.URIRef(N.concept("area-of-society", "education-and-skills"))
    new = rdflib.URIRef(N.concept("area-of-society", "skills-and-learning"))
    assert (old, dct.isReplacedBy, new) in graph and (new, dct.replaces, old) in graph
    assert (old, SKOS.closeMatch, new) in graph
    assert len(set(graph.subjects(SKOS.topConceptOf, rdflib.URIRef(N.scheme("area-of-society"))))) == 15


def _norm(text: str) -> str:
    """Matching key: casefold, accents stripped, punctuation and spaces collapsed (as the importers match)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@pytest.fixture(scope="module")
def label_index(graph) -> dict[str, dict[str, set]]:
    index: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for p in (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel, SKOS.notation):
        for concept, label in graph.subject_objects(p):
            scheme = graph.value(concept, SKOS.inScheme)
            index[str(scheme)[len(N.concept_ns):]][_norm(str(label))].add(concept)
    return index


def test_no_label_names_two_concepts_of_one_scheme(label_index):
    clashes = [(scheme, key, sorted(map(str, concepts)))
               for scheme, keys in label_index.items() for key, concepts in keys.items() if len(concepts) > 1]
    assert clashes == []


def _controlled_values() -> list[tuple[str, str, str]]:
    """(scheme, source field, value) for each controlled value of the exports.

    A field that mixes a controlled list with free text (areas of society, technology methods, project
    types) counts a value as controlled when it occurs at least 15 times: the lists' values occur 18 to
    400 times, free text at most 12 times.
    """
    out: list[tuple[str, str, str]] = []

    def add(scheme, field, values, mixed=False):
        counts = Counter(v.strip() for v in values if v and v.strip())
        out.extend((scheme, field, v) for v, n in counts.items() if not mixed or n >= 15)

    def read_csv(name):
        with (DATA / name).open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))

    orgs = read_csv("dsi2013_swirrl_export_orgs.csv")
    add("organisation-type", "2013 Organisation type", [r["Organisation type"] for r in orgs])
    add("organisation-size", "2013 Size of Organisation", [r["Size of Organisation"] for r in orgs])
    projects = read_csv("dsi2013_swirrl_export_projects.csv")
    split = lambda col: [x for r in projects for x in r[col].split(",")]  # noqa: E731
    add("activity-type", "2013 Project type", [r["Project type"] for r in projects], mixed=True)
    add("area-of-society", "2013 Area of Society", split("Area of Society"), mixed=True)
    add("dsi-area", "2013 DSI Areas", split("DSI Areas"))
    add("technology-focus", "2013 Technology Focus", split("Technology Focus"))
    add("technology-method", "2013 Technology method", split("Technology method"), mixed=True)
    links = read_csv("dsi2013_swirrl_export_org-projects.csv")
    add("role", "2013 Role", [r["Role"] for r in links])
    for suffix in ("2_2017-03-27", "_2017-03-10"):
        o = json.loads((DATA / f"dsi4eu_organisations{suffix}.json").read_text(encoding="utf-8"))
        name = lambda v: v["name"] if isinstance(v, dict) else v  # noqa: E731
        add("organisation-type", "DSI4EU organisation_type", [name(x["organisation_type"]) for x in o])
        add("organisation-size", "DSI4EU organisation_size", [x["organisation_size"] for x in o])
        p = json.loads((DATA / f"dsi4eu_projects{suffix}.json").read_text(encoding="utf-8"))
        add("area-of-society", "DSI4EU support_tags", [name(t) for x in p for t in x["support_tags"]], mixed=True)
        add("technology-focus", "DSI4EU focus", [name(t) for x in p for t in x["focus"]])
        add("technology-method", "DSI4EU technology", [name(t) for x in p for t in x["technology"]], mixed=True)
    legacy = (DATA / "swirrl_digitalsocial_areas_of_digital_social_innovation.txt").read_text().split()
    add("dsi-area", "legacy DSI area IRIs", [w.rsplit("/", 1)[-1] for w in legacy if "/def/concept/" in w])
    return out


@pytest.mark.skipif(not DATA.exists(), reason="the real DSI exports are not on this machine")
def test_every_controlled_source_value_names_exactly_one_concept(label_index):
    values = _controlled_values()
    assert len(values) > 80
    unmapped = [(scheme, field, value) for scheme, field, value in values
                if len(label_index[scheme].get(_norm(value), ())) != 1]
    assert unmapped == []


@pytest.mark.skipif(not DATA.exists(), reason="the real DSI exports are not on this machine")
def test_legacy_dsi_area_iris_are_exact_matches(graph):
    legacy = {w for w in (DATA / "swirrl_digitalsocial_areas_of_digital_social_innovation.txt").read_text().split()
              if "/def/concept/" in w}
    matched = {str(o) for o in graph.objects(None, SKOS.exactMatch)}
    assert legacy and legacy <= matched
