"""Turn merged datasets into RDF quads, following the model in ontology/README.md.

What each list says goes into that list's named graph (so conflicting values keep their origin);
the merged dataset resources, challenges, source lists and the catalogue go into graph/catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyoxigraph as ox
import rdflib

from medkg.merge import Dataset
from medkg.namespaces import (
    DCAT, DCTERMS, PROV, RDF, RDFS, SCHEMA, SKOS, XSD, CONCEPT_KINDS, Namespaces,
)
from medkg.records import ChallengeRef, EntryRecord
from medkg.sources import SourceText

EN = "en"
NODE_CACHE = 50_000


def _xsd(local: str) -> ox.NamedNode:
    return ox.NamedNode(XSD + local)


class QuadWriter:
    """Small helper to write typed quads into a named graph."""

    def __init__(self, ns: Namespaces):
        self.ns = ns
        self.quads: list[ox.Quad] = []
        self._nodes: dict[str, ox.NamedNode] = {}

    def node(self, iri: str) -> ox.NamedNode:
        found = self._nodes.get(iri)
        if found is None:
            if len(self._nodes) > NODE_CACHE:  # reuse predicates and concepts, not every IRI ever seen
                self._nodes.clear()
            found = self._nodes[iri] = ox.NamedNode(iri)
        return found

    def drain(self) -> list[ox.Quad]:
        """The quads written since the last drain."""
        quads, self.quads = self.quads, []
        return quads

    def add(self, graph: str, s: str, p: str, o: ox.NamedNode | ox.Literal) -> None:
        self.quads.append(ox.Quad(self.node(s), self.node(p), o, self.node(graph)))

    def iri(self, graph: str, s: str, p: str, o: str) -> None:
        self.add(graph, s, p, self.node(o))

    def text(self, graph: str, s: str, p: str, value: str, lang: str | None = None) -> None:
        self.add(graph, s, p, ox.Literal(value, language=lang) if lang else ox.Literal(value))

    def typed(self, graph: str, s: str, p: str, value: str, datatype: str) -> None:
        self.add(graph, s, p, ox.Literal(value, datatype=_xsd(datatype)))


def _mkg(ns: Namespaces, local: str) -> str:
    return ns.term(local)


def write_catalogue(w: QuadWriter, sources: list[SourceText],
                    challenges: dict[str, ChallengeRef]) -> None:
    """The merged layer's shared part: the catalogue, source lists and challenges."""
    ns = w.ns
    g = ns.graph("catalogue")
    cat = ns.catalogue
    w.iri(g, cat, RDF + "type", DCAT + "Catalog")
    w.text(g, cat, DCTERMS + "title", "medkg: a catalogue of public medical imaging datasets", EN)
    w.text(g, cat, DCTERMS + "description",
           "Datasets merged from community lists of medical imaging datasets, linked to anatomy, "
           "imaging modality, stain, task and challenge concepts mapped to UBERON, NCIT, OBI and others.",
           EN)
    w.iri(g, cat, DCTERMS + "publisher", ns.base + "team")
    w.iri(g, ns.base + "team", RDF + "type", "http://xmlns.com/foaf/0.1/Agent")
    w.text(g, ns.base + "team", "http://xmlns.com/foaf/0.1/name", "the medkg team")
    w.iri(g, cat, DCTERMS + "license", "https://creativecommons.org/licenses/by/4.0/")
    for kind in CONCEPT_KINDS:
        w.iri(g, cat, DCAT + "themeTaxonomy", ns.scheme(kind))
    for st in sources:
        src = st.source
        iri = ns.source(src.id)
        w.iri(g, iri, RDF + "type", _mkg(ns, "SourceList"))
        w.iri(g, iri, RDF + "type", PROV + "Entity")
        w.text(g, iri, DCTERMS + "title", src.title)
        w.text(g, iri, RDFS + "label", src.title)
        w.text(g, iri, DCTERMS + "source", src.origin or src.path)
        w.text(g, iri, DCTERMS + "license", src.license)
        w.text(g, iri, _mkg(ns, "fileName"), src.file_name)
        w.text(g, iri, _mkg(ns, "sha256"), st.sha256)
        if src.is_url:
            w.iri(g, iri, PROV + "wasDerivedFrom", src.path)
        if src.received:
            w.typed(g, iri, DCTERMS + "issued", src.received, "date")
        else:  # a list given at build time: record when we read it
            w.typed(g, iri, PROV + "generatedAtTime", st.retrieved, "dateTime")
    for ref in challenges.values():
        iri = ns.challenge(ref.slug)
        w.iri(g, iri, RDF + "type", _mkg(ns, "Challenge"))
        w.iri(g, iri, RDF + "type", SCHEMA + "Event")
        w.text(g, iri, RDFS + "label", ref.label)
        w.text(g, iri, SKOS + "prefLabel", ref.label, EN)
        if ref.venue:
            w.iri(g, iri, _mkg(ns, "venue"), ref.venue)
        if ref.year:
            w.typed(g, iri, _mkg(ns, "year"), str(ref.year), "gYear")


