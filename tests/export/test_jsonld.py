"""The canonical order of graph-shaped JSON-LD: sets sorted, lists and JSON literals untouched."""

from __future__ import annotations

import json

import rdflib
from rdflib import RDF, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic

from medkg.export.context import load_context
from medkg.export.jsonld import canonical, compact_document, kept_order

EX = Namespace("https://example.org/")
CONTEXT = {
    "ex": str(EX),
    "data": {"@id": "ex:data", "@type": "@json"},
    "seq": {"@id": "ex:seq", "@container": "@list"},
}


def test_nodes_keys_and_sets_are_sorted() -> None:
    document = {"@graph": [
        {"label": ["z", "a"], "@id": "ex:b"},
        {"@id": "ex:a", "@type": ["ex:Y", "ex:X"]},
    ]}  # fmt: skip
    assert json.dumps(canonical(document, kept_order(CONTEXT))) == json.dumps({"@graph": [
        {"@id": "ex:a", "@type": ["ex:X", "ex:Y"]},
        {"@id": "ex:b", "label": ["a", "z"]},
    ]})  # fmt: skip


def test_lists_and_json_literals_keep_their_order() -> None:
    document = {
        "@id": "ex:a",
        "ex:order": {"@list": [{"@id": "ex:3", "x": 1}, {"@id": "ex:1"}]},
        "seq": ["c", "a", "b"],
        "data": {"z": [3, 1], "a": 0},
        "ex:raw": {"@value": {"z": [3, 1], "a": 0}, "@type": "@json"},
    }
    result = canonical(document, kept_order(CONTEXT))
    assert [item["@id"] for item in result["ex:order"]["@list"]] == ["ex:3", "ex:1"]
    assert result["seq"] == ["c", "a", "b"]
    assert json.dumps(result["data"]) == json.dumps({"z": [3, 1], "a": 0})
    assert json.dumps(result["ex:raw"]["@value"]) == json.dumps({"z": [3, 1], "a": 0})


def test_an_rdf_list_keeps_its_order_through_compaction(export_settings) -> None:
    graph = rdflib.Graph()
    head = rdflib.BNode()
    Collection(graph, head, [Literal("c"), Literal("a"), Literal("b")])
    graph.add((EX.thing, RDF.type, EX.Thing))
    graph.add((EX.thing, EX.steps, head))
    graph.add((EX.thing, URIRef("https://schema.org/sameAs"), EX.other))
    document = compact_document(graph, load_context(export_settings))
    assert list(document)[0] == "@context"
    reread = rdflib.Graph().parse(data=json.dumps(document), format="json-ld")
    assert isomorphic(reread, graph)
