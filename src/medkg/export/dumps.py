"""Plain RDF dumps of the whole store.

`nq` and `trig` keep the named graphs. `nt`, `ttl`, `rdfxml` and `jsonld` cannot hold named graphs
(or, for JSON-LD, are read by most consumers as one graph), so they hold the triples of the union
of all graphs, each triple once, sorted: the provenance of which list said what is then lost, and
readers who need it should take `nq` or `trig`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from medkg.config import Settings
from medkg.export.context import load_context
from medkg.export.errors import ExportError
from medkg.export.jsonld import write_compacted
from medkg.export.progress import progress
from medkg.export.sorted_runs import SortedRuns, scratch_beside
from medkg.namespaces import (
    DCAT,
    DCTERMS,
    FOAF,
    OWL,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    XSD,
    Namespaces,
)

QUAD_FORMATS = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}
TRIPLE_FORMATS = {
    "nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE, "rdfxml": ox.RdfFormat.RDF_XML,
}  # fmt: skip


def prefixes(settings: Settings) -> dict[str, str]:
    """Prefixes that make Turtle and TriG dumps readable."""
    ns = Namespaces(settings.base)
    return {
        "mkg": ns.mkg, "dcat": DCAT, "dcterms": DCTERMS, "schema": SCHEMA, "prov": PROV,
        "skos": SKOS, "rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD, "foaf": FOAF,
    }  # fmt: skip


def union_triples(store: ox.Store, quiet: bool, scratch: Path) -> Iterator[ox.Triple]:
    """Every triple of every graph, once, in the order of their N-Triples text.

    The triples are sorted a run at a time into files under the folder `scratch`, then merged
    (sorted_runs.py): a set of every triple seen grew with the store, 10-20 GB for the
    33M quads of 1M synthetic datasets.
    """
    runs = SortedRuns(scratch)
    quads = progress(store, "triples", quiet, total=len(store))
    runs.add_all(quad.triple for quad in quads)
    yield from runs.merged()


# RDF/XML writes a predicate as an element named namespace + local name, and the local name must
# be an XML name: a predicate with no such ending (`.../123`, `.../p/`) cannot be written at all
XML_NAME_TAIL = re.compile(r"[^\W\d][\w.\-\u00b7]*$")


def xml_writable(triples: Iterable[ox.Triple]) -> Iterator[ox.Triple]:
    """`triples`, stopping with an ExportError at a predicate RDF/XML cannot write (pyoxigraph
    would write a file no XML parser reads)."""
    for triple in triples:
        predicate = triple.predicate.value
        if not XML_NAME_TAIL.search(predicate):
            raise ExportError(
                f"RDF/XML cannot write the predicate <{predicate}>: no XML name ends it; "
                "export as ttl or nt"
            )
        yield triple


def dump_quads(store: ox.Store, settings: Settings, fmt: str, out: Path) -> Path:
    """N-Quads or TriG of the store, named graphs kept."""
    wanted = prefixes(settings) if fmt == "trig" else None
    store.dump(str(out), format=QUAD_FORMATS[fmt], prefixes=wanted)
    return out


def dump_triples(store: ox.Store, settings: Settings, fmt: str, out: Path, quiet: bool) -> Path:
    """N-Triples, Turtle or RDF/XML of the union graph."""
    wants_prefixes = fmt != "nt"
    with scratch_beside(out, ".triples-") as scratch:
        triples = union_triples(store, quiet, scratch)
        ox.serialize(
            xml_writable(triples) if fmt == "rdfxml" else triples,
            str(out),
            format=TRIPLE_FORMATS[fmt],
            prefixes=prefixes(settings) if wants_prefixes else None,
        )
    return out


def dump_jsonld(store: ox.Store, settings: Settings, out: Path, quiet: bool) -> Path:
    """JSON-LD of the union graph, compacted with the published context, which it carries inline
    (readable offline) and in canonical order (the same bytes on every run), written a batch of
    subjects at a time (jsonld.py)."""
    with scratch_beside(out, ".triples-") as scratch:
        triples = union_triples(store, quiet, scratch)
        return write_compacted(triples, load_context(settings), out, scratch, quiet)