def write_dataset(w: QuadWriter, ds: Dataset) -> None:
    """One merged dataset: its catalogue resource, then what each list says of it."""
    ns = w.ns
    g = ns.graph("catalogue")
    iri = ns.dataset(ds.slug)
    w.iri(g, ns.catalogue, DCAT + "dataset", iri)
    for cls in (_mkg(ns, "Dataset"), DCAT + "Dataset", SCHEMA + "Dataset"):
        w.iri(g, iri, RDF + "type", cls)
    w.text(g, iri, DCTERMS + "title", ds.title)
    w.text(g, iri, RDFS + "label", ds.title)
    lists = {e.source_id for e in ds.entries}
    w.typed(g, iri, _mkg(ns, "mentionCount"), str(len(lists)), "integer")
    for e in ds.entries:
        write_entry(w, iri, e)


def write_entry(w: QuadWriter, dataset_iri: str, e: EntryRecord) -> None:
    """What one list entry says about its dataset, in that list's graph."""
    ns = w.ns
    g = ns.source_graph(e.source_id)
    entry = ns.entry(e.source_id, e.line)
    m = lambda local: _mkg(ns, local)  # noqa: E731 (short alias keeps the table below readable)
    w.iri(g, entry, RDF + "type", m("ListEntry"))
    w.iri(g, entry, RDF + "type", PROV + "Entity")
    w.iri(g, entry, m("inList"), ns.source(e.source_id))
    w.typed(g, entry, m("line"), str(e.line), "integer")
    w.text(g, entry, m("rawName"), e.raw_name or e.name)
    if e.section:
        w.text(g, entry, m("section"), " > ".join(e.section))
    if e.raw_text:
        w.text(g, entry, m("rawText"), e.raw_text)
    w.iri(g, dataset_iri, PROV + "wasDerivedFrom", entry)
    for name in e.names:
        w.text(g, dataset_iri, SKOS + "altLabel", name)
    if e.description:
        w.text(g, dataset_iri, DCTERMS + "description", e.description, EN)
    for url in e.landing_pages:
        w.iri(g, dataset_iri, DCAT + "landingPage", url)
    for url in e.papers:
        w.iri(g, dataset_iri, m("paper"), url)
    for url in e.code:
        w.iri(g, dataset_iri, m("codeRepository"), url)
    for doi in e.dois:
        w.text(g, dataset_iri, m("doi"), doi)
    for issued in e.issued:
        w.typed(g, dataset_iri, DCTERMS + "issued", issued.value, issued.xsd_type)
    for n, count in enumerate(e.counts, start=1):
        node = f"{dataset_iri}/count/{e.source_id}-{e.line}-{n}"
        w.iri(g, dataset_iri, m("count"), node)
        w.iri(g, node, RDF + "type", m("Count"))
        value = f"{count.value:.0f}" if count.value == int(count.value) else repr(count.value)
        w.typed(g, node, RDF + "value", value, "decimal")
        w.text(g, node, m("unit"), count.unit)
        w.text(g, node, RDFS + "label", count.text)
        if count.split:
            w.text(g, node, m("split"), count.split)
    for dim in e.dimensions:
        w.text(g, dataset_iri, m("dimension"), dim)
    for prop, iris in (("organ", e.organs), ("modality", e.modalities), ("stain", e.stains),
                       ("task", e.tasks)):
        for concept in iris:
            w.iri(g, dataset_iri, m(prop), concept)
    for classes in e.label_classes:
        if classes.count is not None:
            w.typed(g, dataset_iri, m("classCount"), str(classes.count), "integer")
        for name in classes.names:
            w.text(g, dataset_iri, m("labelClass"), name)
    for ref in e.challenges:
        w.iri(g, dataset_iri, m("challenge"), ns.challenge(ref.slug))
    for value in e.magnification:
        w.text(g, dataset_iri, m("magnification"), value)
    for value in e.scanner:
        w.text(g, dataset_iri, m("scanner"), value)
    for citation in e.citations:
        w.text(g, dataset_iri, DCTERMS + "bibliographicCitation", citation)


def dataset_quads(ns: Namespaces, datasets: list[Dataset], sources: list[SourceText]) -> Iterator[ox.Quad]:
    """All quads of the catalogue and source graphs, dataset by dataset (memory stays flat)."""
    w = QuadWriter(ns)
    challenges: dict[str, ChallengeRef] = {}
    for ds in datasets:
        for e in ds.entries:
            for ref in e.challenges:
                challenges.setdefault(ref.slug, ref)
    write_catalogue(w, sources, challenges)
    yield from w.drain()
    for ds in datasets:
        write_dataset(w, ds)
        quads = w.drain()
        if len({e.source_id for e in ds.entries}) < len(ds.entries):
            # two entries of one list can say the same thing in that list's graph: yield it once,
            # so that the quads counted are the quads stored
            quads = list(dict.fromkeys(quads))
        yield from quads


def rdflib_to_quads(graph: rdflib.Graph, graph_iri: str) -> Iterator[ox.Quad]:
    """Move an rdflib graph into pyoxigraph quads of one named graph (via N-Triples)."""
    data = graph.serialize(format="nt", encoding="utf-8")
    target = ox.NamedNode(graph_iri)
    for triple in ox.parse(data, format=ox.RdfFormat.N_TRIPLES):
        yield ox.Quad(triple.subject, triple.predicate, triple.object, target)


def quads_to_rdflib(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    """The union of quads as one rdflib graph (what SHACL validation reads)."""
    data = ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads],
                        format=ox.RdfFormat.N_TRIPLES)
    graph = rdflib.Graph()
    graph.parse(data=data, format="nt")
    return graph
