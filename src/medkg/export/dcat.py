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
import rdflib

from medkg.config import Settings
from medkg.export.context import load_context
from medkg.export.jsonld import write_compacted
from medkg.export.progress import progress
from medkg.export.records import Catalogue, DatasetRecord
from medkg.export.schemaorg import describe
from medkg.export.sorted_runs import SortedRuns, scratch_beside
from medkg.export.terms import to_rdflib_triple
from medkg.namespaces import DCAT, DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD, Namespaces

DATASETS_PER_PART = 2000  # datasets made and sorted at a time in memory
# the Turtle's prefixes, those of them its IRIs use
TURTLE_PREFIXES = (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("prov", PROV), ("skos", SKOS))
Part = list[ox.Triple]


class _Terms:
    """IRIs of one namespace as pyoxigraph terms (`DCAT_.Dataset`), each made once."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace

    def __getattr__(self, local: str) -> ox.NamedNode:
        term = ox.NamedNode(self._namespace + local)
        setattr(self, local, term)
        return term


DCAT_, DCT, FOAF_, PROV_, SKOS_, RDF_, RDFS_, XSD_ = (
    _Terms(n) for n in (DCAT, DCTERMS, FOAF, PROV, SKOS, RDF, RDFS, XSD))
A = RDF_.type
ACCESS_NOTE = ox.Literal(
    "Access through the dataset's landing page; the source lists give no direct download.",
    language="en")  # fmt: skip


def _vocabulary_part(store: ox.Store, ns: Namespaces, schemes: list[str]) -> Part:
    """Theme schemes and their concepts (labels, scheme, external matches) from the vocabulary
    graph."""
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
    part: Part = list(store.query(query))  # type: ignore[arg-type]
    titled = {t.subject.value for t in part if t.predicate == DCT.title}
    for scheme in schemes:
        if scheme not in titled:
            # DCAT-AP requires a title; the scheme's local name is the best fact at hand
            title = ox.Literal(scheme.rstrip("/").rsplit("/", 1)[-1])
            part.append(ox.Triple(ox.NamedNode(scheme), DCT.title, title))
    return part


def _catalogue_node(part: Part, catalogue: Catalogue) -> ox.NamedNode:
    node = ox.NamedNode(catalogue.iri)

    def add(s: ox.NamedNode, p: ox.NamedNode, o: ox.NamedNode | ox.Literal) -> None:
        part.append(ox.Triple(s, p, o))

    add(node, A, DCAT_.Catalog)
    add(node, DCT.title, ox.Literal(catalogue.title or "medkg", language="en"))
    description = catalogue.description or (
        f"{len(catalogue.datasets)} public medical imaging datasets gathered from "
        f"{len(catalogue.sources)} community lists."
    )
    add(node, DCT.description, ox.Literal(description, language="en"))
    publisher = ox.NamedNode(catalogue.publisher or catalogue.iri.rsplit("catalogue", 1)[0])
    add(node, DCT.publisher, publisher)
    add(publisher, A, FOAF_.Agent)
    add(publisher, FOAF_.name, ox.Literal(catalogue.publisher_name or "medkg"))
    if catalogue.license:
        if catalogue.license.startswith("http"):
            license_ = ox.NamedNode(catalogue.license)
            add(node, DCT.license, license_)
            add(license_, A, DCT.LicenseDocument)
        else:
            add(node, DCT.license, ox.Literal(catalogue.license))
    for scheme in catalogue.theme_taxonomies:
        add(node, DCAT_.themeTaxonomy, ox.NamedNode(scheme))
    for source in catalogue.sources:
        add(ox.NamedNode(source.iri), A, PROV_.Entity)
        add(ox.NamedNode(source.iri), DCT.title, ox.Literal(source.title))
    add(DCAT_.Dataset, RDFS_.subClassOf, DCAT_.Resource)
    return node


def _dataset_node(
    part: Part, catalogue_node: ox.NamedNode, record: DatasetRecord, received: dict[str, str]
) -> None:
    node = ox.NamedNode(record.iri)

    def add(s: ox.NamedNode, p: ox.NamedNode, o: ox.NamedNode | ox.Literal) -> None:
        part.append(ox.Triple(s, p, o))

    add(catalogue_node, DCAT_.dataset, node)
    add(node, A, DCAT_.Dataset)
    add(node, DCT.title, ox.Literal(record.title))
    add(node, DCT.description, ox.Literal(describe(record), language="en"))
    add(node, DCT.identifier, ox.Literal(record.iri))
    for concept in (*record.organs, *record.modalities, *record.stains, *record.tasks):
        add(node, DCAT_.theme, ox.NamedNode(concept.iri))
        add(node, DCAT_.keyword, ox.Literal(concept.label, language="en"))
    earliest = record.earliest_issued
    if earliest is not None:
        add(node, DCT.issued, ox.Literal(earliest.value, datatype=ox.NamedNode(earliest.datatype)))
    for paper in record.papers:
        add(node, DCT.isReferencedBy, ox.NamedNode(paper))
    for number, page in enumerate(record.landing_pages, start=1):
        landing = ox.NamedNode(page)
        add(node, DCAT_.landingPage, landing)
        add(landing, A, FOAF_.Document)
        distribution = ox.NamedNode(f"{record.iri}/distribution/{number}")
        add(node, DCAT_.distribution, distribution)
        add(distribution, A, DCAT_.Distribution)
        add(distribution, DCAT_.accessURL, landing)
        add(distribution, DCT.description, ACCESS_NOTE)
    record_node = ox.NamedNode(f"{record.iri}/record")
    add(catalogue_node, DCAT_.record, record_node)
    add(record_node, A, DCAT_.CatalogRecord)
    add(record_node, FOAF_.primaryTopic, node)
    dates = [received[s.iri] for s in record.sources if s.iri in received]
    if dates:
        add(record_node, DCT.modified, ox.Literal(max(dates), datatype=XSD_.date))
    for source in record.sources:
        add(record_node, PROV_.wasDerivedFrom, ox.NamedNode(source.iri))


def _received_dates(store: ox.Store, ns: Namespaces) -> dict[str, str]:
    """Source list IRI -> the date its copy was received (dcterms:issued or
    prov:generatedAtTime)."""
    query = f"""SELECT ?s ?date WHERE {{ GRAPH <{ns.graph('catalogue')}> {{
          ?s a <{ns.term('SourceList')}> .
          {{ ?s <{DCTERMS}issued> ?date }}
          UNION {{ ?s <http://www.w3.org/ns/prov#generatedAtTime> ?date }} }} }}"""
    return {r["s"].value: r["date"].value[:10] for r in store.query(query)}  # type: ignore[union-attr]


def dcat_graph(
    store: ox.Store, ns: Namespaces, catalogue: Catalogue, quiet: bool
) -> rdflib.Graph:
    """The whole catalogue as one rdflib graph."""
    graph = rdflib.Graph()
    for part in dcat_parts(store, ns, catalogue, quiet):
        for triple in part:
            graph.add(to_rdflib_triple(triple))
    return graph


def dcat_parts(
    store: ox.Store, ns: Namespaces, catalogue: Catalogue, quiet: bool,
    datasets_per_part: int | None = None,
) -> Iterator[Part]:
    """The DCAT catalogue's triples in parts, made one after another: the catalogue node with its
    theme schemes, then the datasets, `datasets_per_part` to a part (DATASETS_PER_PART unless
    given)."""
    datasets_per_part = datasets_per_part or DATASETS_PER_PART
    head = _vocabulary_part(store, ns, catalogue.theme_taxonomies)
    node = _catalogue_node(head, catalogue)
    yield head
    received = _received_dates(store, ns)
    part: Part = []
    for number, record in enumerate(progress(catalogue.datasets, "dcat", quiet), start=1):
        _dataset_node(part, node, record, received)
        if number % datasets_per_part == 0:
            yield part
            part = []
    if part:
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
        return write_compacted(runs.merged(), load_context(settings), out, scratch, quiet)


def write_turtle(parts: Iterable[Part], out: Path) -> None:
    """Turtle of the union of `parts` in sorted triple order, with the prefixes its IRIs use.

    Written by pyoxigraph: rdflib's Turtle writer looks each IRI's namespace up in a table that
    grows with every dataset (`<dataset>/record`, `<dataset>/distribution/1`), so its time grew
    with the square of the catalogue (19 s at 1,000 datasets, 7 minutes at 10,000).
    """
    with scratch_beside(out, ".dcat-parts-") as scratch:
        runs, prefixes = _sorted_parts(parts, scratch)
        ox.serialize(runs.merged(), str(out), format=ox.RdfFormat.TURTLE, prefixes=prefixes)


def _sorted_parts(parts: Iterable[Part], scratch: Path) -> tuple[SortedRuns, dict[str, str]]:
    """The union of `parts` as sorted runs in `scratch`, and the prefixes an IRI of any part uses.

    Each part is sorted on its own and the parts are merged as they are written
    (sorted_runs.py): the whole graph held 5.2 GB at 100,000 datasets.
    """
    runs = SortedRuns(scratch)
    prefixes = _UsedPrefixes(_turtle_prefixes())
    for part in parts:
        prefixes.note(part)
        runs.add(part)
    return runs, prefixes.used()


def _turtle_prefixes() -> dict[str, str]:
    """TURTLE_PREFIXES with rdflib's usual ones (rdf, rdfs, xsd, schema...), as the export had
    them when it was written by rdflib."""
    graph = rdflib.Graph()
    for prefix, namespace in TURTLE_PREFIXES:
        graph.bind(prefix, namespace)
    return {prefix: str(namespace) for prefix, namespace in graph.namespaces() if prefix}


class _UsedPrefixes:
    """The prefixes of a table that an IRI (or a literal's datatype) of any part begins."""

    def __init__(self, table: dict[str, str]) -> None:
        self.unused = dict(table)
        self.found: dict[str, str] = {}

    def note(self, triples: list[ox.Triple]) -> None:
        iris = {t.value for triple in triples for t in triple if isinstance(t, ox.NamedNode)}
        iris |= {triple.object.datatype.value for triple in triples
                 if isinstance(triple.object, ox.Literal)}
        for prefix, namespace in list(self.unused.items()):
            if any(iri.startswith(namespace) for iri in iris):
                self.found[prefix] = self.unused.pop(prefix)

    def used(self) -> dict[str, str]:
        return dict(sorted(self.found.items()))
