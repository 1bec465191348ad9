"""Self-description: the SPARQL 1.1 Service Description and the VoID description with statistics.

Both are small RDF graphs built with rdflib from statistics queries (computed once per store
version and saved beside it) and served by content negotiation: Turtle, N-Triples, JSON-LD,
RDF/XML, TriG or N-Quads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox
from flask import Response, redirect, request, url_for
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, XSD

from medkg.namespaces import DCAT, PROV, RDFS, SCHEMA, SKOS, VOID
from medkg_server import formats, queries, version_cache
from medkg_server.downloads import DUMP
from medkg_server.replies import etag_for
from medkg_server.responses import (
    not_modified,
    plain_error,
    published_version,
    stamped,
    with_validators,
)
from medkg_server.state import FIRST_WAIT_SECONDS, Derived, ServerState, StoreVersion

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOIDNS = Namespace(VOID)
W3C_FORMATS = Namespace("http://www.w3.org/ns/formats/")
FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON",
    "xml": "SPARQL_Results_XML",
    "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF_XML",
    "trig": "TriG",
    "nquads": "N-Quads",
}
RDFLIB_FORMATS = {
    "turtle": "turtle",
    "ntriples": "nt",
    "jsonld": "json-ld",
    "rdfxml": "xml",
    "trig": "trig",
    "nquads": "nquads",
}


@dataclass(frozen=True)
class Statistics:
    """VoID numbers of one store version."""

    graphs: tuple[tuple[str, int], ...]
    subjects: int
    properties: int
    objects: int
    datasets: int
    classes: tuple[tuple[str, int], ...]
    links: tuple[tuple[str, str, int], ...]  # (property, target namespace, count)

    @property
    def triples(self) -> int:
        return sum(count for _, count in self.graphs)


def output_prefixes(st: ServerState) -> tuple[tuple[str, str], ...]:
    """Prefixes that make Turtle / TriG / RDF-XML answers readable."""
    return (
        ("mkg", st.ns.mkg),
        ("dcat", DCAT),
        ("dcterms", str(DCTERMS)),
        ("schema", SCHEMA),
        ("skos", SKOS),
        ("prov", PROV),
        ("rdfs", RDFS),
    )


def namespace_of(iri: str) -> str:
    """An external term's namespace: OBO PURLs up to the `_`, others up to the last # or /."""
    obo = "http://purl.obolibrary.org/obo/"
    if iri.startswith(obo) and "_" in iri[len(obo) :]:
        return iri[: iri.rindex("_") + 1]
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1]


STATISTICS_FILE = "void-statistics.json"
STATISTICS_WAIT_SECONDS = 0.15  # then a new version's description gives the previous counts


def statistics(st: ServerState, version: StoreVersion) -> Statistics:
    """The VoID statistics of this store version: computed once, then recalled.

    They count over the whole store (distinct subjects and objects of every triple), which takes
    about a minute at a million datasets: longer than a client's time limit. So they are not run
    as client queries in the pool but here, once per version, and saved beside the version
    (version_cache.py); the server computes them at worker start.
    """
    return _statistics(st, version.name, None).value


def _statistics(
    st: ServerState, version: str, wait: float | None, first_wait: float | None = None
) -> Derived[Statistics]:
    def count() -> Statistics:
        folder, db = st.version_store(version)
        return version_cache.load_or_build(
            folder, STATISTICS_FILE, lambda: _count(st, db), _save_statistics, _load_statistics
        )

    return st.derived(version, "statistics", count, wait, first_wait=first_wait)


