"""The catalogue as DCAT 3, shaped for DCAT-AP 3 harvesters (Turtle, or JSON-LD for `.jsonld`).

What DCAT-AP makes mandatory is always present: the catalogue's title, description and publisher
(an agent with foaf:name); each dataset's title and description; a dcat:CatalogRecord per dataset
with foaf:primaryTopic and dct:modified; dct:title on each theme scheme. medkg lists datasets it
does not host, so each landing page becomes a dcat:Distribution whose dcat:accessURL is that page
(no dcat:downloadURL: the lists give no direct files). A record's dct:modified is the latest date
on which one of the lists that mention the dataset was received, and prov:wasDerivedFrom names those
lists. Not dct:source: DCAT-AP reserves it for one catalogue record the record was copied from, and
a list is not one; nor are the lists dcat:Catalogs, which DCAT-AP would want a publisher for.
Minted IRIs: `<dataset>/record` and `<dataset>/distribution/<n>`.

DCAT-AP's SHACL shapes check the class of what some properties point at, so the export states it:
landing pages are foaf:Documents, the licence a dct:LicenseDocument, and `dcat:Dataset
rdfs:subClassOf dcat:Resource` (a statement of DCAT itself) makes each record's primary topic a
dcat:Resource without typing datasets with that abstract class.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef

from medkg.config import Settings
from medkg.export.context import load_context
from medkg.export.jsonld import write_compacted
from medkg.export.progress import progress
from medkg.export.records import Catalogue, DatasetRecord
from medkg.export.schemaorg import describe
from medkg.export.sorted_runs import SortedRuns, scratch_beside
from medkg.export.terms import to_rdflib_triple
from medkg.namespaces import DCAT, DCTERMS, FOAF, PROV, SKOS, Namespaces

DCAT_NS = Namespace(DCAT)
DCT = Namespace(DCTERMS)
FOAF_NS = Namespace(FOAF)
SKOS_NS = Namespace(SKOS)
PROV_NS = Namespace(PROV)
DATASETS_PER_PART = 2000  # datasets made and sorted at a time in memory


def _vocabulary_part(store: ox.Store, ns: Namespaces, schemes: list[str]) -> Graph:
    """Theme schemes and their concepts (labels, scheme, external matches) from the vocabulary
    graph."""
    graph = Graph()
    values = " ".join(f"<{s}>" for s in schemes)
    query = f"""CONSTRUCT {{
          ?scheme a <{SKOS}ConceptScheme> ; <{DCTERMS}title> ?title ; <{SKOS}prefLabel> ?slabel .
          ?c a <{SKOS}Concept> ; <{SKOS}prefLabel> ?label ; <{SKOS}inScheme> ?scheme ; ?match ?ext .
        }} WHERE {{ GRAPH <{ns.graph('vocabulary')}> {{
          VALUES ?scheme {{ {values} }}
          OPTIONAL {{ ?scheme <{DCTERMS}title> ?title }}
          OPTIONAL {{ ?scheme <{SKOS}prefLabel> ?slabel }}
          OPTIONAL {{ ?c <{SKOS}inScheme> ?scheme ; <{SKOS}prefLabel> ?label .
            OPTIONAL {{ ?c ?match ?ext
                        FILTER(?match IN (<{SKOS}exactMatch>, <{SKOS}closeMatch>)) }} }}
        }} }}"""
    for triple in store.query(query):  # type: ignore[union-attr]
        graph.add(to_rdflib_triple(triple))
    for scheme in schemes:
        if (URIRef(scheme), DCT.title, None) not in graph:
            # DCAT-AP requires a title; the scheme's local name is the best fact at hand
            graph.add((URIRef(scheme), DCT.title, Literal(scheme.rstrip("/").rsplit("/", 1)[-1])))
    return graph


def _catalogue_node(graph: Graph, catalogue: Catalogue) -> URIRef:
    node = URIRef(catalogue.iri)
    graph.add((node, RDF.type, DCAT_NS.Catalog))
    graph.add((node, DCT.title, Literal(catalogue.title or "medkg", lang="en")))
    description = catalogue.description or (
        f"{len(catalogue.datasets)} public medical imaging datasets gathered from "
        f"{len(catalogue.sources)} community lists."
    )
    graph.add((node, DCT.description, Literal(description, lang="en")))
    publisher = URIRef(catalogue.publisher or catalogue.iri.rsplit("catalogue", 1)[0])
    graph.add((node, DCT.publisher, publisher))
    graph.add((publisher, RDF.type, FOAF_NS.Agent))
    graph.add((publisher, FOAF_NS.name, Literal(catalogue.publisher_name or "medkg")))
    if catalogue.license:
        is_iri = catalogue.license.startswith("http")
        license_ = URIRef(catalogue.license) if is_iri else Literal(catalogue.license)
        graph.add((node, DCT.license, license_))
        if is_iri:
            graph.add((license_, RDF.type, DCT.LicenseDocument))
    for scheme in catalogue.theme_taxonomies:
        graph.add((node, DCAT_NS.themeTaxonomy, URIRef(scheme)))
    for source in catalogue.sources:
        graph.add((URIRef(source.iri), RDF.type, PROV_NS.Entity))
        graph.add((URIRef(source.iri), DCT.title, Literal(source.title)))
    graph.add((DCAT_NS.Dataset, RDFS.subClassOf, DCAT_NS.Resource))
    return node


def _dataset_node(
    graph: Graph, catalogue_node: URIRef, record: DatasetRecord, received: dict[str, str]
) -> None:
    node = URIRef(record.iri)
    graph.add((catalogue_node, DCAT_NS.dataset, node))
    graph.add((node, RDF.type, DCAT_NS.Dataset))
    graph.add((node, DCT.title, Literal(record.title)))
    graph.add((node, DCT.description, Literal(describe(record), lang="en")))
    graph.add((node, DCT.identifier, Literal(record.iri)))
    for concept in (*record.organs, *record.modalities, *record.stains, *record.tasks):
        graph.add((node, DCAT_NS.theme, URIRef(concept.iri)))
        graph.add((node, DCAT_NS.keyword, Literal(concept.label, lang="en")))
    earliest = record.earliest_issued
    if earliest is not None:
        graph.add((node, DCT.issued, Literal(earliest.value, datatype=URIRef(earliest.datatype))))
    for paper in record.papers:
        graph.add((node, DCT.isReferencedBy, URIRef(paper)))
    for number, page in enumerate(record.landing_pages, start=1):
        graph.add((node, DCAT_NS.landingPage, URIRef(page)))
        graph.add((URIRef(page), RDF.type, FOAF_NS.Document))
        distribution = URIRef(f"{record.iri}/distribution/{number}")
        graph.add((node, DCAT_NS.distribution, distribution))
        graph.add((distribution, RDF.type, DCAT_NS.Distribution))
        graph.add((distribution, DCAT_NS.accessURL, URIRef(page)))
        graph.add((distribution, DCT.description, Literal(
            "Access through the dataset's landing page; the source lists give no direct download.",
            lang="en")))  # fmt: skip
    record_node = URIRef(f"{record.iri}/record")
    graph.add((catalogue_node, DCAT_NS.record, record_node))
    graph.add((record_node, RDF.type, DCAT_NS.CatalogRecord))
    graph.add((record_node, FOAF_NS.primaryTopic, node))
    dates = [received[s.iri] for s in record.sources if s.iri in received]
    if dates:
        graph.add((record_node, DCT.modified, Literal(max(dates), datatype=XSD.date)))
    for source in record.sources:
        graph.add((record_node, PROV_NS.wasDerivedFrom, URIRef(source.iri)))


def _received_dates(store: ox.Store, ns: Namespaces) -> dict[str, str]:
    """Source list IRI -> the date its copy was received (dcterms:issued or
    prov:generatedAtTime)."""
    query = f"""SELECT ?s ?date WHERE {{ GRAPH <{ns.graph('catalogue')}> {{
          ?s a <{ns.term('SourceList')}> .
          {{ ?s <{DCTERMS}issued> ?date }}
          UNION {{ ?s <http://www.w3.org/ns/prov#generatedAtTime> ?date }} }} }}"""
    return {r["s"].value: r["date"].value[:10] for r in store.query(query)}  # type: ignore[union-attr]


def dcat_graph(store: ox.Store, ns: Namespaces, catalogue: Catalogue, quiet: bool) -> Graph:
    """The whole catalogue as one DCAT graph."""
    parts = dcat_parts(store, ns, catalogue, quiet)
    graph = next(parts)
    for part in parts:
        graph += part
    return graph


def dcat_parts(
    store: ox.Store, ns: Namespaces, catalogue: Catalogue, quiet: bool,
    datasets_per_part: int | None = None,
) -> Iterator[Graph]:
    """The DCAT catalogue as graphs, made one after another: the catalogue node with its theme
    schemes (carrying the prefixes), then the datasets, `datasets_per_part` to a graph
    (DATASETS_PER_PART unless given)."""
    datasets_per_part = datasets_per_part or DATASETS_PER_PART
    head = _vocabulary_part(store, ns, catalogue.theme_taxonomies)
    node = _catalogue_node(head, catalogue)
    prefixes = (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("prov", PROV), ("skos", SKOS))
    for prefix, namespace in prefixes:
        head.bind(prefix, namespace)
    yield head
    received = _received_dates(store, ns)
    part = Graph()
    for number, record in enumerate(progress(catalogue.datasets, "dcat", quiet), start=1):
        _dataset_node(part, node, record, received)
        if number % datasets_per_part == 0:
            yield part
            part = Graph()
    if len(part):
        yield part


def write_dcat(
    store: ox.Store, ns: Namespaces, catalogue: Catalogue, settings: Settings, out: Path,
    quiet: bool,
) -> Path:
    """Turtle, or JSON-LD when `out` ends in .jsonld: compacted with the published context, which
    it carries inline, in canonical order (see jsonld.py)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    parts = dcat_parts(store, ns, catalogue, quiet)
    if out.suffix != ".jsonld":
        write_turtle(parts, out)
        return out
    with scratch_beside(out, ".dcat-parts-") as scratch:
        runs, _ = _sorted_parts(parts, scratch)
        return write_compacted(runs.merged(), load_context(settings), out, scratch)


def write_turtle(parts: Iterable[Graph], out: Path) -> None:
    """Turtle of the union of `parts` in sorted triple order, with the first part's prefixes
    that its IRIs use.

    Written by pyoxigraph: rdflib's Turtle writer looks each IRI's namespace up in a table that
    grows with every dataset (`<dataset>/record`, `<dataset>/distribution/1`), so its time grew
    with the square of the catalogue (19 s at 1,000 datasets, 7 minutes at 10,000).
    """
    with scratch_beside(out, ".dcat-parts-") as scratch:
        runs, prefixes = _sorted_parts(parts, scratch)
        ox.serialize(runs.merged(), str(out), format=ox.RdfFormat.TURTLE, prefixes=prefixes)


def _sorted_parts(parts: Iterable[Graph], scratch: Path) -> tuple[SortedRuns, dict[str, str]]:
    """The union of `parts` as sorted runs in `scratch`, and the first part's prefixes that an
    IRI of any part uses.

    Each part is sorted on its own and the parts are merged as they are written
    (sorted_runs.py): the whole graph held 5.2 GB at 100,000 datasets.
    """
    runs = SortedRuns(scratch)
    prefixes = _UsedPrefixes()
    for part in parts:
        triples = list(ox.parse(part.serialize(format="nt", encoding="utf-8"),
                                format=ox.RdfFormat.N_TRIPLES))
        prefixes.note(part, triples)
        runs.add(triples)
    return runs, prefixes.used()


class _UsedPrefixes:
    """The first graph's prefixes that an IRI (or a literal's datatype) of any part begins."""

    def __init__(self) -> None:
        self.unused: dict[str, str] | None = None
        self.found: dict[str, str] = {}

    def note(self, graph: Graph, triples: list[ox.Triple]) -> None:
        if self.unused is None:
            self.unused = {p: str(n) for p, n in graph.namespaces() if p}
        iris = {t.value for triple in triples for t in triple if isinstance(t, ox.NamedNode)}
        iris |= {triple.object.datatype.value for triple in triples
                 if isinstance(triple.object, ox.Literal)}
        for prefix, namespace in list(self.unused.items()):
            if any(iri.startswith(namespace) for iri in iris):
                self.found[prefix] = self.unused.pop(prefix)

    def used(self) -> dict[str, str]:
        return dict(sorted(self.found.items()))
