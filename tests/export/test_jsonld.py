"""The canonical order of graph-shaped JSON-LD: sets sorted, lists and JSON literals untouched;
written a batch of subjects at a time, the same bytes as the whole graph compacted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import RDF, XSD, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic

from medkg.export import jsonld, sorted_runs
from medkg.export.context import load_context, write_json
from medkg.export.jsonld import canonical, compact_document, kept_order, write_compacted

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


def _sorted_triples(graph: rdflib.Graph, folder: Path) -> Iterator[ox.Triple]:
    """`graph`'s triples as the exports hand them to write_compacted: sorted, each once."""
    runs = sorted_runs.SortedRuns(folder)
    runs.add_all(ox.parse(graph.serialize(format="nt", encoding="utf-8"),
                          format=ox.RdfFormat.N_TRIPLES))
    return runs.merged()


def _whole_and_batched(graph: rdflib.Graph, context: dict, folder: Path) -> tuple[bytes, bytes]:
    whole = write_json(compact_document(graph, context), folder / "whole.jsonld").read_bytes()
    scratch = folder / "scratch"
    scratch.mkdir()
    batched = write_compacted(_sorted_triples(graph, scratch), context, folder / "batched.jsonld",
                              scratch)
    return whole, batched.read_bytes()


def _awkward_graph() -> rdflib.Graph:
    """Subjects of every kind of value, blank nodes shared, heading lists or used by no one."""
    graph = rdflib.Graph()
    for number in range(7):
        node = EX[f"s{number}"]
        graph.add((node, RDF.type, EX.Thing))
        graph.add((node, EX.label, Literal(f"thing {number}", lang="en")))
        graph.add((node, EX["count"], Literal(number)))
        graph.add((node, EX.next, EX[f"s{number + 1}"]))
    graph.add((EX.s1, EX.flag, Literal(True)))
    graph.add((EX.s2, EX.weight, Literal(2.5)))
    graph.add((EX.s3, EX.when, Literal("2024-05-01", datatype=XSD.date)))
    graph.add((EX.s4, EX.data, Literal('{"z": [3, 1], "a": 0}', datatype=RDF.JSON)))
    steps = rdflib.BNode("steps")
    Collection(graph, steps, [Literal("c"), Literal("a"), rdflib.BNode("item")])
    graph.add((rdflib.BNode("item"), EX.label, Literal("a blank item")))
    graph.add((EX.s5, EX.seq, steps))
    shared = rdflib.BNode("shared")
    graph.add((EX.s0, EX.part, shared))
    graph.add((EX.s6, EX.part, shared))
    graph.add((shared, EX.label, Literal("shared by s0 and s6")))
    graph.add((rdflib.BNode("lonely"), EX.label, Literal("used by no one")))
    return graph


@pytest.mark.parametrize("batch, run", [(1, 1), (2, 3), (1_000, 50_000)])
def test_written_in_batches_it_is_the_whole_graph_compacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int, run: int
) -> None:
    monkeypatch.setattr(jsonld, "SUBJECTS_PER_BATCH", batch)
    monkeypatch.setattr(jsonld, "NODES_PER_RUN", run)
    monkeypatch.setattr(sorted_runs, "OPEN_RUNS", 2)  # and the node runs merged as they come
    graph = _awkward_graph()
    whole, batched = _whole_and_batched(graph, CONTEXT, tmp_path)
    assert batched == whole
    document = json.loads(batched)
    assert len(document["@graph"]) == 7 + 3  # s0-s6 (s7 is only an object), item, shared, lonely
    assert isomorphic(rdflib.Graph().parse(data=batched, format="json-ld"), graph)


@pytest.mark.parametrize("subjects", [0, 1])
def test_a_graph_of_one_node_or_none_is_written_as_compaction_writes_it(
    tmp_path: Path, subjects: int
) -> None:
    graph = rdflib.Graph()
    for number in range(subjects):
        graph.add((EX[f"s{number}"], EX.label, Literal("only")))
    whole, batched = _whole_and_batched(graph, CONTEXT, tmp_path)
    assert batched == whole
    assert ("@graph" in json.loads(batched)) == (subjects == 0)


def _hub(with_json_literal: bool) -> rdflib.Graph:
    """One subject with many triples (as the DCAT catalogue node has), and a few others."""
    graph = rdflib.Graph()
    graph.add((EX.hub, RDF.type, EX.Catalogue))
    graph.add((EX.hub, RDF.type, EX.Collection))
    graph.add((EX.hub, EX.title, Literal("the hub", lang="en")))
    for number in range(12):
        graph.add((EX.hub, EX.member, EX[f"m{number:02}"]))
        graph.add((EX[f"m{number:02}"], EX.label, Literal(f"member {number}")))
    graph.add((EX.hub, EX["count"], Literal(12)))
    graph.add((EX.hub, EX.note, Literal("first", lang="en")))
    graph.add((EX.hub, EX.note, Literal("second", lang="fr")))
    if with_json_literal:
        graph.add((EX.hub, EX.data, Literal('{"z": [3, 1], "a": 0}', datatype=RDF.JSON)))
    return graph


# `note` a language map: {"en": ..., "fr": ...}, one object of the values of every chunk
HUB_CONTEXT = {**CONTEXT, "note": {"@id": "ex:note", "@container": "@language"}}


@pytest.mark.parametrize("chunk", [1, 3, 1_000])
@pytest.mark.parametrize("with_json_literal", [False, True])
@pytest.mark.parametrize("context", [CONTEXT, HUB_CONTEXT], ids=["sets", "language-map"])
def test_a_subject_of_many_triples_compacted_in_chunks_is_the_same_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, with_json_literal: bool,
    context: dict,
) -> None:
    monkeypatch.setattr(jsonld, "TRIPLES_PER_CHUNK", chunk)
    merged = jsonld._large_node
    calls: list[int] = []

    def counted(triples: list[ox.Triple], context: dict) -> object:
        calls.append(len(triples))
        return merged(triples, context)

    monkeypatch.setattr(jsonld, "_large_node", counted)
    whole, batched = _whole_and_batched(_hub(with_json_literal), context, tmp_path)
    assert batched == whole
    assert calls == ([] if chunk == 1_000 else [18 + with_json_literal])  # only the hub
    hub = next(n for n in json.loads(batched)["@graph"] if n["@id"] == "ex:hub")
    assert len(hub["ex:member"]) == 12 and hub["ex:count"] == 12