def _count(st: ServerState, db: ox.Store) -> Statistics:

    def select(text: str) -> list[dict[str, str]]:
        result = db.query(text, use_default_graph_as_union=True)
        return [{v.value: s[v].value for v in result.variables if s[v] is not None} for s in result]

    graphs = select(queries.load("void-graphs"))
    totals = select(queries.load("void-totals", mkg=queries.iri(st.ns.mkg)))[0]
    classes = select(queries.load("void-classes"))
    links: dict[tuple[str, str], int] = {}
    for row in select(queries.load("void-links", base=queries.literal(st.settings.base))):
        key = (row["property"], namespace_of(row["target"]))
        links[key] = links.get(key, 0) + int(row["links"])
    return Statistics(
        graphs=tuple((r["g"], int(r["triples"])) for r in graphs),
        subjects=int(totals["subjects"]),
        properties=int(totals["properties"]),
        objects=int(totals["objects"]),
        datasets=int(totals["datasets"]),
        classes=tuple((r["class"], int(r["entities"])) for r in classes),
        links=tuple(sorted((p, ns, n) for (p, ns), n in links.items())),
    )


def _save_statistics(stats: Statistics, path: Path) -> None:
    path.write_text(json.dumps(asdict(stats)), encoding="utf-8")


def _load_statistics(path: Path) -> Statistics:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Statistics(
        graphs=tuple((g, int(n)) for g, n in data["graphs"]),
        subjects=int(data["subjects"]),
        properties=int(data["properties"]),
        objects=int(data["objects"]),
        datasets=int(data["datasets"]),
        classes=tuple((c, int(n)) for c, n in data["classes"]),
        links=tuple((p, ns, int(n)) for p, ns, n in data["links"]),
    )


def void_graph(st: ServerState, stats: Statistics, endpoint: str, dump: str) -> Graph:
    """The VoID description: the catalogue as a void:Dataset with its statistics."""
    g = _graph()
    dataset = URIRef(st.ns.catalogue)
    g.add((dataset, RDF.type, VOIDNS.Dataset))
    g.add((dataset, VOIDNS.sparqlEndpoint, URIRef(endpoint)))
    g.add((dataset, VOIDNS.dataDump, URIRef(dump)))
    g.add((dataset, VOIDNS.feature, W3C_FORMATS["N-Quads"]))
    g.add((dataset, VOIDNS.uriSpace, Literal(st.settings.base)))
    g.add((dataset, VOIDNS.triples, Literal(stats.triples, datatype=XSD.integer)))
    g.add((dataset, VOIDNS.distinctSubjects, Literal(stats.subjects, datatype=XSD.integer)))
    g.add((dataset, VOIDNS.properties, Literal(stats.properties, datatype=XSD.integer)))
    g.add((dataset, VOIDNS.distinctObjects, Literal(stats.objects, datatype=XSD.integer)))
    g.add((dataset, VOIDNS.classes, Literal(len(stats.classes), datatype=XSD.integer)))
    g.add((dataset, VOIDNS.entities, Literal(stats.datasets, datatype=XSD.integer)))
    g.add((dataset, VOIDNS.rootResource, URIRef(st.ns.catalogue)))
    g.add((dataset, VOIDNS.vocabulary, URIRef(st.ns.mkg)))
    for name, count in stats.graphs:
        subset = URIRef(name)
        g.add((dataset, VOIDNS.subset, subset))
        g.add((subset, RDF.type, VOIDNS.Dataset))
        g.add((subset, VOIDNS.triples, Literal(count, datatype=XSD.integer)))
    for cls, count in stats.classes:
        part = BNode()
        g.add((dataset, VOIDNS.classPartition, part))
        g.add((part, VOIDNS["class"], URIRef(cls)))
        g.add((part, VOIDNS.entities, Literal(count, datatype=XSD.integer)))
    for prop, target, count in stats.links:
        linkset = BNode()
        g.add((linkset, RDF.type, VOIDNS.Linkset))
        g.add((linkset, VOIDNS.subjectsTarget, dataset))
        g.add((linkset, VOIDNS.objectsTarget, URIRef(target)))
        g.add((linkset, VOIDNS.linkPredicate, URIRef(prop)))
        g.add((linkset, VOIDNS.triples, Literal(count, datatype=XSD.integer)))
        g.add((dataset, VOIDNS.subset, linkset))
    return g


