"""Graph-shaped JSON-LD documents (the `jsonld` dump and the DCAT catalogue), self-contained and
in a stable order.

The context goes inline, not as its published URL: a dump must read with no network (rdflib,
pyoxigraph and `oxigraph load` would otherwise fetch it or fail, and `medkg validate` refuses a
remote context). rdflib's serialiser emits nodes, keys and values in an order that follows string
hashing, so it changes with each run's PYTHONHASHSEED; the document is therefore put in a
canonical order before it is written, so that two exports of the same store are equal byte for
byte. Nothing is reordered where JSON-LD gives order a meaning (`@list`, and `@json` values).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import rdflib

# keys whose values are data compared as written, and keys whose arrays are sequences
VERBATIM_KEYS = frozenset({"@value"})
SEQUENCE_KEYS = frozenset({"@list"})


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
