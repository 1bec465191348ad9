"""Graph-shaped JSON-LD documents (the `jsonld` dump and the DCAT catalogue), self-contained and
in a stable order.

The context goes inline, not as its published URL: a dump must read with no network (rdflib,
pyoxigraph and `oxigraph load` would otherwise fetch it or fail, and `medkg validate` refuses a
remote context). rdflib's serialiser emits nodes, keys and values in an order that follows string
hashing, so it changes with each run's PYTHONHASHSEED; the document is therefore put in a
canonical order before it is written, so that two exports of the same store are equal byte for
byte. Nothing is reordered where JSON-LD gives order a meaning (`@list`, and `@json` values).

A large graph is written by `write_compacted` a batch of subjects at a time, with the same
bytes as `compact_document` makes of the whole graph: rdflib's compaction of the 33M quads of
1M synthetic datasets would hold tens of gigabytes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib

from medkg.export.context import write_json
from medkg.export.progress import progress
from medkg.export.sorted_runs import SortedLines
from medkg.export.terms import to_rdflib_triple

# keys whose values are data compared as written, and keys whose arrays are sequences
VERBATIM_KEYS = frozenset({"@value"})
SEQUENCE_KEYS = frozenset({"@list"})
SUBJECTS_PER_BATCH = 2_000  # subjects compacted at a time by write_compacted
# a subject with more triples is compacted a chunk at a time (the DCAT catalogue node has two
# per dataset: 2M at a million datasets, 4.7 GB as one rdflib graph and its compaction)
TRIPLES_PER_CHUNK = 20_000
NODES_PER_RUN = 50_000  # compacted nodes sorted at a time in memory
NODES_MARK = "@medkg:nodes"  # where the nodes go in the document's frame


@dataclass(frozen=True)
class KeptOrder:
    """The keys under which `canonical` must not reorder anything, or only not the array itself."""

    verbatim: frozenset[str]
    sequence: frozenset[str]


def compact_document(graph: rdflib.Graph, context: dict[str, Any]) -> dict[str, Any]:
    """`graph` compacted with `context`, the context inline, everything else in canonical order."""
    compacted = json.loads(graph.serialize(format="json-ld", context=context, auto_compact=True))
    if not isinstance(compacted, dict):
        compacted = {"@graph": compacted}
    compacted.pop("@context", None)
    body = canonical(compacted, kept_order(context))
    # the context first and as written in ontology/context.jsonld: a reader meets the terms
    # before their use, and the file's own order groups them by vocabulary
    return {"@context": context, **body}


def kept_order(context: dict[str, Any]) -> KeptOrder:
    """The keywords with ordered values plus the context's terms declared as JSON literals
    (kept verbatim) or as lists (kept in sequence)."""
    verbatim, sequence = set(VERBATIM_KEYS), set(SEQUENCE_KEYS)
    for term, definition in context.items():
        if not isinstance(definition, dict):
            continue
        if definition.get("@type") == "@json":
            verbatim.add(term)
        elif definition.get("@container") == "@list":
            sequence.add(term)
    return KeptOrder(frozenset(verbatim), frozenset(sequence))


def canonical(value: Any, kept: KeptOrder, in_sequence: bool = False) -> Any:
    """`value` with object keys sorted and arrays sorted by their items' canonical JSON text.

    JSON-LD arrays are unordered sets, except the value of a list (kept in order, its items
    still made canonical) and a JSON literal (kept exactly as it is).
    """
    if isinstance(value, dict):
        return {key: _member(key, value[key], kept) for key in sorted(value)}
    if isinstance(value, list):
        items = [canonical(item, kept) for item in value]
        return items if in_sequence else sorted(items, key=_sort_key)
    return value


def _member(key: str, value: Any, kept: KeptOrder) -> Any:
    if key in kept.verbatim:
        return value
    return canonical(value, kept, in_sequence=key in kept.sequence)


def _sort_key(item: Any) -> str:
    # node objects start with "@id" once their keys are sorted, so nodes come out by IRI
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def write_compacted(
    triples: Iterable[ox.Triple], context: dict[str, Any], out: Path, scratch: Path,
    quiet: bool = True,
) -> Path:
    """Write as `out` the document `compact_document` makes of `triples`, holding a batch of
    subjects at a time.

    `triples` come sorted in N-Triples order, each once (sorted_runs.py), so each subject's
    triples are together. Each batch of subjects is compacted on its own, and the nodes, one
    line each, are sorted into the document's order in the folder `scratch`. A subject with a
    blank-node object waits for the end, to be compacted with every blank node's triples
    (there are few): rdflib writes a blank node as its own node, or as the `@list` it heads,
    only when it sees the triples that use it. A bar counts the nodes unless `quiet`.
    """
    kept = kept_order(context)
    nodes = SortedLines(scratch, stem="nodes")
    compacted = progress(_compacted_nodes(triples, context), "JSON-LD nodes", quiet)
    lines = (_node_line(node, kept) for node in compacted)
    nodes.add_all(lines, NODES_PER_RUN)
    merged = nodes.merged()
    first_two = list(itertools.islice(merged, 2))
    if len(first_two) < 2:  # no `@graph` then: the one node is the document's body
        body = [_node_of(line) for line in first_two]
        return write_json({"@context": context, **(body[0] if body else {"@graph": []})}, out)
    frame = json.dumps({"@context": context, "@graph": [NODES_MARK]}, indent=2,
                       ensure_ascii=False)
    head, tail = frame.split(json.dumps(NODES_MARK))
    indent = head[head.rindex("\n"):]  # a node's own lines sit at its depth in the frame
    with out.open("w", encoding="utf-8") as handle:
        handle.write(head)
        for number, line in enumerate(itertools.chain(first_two, merged)):
            if number:
                handle.write("," + indent)
            handle.write(json.dumps(_node_of(line), indent=2, ensure_ascii=False)
                         .replace("\n", indent))
        handle.write(tail + "\n")
    return out


def _compacted_nodes(triples: Iterable[ox.Triple], context: dict[str, Any]) -> Iterator[Any]:
    """The compacted node objects of `triples`, a batch of subjects at a time."""
    waiting = rdflib.Graph()  # blank nodes' triples and their users'
    by_subject = (list(group) for _, group in
                  itertools.groupby(triples, key=lambda triple: triple.subject))
    while batch := list(itertools.islice(by_subject, SUBJECTS_PER_BATCH)):
        graph = rdflib.Graph()
        for same_subject in batch:
            blank = any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode)
                        for t in same_subject)
            if not blank and len(same_subject) > TRIPLES_PER_CHUNK:
                yield _large_node(same_subject, context)
                continue
            target = waiting if blank else graph
            for triple in same_subject:
                target.add(to_rdflib_triple(triple))
        yield from _nodes(graph, context)
    yield from _nodes(waiting, context)


def _large_node(triples: list[ox.Triple], context: dict[str, Any]) -> Any:
    """The node of one subject's many triples, compacted TRIPLES_PER_CHUNK at a time and merged.

    Merged, each key has the values of every chunk, as a list when a chunk gave a list or
    there is more than one value: the node compaction makes of all the triples at once. A key
    whose value is not a set of values (a list, a language map, a JSON literal) makes the
    subject compacted whole.
    """
    chunks = [triples[start:start + TRIPLES_PER_CHUNK]
              for start in range(0, len(triples), TRIPLES_PER_CHUNK)]
    parts = [node for chunk in chunks for node in _nodes(_graph(chunk), context)]
    special = {term for term, definition in context.items() if isinstance(definition, dict)
               and ("@container" in definition or definition.get("@type") == "@json")}
    if any(key in special for part in parts for key in part):
        return _nodes(_graph(triples), context)[0]
    values: dict[str, list[Any]] = {}
    listed: set[str] = set()
    for part in parts:
        for key, value in part.items():
            if key == "@id":  # the same in every part
                values[key] = [value]
            elif isinstance(value, list):
                listed.add(key)
                values.setdefault(key, []).extend(value)
            else:
                values.setdefault(key, []).append(value)
    return {key: found if key in listed or len(found) > 1 else found[0]
            for key, found in values.items()}


def _graph(triples: Iterable[ox.Triple]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for triple in triples:
        graph.add(to_rdflib_triple(triple))
    return graph


def _nodes(graph: rdflib.Graph, context: dict[str, Any]) -> list[Any]:
    if not len(graph):
        return []
    compacted = json.loads(graph.serialize(format="json-ld", context=context, auto_compact=True))
    if isinstance(compacted, list):
        return compacted
    compacted.pop("@context", None)
    return compacted.pop("@graph") if "@graph" in compacted else [compacted]


def _node_line(node: Any, kept: KeptOrder) -> str:
    """One line that sorts as `canonical` orders the node among others: its sort key, then,
    when it differs (a JSON literal's keys), the node as written after a tab."""
    node = canonical(node, kept)
    key = _sort_key(node)
    written = json.dumps(node, ensure_ascii=False)
    return f"{key}\n" if written == key else f"{key}\t{written}\n"


def _node_of(line: str) -> Any:
    key, _, written = line.rstrip("\n").partition("\t")
    return json.loads(written or key)
