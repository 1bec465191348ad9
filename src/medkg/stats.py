"""Counts over the built graph: datasets per source list, modality, organ, stain, task, year."""

from __future__ import annotations

import pyoxigraph as ox

from medkg.namespaces import Namespaces
from medkg.query import default_prefixes

FACETS = {
    "source": "?ds prov:wasDerivedFrom/mkg:inList ?v . ?v dcterms:title ?label .",
    "modality": "?ds mkg:modality ?v . ?v skos:prefLabel ?label .",
    "organ": "?ds mkg:organ ?v . ?v skos:prefLabel ?label .",
    "stain": "?ds mkg:stain ?v . ?v skos:prefLabel ?label .",
    "task": "?ds mkg:task ?v . ?v skos:prefLabel ?label .",
    "challenge": "?ds mkg:challenge ?v . ?v rdfs:label ?label .",
    "year": "?ds dcterms:issued ?d . BIND(SUBSTR(STR(?d), 1, 4) AS ?label) BIND(?label AS ?v)",
}


def facet_counts(store: ox.Store, ns: Namespaces, facet: str) -> list[tuple[str, int]]:
    """(label, number of datasets) for one facet, largest first."""
    query = f"""SELECT ?label (COUNT(DISTINCT ?ds) AS ?n) WHERE {{
        ?ds a mkg:Dataset . {FACETS[facet]} }}
        GROUP BY ?label ORDER BY DESC(?n) ?label"""
    rows = store.query(query, use_default_graph_as_union=True, prefixes=default_prefixes(ns))
    assert isinstance(rows, ox.QuerySolutions)
    return [(r["label"].value, int(r["n"].value)) for r in rows]


def totals(store: ox.Store, ns: Namespaces) -> dict[str, int]:
    query = """SELECT (COUNT(DISTINCT ?ds) AS ?datasets) (COUNT(DISTINCT ?e) AS ?entries) WHERE {
        ?ds a mkg:Dataset ; prov:wasDerivedFrom ?e }"""
    row = next(iter(store.query(query, use_default_graph_as_union=True, prefixes=default_prefixes(ns))))
    return {"datasets": int(row["datasets"].value), "entries": int(row["entries"].value),
            "quads": len(store)}


def all_stats(store: ox.Store, ns: Namespaces) -> dict[str, object]:
    return {"totals": totals(store, ns), **{f: facet_counts(store, ns, f) for f in FACETS}}
