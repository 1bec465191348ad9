"""What a resource page shows, read straight from the store's indexes instead of through SPARQL.

A dataset page needs a few dozen statements: the dataset's own, the labels of what it points to,
its size records, the list rows it came from and the ontology terms behind its concepts. Each is
an index look-up with a constant subject, which pyoxigraph answers in microseconds, while parsing
and planning a SPARQL query for each part costs far more than reading its answer. Every read
here starts from a known node and stops at a cap, so a page's work is bounded without the
killable query pool: a resource with more than `cap` statements shows its first `cap` of them.

Reading a quad costs a few microseconds (its terms are decoded from the store's dictionary), so
reads ask for exactly the predicates they need, and what every page repeats (the labels of
concepts and their ontology mappings) is remembered per store version.

Values come back in the shape of SPARQL JSON results (`{"type": "uri", "value": ...}`) so the
templates render them the same way as query answers. A dataset's parts (sizes, list rows,
ontology terms) come back as small records: a template reads their fields as attributes, which
Jinja looks up a third faster on slotted objects than on dicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

import pyoxigraph as ox

from medkg.namespaces import DCTERMS, PROV, RDF, RDFS, SKOS, XSD

Binding = dict[str, str]
XSD_STRING = f"{XSD}string"
LABELS = (ox.NamedNode(f"{SKOS}prefLabel"), ox.NamedNode(f"{RDFS}label"))
MATCHES = tuple(
    ox.NamedNode(f"{SKOS}{name}Match") for name in ("exact", "close", "broad", "narrow", "related")
)
DERIVED_FROM = f"{PROV}wasDerivedFrom"
REMEMBERED = 20_000  # labels and concept mappings kept per store version


class Statement(NamedTuple):
    """One statement about the page's resource, with its graph and a label for an IRI value.

    A named tuple: a page makes a few dozen, and a tuple is made in a third of the time of a
    frozen dataclass (5% of a dataset page's CPU).
    """

    property: str
    value: Binding
    graph: str
    label: str | None
    # the store's own terms, for reads that continue from this statement
    node: ox.Term
    graph_node: ox.NamedNode


@dataclass(frozen=True)
class DatasetTerms:
    """The properties a dataset page follows from the dataset's statements."""

    count: str
    unit: str
    in_list: str
    line: str
    section: str
    raw_text: str
    tags: tuple[str, ...]
    split: str = ""  # mkg:split of a count: the part of the data it counts


@dataclass(frozen=True, slots=True)
class Size:
    """One size a list gives for a dataset: number, unit, the text read, the split it counts."""

    value: str
    unit: str
    text: str | None
    split: str | None  # None: the whole dataset
    graph: str  # the list's graph


@dataclass(frozen=True, slots=True)
class Entry:
    """One list row a dataset was read from."""

    entry: str
    list: str
    list_title: str | None
    line: str
    section: str | None
    raw: str | None


@dataclass(frozen=True, slots=True)
class Mapping:
    """An external ontology term mapped from one of a dataset's concepts."""

    concept: str
    concept_label: str | None
    relation: str
    term: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """A resource that points to the page's resource, by which property, with its label."""

    iri: str
    property: str
    label: str | None


class ResourceReader:
    """Page reads over one store version (labels and concept mappings remembered)."""

    def __init__(self, db: ox.Store, cap: int) -> None:
        self.db = db
        self.cap = cap
        self.label = lru_cache(maxsize=REMEMBERED)(self._label)
        self._mappings = lru_cache(maxsize=REMEMBERED)(self._concept_mappings)

    def statements(self, iri: str) -> list[Statement]:
        """The resource's statements in named graphs (at most `cap`), by property, then graph."""
        found = [
            Statement(quad.predicate.value, binding(quad.object), quad.graph_name.value,
                      self.label(quad.object) if isinstance(quad.object, ox.NamedNode) else None,
                      quad.object, quad.graph_name)
            for quad in self._named(ox.NamedNode(iri), None)
        ]
        found.sort(key=lambda s: (s.property, s.graph))
        return found

    def description(self, iri: str, cap: int) -> tuple[list[ox.Triple], bool]:
        """The triples of a resource's RDF page, at most `cap` of them, and whether there are more.

        The same triples as queries/resource-describe.rq (a test compares them): the resource's
        statements in every graph, then those of the blank nodes and of the IRIs under its own
        path that it points to (a dataset's size records, its list rows), each triple once.
        """
        node = ox.NamedNode(iri)
        under = iri + "/"
        found: dict[ox.Triple, None] = {}
        parts: dict[ox.Term, None] = {}
        for quad in self.db.quads_for_pattern(node, None, None, None):
            target = quad.object
            if isinstance(target, ox.BlankNode) or (
                isinstance(target, ox.NamedNode) and target.value.startswith(under)
            ):
                parts[target] = None
            if _add(found, quad, cap):
                return list(found)[:cap], True
        for part in parts:
            for quad in self.db.quads_for_pattern(part, None, None, None):
                if _add(found, quad, cap):
                    return list(found)[:cap], True
        return list(found), False

    def inbound(self, iri: str, cap: int) -> tuple[list[Inbound], bool]:
        """Up to `cap` resources that point to `iri` (each with its property), by property and
        label, and whether more point to it.

        An organ or a modality is pointed to by every dataset that has it: a hundred thousand
        at a million datasets. The first `cap` pairs in the store's own index order are read,
        not all of them sorted (which took the query pool 3-10 s per page at a million).
        """
        found: dict[tuple[ox.NamedNode | ox.BlankNode, str], None] = {}
        more = False
        for quad in self.db.quads_for_pattern(None, None, ox.NamedNode(iri), None):
            key = (quad.subject, quad.predicate.value)
            if key in found:
                continue  # the same statement in another list's graph
            if len(found) == cap:
                more = True
                break
            found[key] = None
        rows = [
            Inbound(subject.value, prop,
                    self.title(subject.value) if isinstance(subject, ox.NamedNode) else None)
            for subject, prop in found
        ]
        rows.sort(key=lambda r: (r.property, (r.label or "").lower(), r.iri))
        return rows, more

    def counts(self, statements: list[Statement], props: DatasetTerms) -> list[Size]:
        """The sizes each list gives for a dataset (from its statements)."""
        rows = []
        for link in statements:
            if link.property != props.count:
                continue
            node, graph = link.node, link.graph_node
            number = self._first(node, f"{RDF}value", graph)
            unit = self._first(node, props.unit, graph)
            if number is None or unit is None:
                continue  # a size record without a number and unit is not a size
            text = self._first(node, f"{RDFS}label", graph)
            split = self._first(node, props.split, graph) if props.split else None
            rows.append(Size(number, unit, text, split, graph.value))
        rows.sort(key=lambda r: (r.graph, r.unit))
        return rows

    def entries(self, statements: list[Statement], props: DatasetTerms) -> list[Entry]:
        """The list rows a dataset was read from (its prov:wasDerivedFrom statements)."""
        rows = []
        for link in statements:
            if link.property != DERIVED_FROM:
                continue
            entry, graph = link.node, link.graph_node
            source = self._first(entry, props.in_list, graph)
            line = self._first(entry, props.line, graph)
            if source is None or line is None:
                continue  # not a list row medkg wrote
            rows.append(Entry(
                entry.value,
                source,
                self._first(ox.NamedNode(source), f"{DCTERMS}title"),
                line,
                self._first(entry, props.section, graph),
                self._first(entry, props.raw_text, graph),
            ))
        rows.sort(key=lambda r: (r.list, _number(r.line)))
        return rows

    def terms(self, statements: list[Statement], props: DatasetTerms) -> list[Mapping]:
        """External ontology terms mapped (skos:*Match) from the concepts of a dataset's tags."""
        concepts = {
            s.value["value"]
            for s in statements
            if s.property in props.tags and isinstance(s.node, ox.NamedNode)
        }
        rows = {row for concept in concepts for row in self._mappings(concept)}
        ordered = sorted(rows, key=lambda r: (r[1] or "", r[2], r[3]))
        return [Mapping(*row) for row in ordered]

    def has_subject_with(self, prop: str, iri: str) -> bool:
        """True when some statement `?s prop iri` is in the store."""
        pattern = (None, ox.NamedNode(prop), ox.NamedNode(iri), None)
        return next(self.db.quads_for_pattern(*pattern), None) is not None

    def title(self, iri: str) -> str | None:
        """An IRI's dcterms:title, else its skos:prefLabel or rdfs:label, from any graph."""
        node = ox.NamedNode(iri)
        return self._first(node, f"{DCTERMS}title") or self.label(node)

    def _label(self, term: ox.NamedNode) -> str | None:
        """An IRI's skos:prefLabel, else its rdfs:label, from any graph."""
        for prop in LABELS:
            for quad in self.db.quads_for_pattern(term, prop, None, None):
                return str(quad.object.value)
        return None

    def _concept_mappings(self, concept: str) -> tuple[tuple[str, str | None, str, str], ...]:
        node = ox.NamedNode(concept)
        name = self._first(node, LABELS[0].value)
        return tuple(
            (concept, name, relation.value, quad.object.value)
            for relation in MATCHES
            for quad in islice(self.db.quads_for_pattern(node, relation, None, None), self.cap)
        )

    def _named(self, subject: ox.NamedNode, prop: str | None) -> Iterator[ox.Quad]:
        """Up to `cap` quads of `subject` (and `prop`) in named graphs, not the default graph."""
        predicate = ox.NamedNode(prop) if prop else None
        quads = self.db.quads_for_pattern(subject, predicate, None, None)
        return islice((q for q in quads if not isinstance(q.graph_name, ox.DefaultGraph)), self.cap)

    def _first(self, subject: ox.Term, prop: str,
               graph: ox.NamedNode | ox.BlankNode | ox.DefaultGraph | None = None) -> str | None:
        """The lexical value of the first `subject prop ?v` (in `graph`, or in any graph)."""
        if isinstance(subject, ox.Literal):
            return None
        for quad in self.db.quads_for_pattern(subject, ox.NamedNode(prop), None, graph):
            return str(quad.object.value)
        return None


def binding(term: ox.Term) -> Binding:
    """A term as a SPARQL JSON results value."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
            if term.direction is not None:
                # a base direction (RDF 1.2 "ar"@ar--rtl), written as the engine writes it
                out["its:dir"] = str(term.direction)
        elif term.datatype.value != XSD_STRING:  # simple literals carry no datatype in results
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": str(term)}


def _number(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _add(found: dict[ox.Triple, None], quad: ox.Quad, cap: int) -> bool:
    """Add the quad's triple (once); True when that takes `found` past `cap`."""
    # quad.triple, not ox.Triple(...): building a triple with a literal or blank node from
    # Python costs ten times as much and lets other threads take the interpreter mid-page
    found.setdefault(quad.triple)
    return len(found) > cap