def service_graph(st: ServerState, stats: Statistics, endpoint: str, updates: bool) -> Graph:
    """The SPARQL 1.1 Service Description of this endpoint (`updates`: it accepts SPARQL Update)."""
    g = _graph()
    service = URIRef(endpoint)
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, URIRef(endpoint)))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    if updates:
        g.add((service, SD.supportedLanguage, SD.SPARQL11Update))
    for key in FORMAT_IRIS.values():
        g.add((service, SD.resultFormat, W3C_FORMATS[key]))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    if st.settings.federation_allow:
        g.add((service, SD.feature, SD.BasicFederatedQuery))
    g.add((service, SD.defaultEntailmentRegime, URIRef("http://www.w3.org/ns/entailment/Simple")))
    dataset = BNode()
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, DCTERMS.source, URIRef(st.ns.catalogue)))
    default = BNode()
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, VOIDNS.triples, Literal(stats.triples, datatype=XSD.integer)))
    for name, count in stats.graphs:
        named, graph = BNode(), BNode()
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
        g.add((named, SD.graph, graph))
        g.add((graph, RDF.type, SD.Graph))
        g.add((graph, VOIDNS.triples, Literal(count, datatype=XSD.integer)))
    return g


def _graph() -> Graph:
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOIDNS)
    g.bind("formats", W3C_FORMATS)
    g.bind("dcterms", DCTERMS)
    return g


def rdf_response(graph: Graph, fmt: formats.Format) -> Response:
    """Serialise an rdflib graph in a negotiated RDF format."""
    body = graph.serialize(format=RDFLIB_FORMATS[fmt.key], encoding="utf-8")
    response = Response(body, status=200)
    response.headers["Content-Type"] = fmt.content_type
    response.headers["Vary"] = "Accept"
    return response


def _described(st: ServerState, build: str) -> Response:
    """Negotiate, check validators, then build the VoID or service description graph."""
    version = published_version(st)
    values = request.args.getlist("format")
    fmt = formats.negotiate_graph(request.headers.get("Accept", ""), values, html=True)
    if fmt == "html":
        fmt = formats.TURTLE  # browsers get the Turtle text: there is no HTML version
    if not isinstance(fmt, formats.Format):
        return plain_error(406, "available as Turtle, N-Triples, JSON-LD, RDF/XML, TriG or N-Quads")
    # the service at /query answers queries only: it describes itself, not /sparql
    own = build == "service" and request.endpoint == "sparql.query_only"
    endpoint = url_for("sparql.query_only" if own else "sparql.sparql", _external=True)
    dump = url_for("downloads.download", name=DUMP, _external=True)
    updates = st.settings.update_enabled and not own
    etag = etag_for(version, build, fmt.key, endpoint, dump, updates)
    if not_modified(request, etag, version):
        # the Vary of the 200 it stands for (RFC 9110 section 15.4.5)
        return with_validators(Response(status=304, headers={"Vary": "Accept"}), etag, version)
    # after a write, the previous version's counts until the new ones are ready (not kept)
    stats = _statistics(st, version.name, STATISTICS_WAIT_SECONDS, FIRST_WAIT_SECONDS)
    graph = (
        void_graph(st, stats.value, endpoint, dump) if build == "void"
        else service_graph(st, stats.value, endpoint, updates)
    )
    return stamped(rdf_response(graph, fmt), etag, version, not stats.stale)


def service_description_response(st: ServerState) -> Response:
    """The service description, or for a browser (HTML preferred) a redirect to the query UI.

    Only a client that names HTML gets the redirect: with `*/*` or no Accept at all, the
    endpoint answers with its description in RDF, as SPARQL 1.1 Service Description (section 2)
    asks of a GET without a query.
    """
    accept = request.headers.get("Accept", "")
    values = request.args.getlist("format")
    wanted = formats.negotiate_graph(accept, values, html=True)
    if wanted == "html" and (values or formats.names_html(accept)):
        return redirect(url_for("pages.index"), code=303)
    return _described(st, "service")


def void_response(st: ServerState) -> Response:
    return _described(st, "void")
