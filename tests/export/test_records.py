"""Reading the store into dataset records (records.py)."""

from __future__ import annotations

import pyoxigraph as ox

from medkg.export import records
from medkg.namespaces import Namespaces
from medkg.store import open_read_only


def test_statements_are_put_in_the_order_sparql_sorts_them(export_settings) -> None:
    """The sort in Python gives Oxigraph's ORDER BY ?g ?d ?p ?o, so records fill the same."""
    store = open_read_only(export_settings.store)
    query = """SELECT ?d ?p ?o ?g WHERE { GRAPH ?g { ?d ?p ?o } }"""
    rows = records._select(store, query)
    by_engine = records._select(store, query + " ORDER BY ?g ?d ?p ?o")
    assert {type(row["o"]) for row in rows} >= {ox.NamedNode, ox.Literal}
    assert sorted(rows, key=records._statement_order) == by_engine


def test_mixed_terms_sort_blank_then_iri_then_literal() -> None:
    graph, dataset, prop = (ox.NamedNode(f"http://example.org/{n}") for n in "gdp")
    objects = [ox.Literal("a"), ox.NamedNode("http://example.org/z"), ox.BlankNode("b0")]
    rows = [{"g": graph, "d": dataset, "p": prop, "o": o} for o in objects]
    ordered = [row["o"] for row in sorted(rows, key=records._statement_order)]
    assert [type(o) for o in ordered] == [ox.BlankNode, ox.NamedNode, ox.Literal]


def test_a_catalogue_without_datasets_keeps_its_own_facts(export_settings) -> None:
    store = open_read_only(export_settings.store)
    ns = Namespaces(export_settings.base)
    whole = records.read_catalogue(store, ns)
    light = records.read_catalogue(store, ns, with_datasets=False)
    assert whole.datasets and light.datasets == []
    facts = ("title", "license", "publisher", "theme_taxonomies")
    assert [getattr(light, f) for f in facts] == [getattr(whole, f) for f in facts]
