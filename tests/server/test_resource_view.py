"""The page reader answers what the equivalent SPARQL queries answer, and stops at its cap."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from medkg import store as medkg_store
from medkg_server import queries
from medkg_server.resource_view import (
    DatasetTerms,
    Entry,
    Inbound,
    Mapping,
    ResourceReader,
    Size,
    binding,
)

MKG = "https://w3id.org/medkg/ontology#"
CAMELYON = "https://w3id.org/medkg/dataset/camelyon16"
TERMS = DatasetTerms(f"{MKG}count", f"{MKG}unit", f"{MKG}inList", f"{MKG}line", f"{MKG}section",
                     f"{MKG}rawText", tuple(f"{MKG}{t}" for t in ("organ", "modality", "stain",
                                                                   "task")), f"{MKG}split")
PREFIXES = f"""
PREFIX mkg: <{MKG}>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""


@pytest.fixture(scope="module")
def db(built_store: Path) -> ox.Store:
    return medkg_store.open_read_only(built_store)


def select(db: ox.Store, text: str) -> list[dict[str, str | None]]:
    solutions = db.query(PREFIXES + text, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    return [
        {n: (None if row[n] is None else str(row[n].value)) for n in names} for row in solutions
    ]


def test_statements_are_the_resource_statements_in_named_graphs(db: ox.Store) -> None:
    reader = ResourceReader(db, 2_000)
    found = reader.statements(CAMELYON)
    expected = select(db, f"SELECT ?g ?p ?o WHERE {{ GRAPH ?g {{ <{CAMELYON}> ?p ?o }} }}")
    assert sorted((s.graph, s.property, s.value["value"]) for s in found) == sorted(
        (r["g"], r["p"], r["o"]) for r in expected
    )
    assert [s.property for s in found] == sorted(s.property for s in found)
    labelled = {s.value["value"]: s.label for s in found if s.label}
    organ = "https://w3id.org/medkg/anatomy/lymph-node"
    assert labelled[organ] == select(db, f"SELECT ?l {{ <{organ}> skos:prefLabel ?l }}")[0]["l"]


def test_dataset_parts_match_their_sparql_equivalents(db: ox.Store) -> None:
    reader = ResourceReader(db, 2_000)
    own = reader.statements(CAMELYON)
    counts = select(db, f"""SELECT ?g ?value ?unit ?text WHERE {{ GRAPH ?g {{
        <{CAMELYON}> mkg:count ?c . ?c rdf:value ?value ; mkg:unit ?unit .
        OPTIONAL {{ ?c rdfs:label ?text }} }} }} ORDER BY ?g ?unit""")
    assert counts and reader.counts(own, TERMS) == [
        Size(r["value"], r["unit"], r["text"], None, r["g"]) for r in counts
    ]
    entries = select(db, f"""SELECT ?entry ?list ?listTitle ?line ?section ?raw WHERE {{
        GRAPH ?g {{ <{CAMELYON}> prov:wasDerivedFrom ?entry .
                    ?entry mkg:inList ?list ; mkg:line ?line .
                    OPTIONAL {{ ?entry mkg:section ?section }}
                    OPTIONAL {{ ?entry mkg:rawText ?raw }} }}
        OPTIONAL {{ ?list dcterms:title ?listTitle }} }} ORDER BY ?list ?line""")
    assert entries and reader.entries(own, TERMS) == [
        Entry(r["entry"], r["list"], r["listTitle"], r["line"], r["section"], r["raw"])
        for r in entries
    ]
    terms = select(db, f"""SELECT DISTINCT ?concept ?conceptLabel ?relation ?term WHERE {{
        VALUES ?tag {{ mkg:organ mkg:modality mkg:stain mkg:task }}
        VALUES ?relation {{ skos:exactMatch skos:closeMatch skos:broadMatch skos:narrowMatch
                            skos:relatedMatch }}
        <{CAMELYON}> ?tag ?concept . ?concept ?relation ?term .
        OPTIONAL {{ ?concept skos:prefLabel ?conceptLabel }}
    }} ORDER BY ?conceptLabel ?relation ?term""")
    assert terms and reader.terms(own, TERMS) == [
        Mapping(r["concept"], r["conceptLabel"], r["relation"], r["term"]) for r in terms
    ]


def test_reads_stop_at_the_cap_and_skip_the_default_graph() -> None:
    db = ox.Store()
    hub = ox.NamedNode("http://example.org/hub")
    p = ox.NamedNode("http://example.org/p")
    graph = ox.NamedNode("http://example.org/g")
    db.extend(ox.Quad(hub, p, ox.Literal(str(i)), graph) for i in range(50))
    db.add(ox.Quad(hub, p, ox.Literal("in the default graph")))
    assert len(ResourceReader(db, 10).statements(hub.value)) == 10
    every = ResourceReader(db, 100).statements(hub.value)
    assert len(every) == 50 and all(s.graph == graph.value for s in every)


def test_values_take_the_sparql_json_shape() -> None:
    assert binding(ox.NamedNode("http://x/a")) == {"type": "uri", "value": "http://x/a"}
    assert binding(ox.Literal("chat", language="fr")) == {
        "type": "literal", "value": "chat", "xml:lang": "fr"}
    assert binding(ox.Literal("plain")) == {"type": "literal", "value": "plain"}
    assert binding(ox.Literal("4", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#integer")))["datatype"].endswith("#integer")


def test_a_page_says_when_it_shows_only_the_first_statements(
    built_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medkg_server import catalogue, create_app

    def page() -> str:
        client = create_app({"STORE": str(built_store), "EXECUTORS": 1}).test_client()
        answer = client.get("/anatomy/breast", headers={"Accept": "text/html"})
        return " ".join(answer.get_data(as_text=True).split())

    assert "shows the first" not in page()
    monkeypatch.setattr(catalogue, "PAGE_STATEMENTS", 3)
    assert "This page shows the first 3 statements" in page()


def _described_by_the_engine(db: ox.Store, iri: str) -> set[ox.Triple]:
    text = queries.load("resource-describe", iri=queries.iri(iri))
    return set(db.query(text, use_default_graph_as_union=True))


def test_the_rdf_description_is_what_the_describe_query_constructs(db: ox.Store) -> None:
    reader = ResourceReader(db, 2_000)
    iris = {t.value for q in db for t in (q.subject, q.object) if isinstance(t, ox.NamedNode)}
    parts = 0
    for iri in sorted(iris):
        triples, truncated = reader.description(iri, 10_000)
        assert not truncated
        assert len(triples) == len(set(triples))  # each triple once
        assert set(triples) == _described_by_the_engine(db, iri), iri
        parts += any(t.subject != ox.NamedNode(iri) for t in triples)
    assert parts > 0  # some resources bring their size records or list rows along


def test_the_rdf_description_stops_at_its_cap(db: ox.Store) -> None:
    whole, truncated = ResourceReader(db, 2_000).description(CAMELYON, 10_000)
    assert not truncated and len(whole) > 10
    cut, truncated = ResourceReader(db, 2_000).description(CAMELYON, 10)
    assert truncated and cut == whole[:10]
    exact, truncated = ResourceReader(db, 2_000).description(CAMELYON, len(whole))
    assert not truncated and exact == whole


def test_a_count_of_one_split_says_which() -> None:
    # a list's "Train: 27 images, 24.319 nuclei": a part and a whole
    data = f"""
        @prefix mkg: <{MKG}> . @prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
        <https://w3id.org/medkg/graph/source/a> {{
          <urn:d> mkg:count <urn:d/count/1>, <urn:d/count/2> .
          <urn:d/count/1> a mkg:Count ; rdf:value 27 ; mkg:unit "images" ; mkg:split "train" .
          <urn:d/count/2> a mkg:Count ; rdf:value 24319 ; mkg:unit "nuclei" . }}"""
    db = ox.Store()
    db.load(data.encode(), format=ox.RdfFormat.TRIG)
    reader = ResourceReader(db, 2_000)
    counts = reader.counts(reader.statements("urn:d"), TERMS)
    assert sorted((c.value, c.unit, c.split) for c in counts) == [
        ("24319", "nuclei", None), ("27", "images", "train")]


LYMPH_NODE = "https://w3id.org/medkg/anatomy/lymph-node"


def test_inbound_is_what_points_here_with_titles_by_property(db: ox.Store) -> None:
    reader = ResourceReader(db, 2_000)
    found, more = reader.inbound(LYMPH_NODE, 300)
    expected = select(db, f"SELECT DISTINCT ?s ?p {{ ?s ?p <{LYMPH_NODE}> }}")
    assert not more and expected
    assert {(i.iri, i.property) for i in found} == {(r["s"], r["p"]) for r in expected}
    assert len(found) == len(expected)  # a statement in two lists' graphs is listed once
    assert Inbound(CAMELYON, f"{MKG}organ", reader.title(CAMELYON)) in found
    keys = [(i.property, (i.label or "").lower(), i.iri) for i in found]
    assert keys == sorted(keys)


def test_inbound_stops_at_its_cap_and_says_there_is_more() -> None:
    db = ox.Store()
    hub = ox.NamedNode("http://example.org/hub")
    p = ox.NamedNode("http://example.org/p")
    for i in range(50):
        pointer = ox.NamedNode(f"http://example.org/s{i}")
        for graph in ("http://example.org/g1", "http://example.org/g2"):
            db.add(ox.Quad(pointer, p, hub, ox.NamedNode(graph)))
    reader = ResourceReader(db, 2_000)
    ten, more = reader.inbound(hub.value, 10)
    assert len(ten) == 10 and more
    every, more = reader.inbound(hub.value, 50)
    assert len(every) == 50 and not more  # 100 quads, 50 distinct pointers
    assert {i.iri for i in ten} <= {i.iri for i in every}
