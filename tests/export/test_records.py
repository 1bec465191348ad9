"""Reading the store into dataset records (records.py)."""

from __future__ import annotations

import pyoxigraph as ox

from medkg.export import records
from medkg.namespaces import Namespaces
from medkg.store import open_read_only


def test_a_datasets_statements_are_put_in_the_order_sparql_sorts_them(export_settings) -> None:
    """The sort in Python gives Oxigraph's ORDER BY ?g ?p ?o, so records fill the same."""
    store = open_read_only(export_settings.store)
    for dataset in records.read_datasets(store, Namespaces(export_settings.base))[:40]:
        node = ox.NamedNode(dataset.iri)
        quads = [q for q in store.quads_for_pattern(node, None, None, None)
                 if isinstance(q.graph_name, ox.NamedNode)]
        by_engine = [(r["g"], r["p"], r["o"]) for r in records._select(
            store, f"SELECT ?g ?p ?o WHERE {{ GRAPH ?g {{ <{dataset.iri}> ?p ?o }} }} "
                   "ORDER BY ?g ?p ?o")]
        assert [(q.graph_name, q.predicate, q.object)
                for q in sorted(quads, key=records._quad_order)] == by_engine


def test_mixed_terms_sort_blank_then_iri_then_literal() -> None:
    graph, dataset, prop = (ox.NamedNode(f"http://example.org/{n}") for n in "gdp")
    objects = [ox.Literal("a"), ox.NamedNode("http://example.org/z"), ox.BlankNode("b0")]
    quads = [ox.Quad(dataset, prop, o, graph) for o in objects]
    ordered = [q.object for q in sorted(quads, key=records._quad_order)]
    assert [type(o) for o in ordered] == [ox.BlankNode, ox.NamedNode, ox.Literal]


def test_streamed_datasets_are_the_read_ones_one_at_a_time(export_settings) -> None:
    store = open_read_only(export_settings.store)
    ns = Namespaces(export_settings.base)
    stream = records.read_catalogue(store, ns, streamed=True).datasets
    assert isinstance(stream, records.DatasetStream)
    read = records.read_datasets(store, ns)
    assert len(stream) == len(read) > 1
    assert list(stream) == read == list(stream)  # each pass reads anew
    assert any(r.counts for r in read) and any(r.issued for r in read)
    watched = _Reads(store)
    passing = iter(records.DatasetStream(watched, ns, records.read_sources(store, ns)))
    assert next(passing) == read[0]
    assert ox.NamedNode(read[0].iri) in watched.subjects
    assert ox.NamedNode(read[1].iri) not in watched.subjects  # the next one is not read yet


class _Reads:
    """A store that notes whose statements are read."""

    def __init__(self, db: ox.Store) -> None:
        self.db, self.subjects = db, []

    def query(self, *args, **kwargs):
        return self.db.query(*args, **kwargs)

    def quads_for_pattern(self, subject, *rest):
        self.subjects.append(subject)
        return self.db.quads_for_pattern(subject, *rest)


def test_a_catalogue_without_datasets_keeps_its_own_facts(export_settings) -> None:
    store = open_read_only(export_settings.store)
    ns = Namespaces(export_settings.base)
    whole = records.read_catalogue(store, ns)
    light = records.read_catalogue(store, ns, with_datasets=False)
    assert whole.datasets and light.datasets == []
    facts = ("title", "license", "publisher", "theme_taxonomies")
    assert [getattr(light, f) for f in facts] == [getattr(whole, f) for f in facts]
