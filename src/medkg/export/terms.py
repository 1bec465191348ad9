"""Convert pyoxigraph terms to rdflib terms, for the exporters that serialise with rdflib."""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import XSD, BNode, Literal, URIRef
from rdflib.term import Node


def to_rdflib(term: object) -> Node:
    """One pyoxigraph term as the equal rdflib term."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        if term.datatype.value == str(XSD.string):
            return Literal(term.value)  # rdflib keeps plain and xsd:string literals apart
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise TypeError(f"unexpected RDF term {term!r}")


def to_rdflib_triple(triple: ox.Triple) -> tuple[Node, Node, Node]:
    return (to_rdflib(triple.subject), to_rdflib(triple.predicate), to_rdflib(triple.object))
