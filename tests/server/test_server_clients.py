"""Real SPARQL clients against the real server: SPARQLWrapper (every format), rdflib SPARQLStore."""

from __future__ import annotations

import csv
import io

import pytest
import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

MKG = "https://w3id.org/medkg/ontology#"
SELECT = f"PREFIX mkg: <{MKG}> SELECT ?d WHERE {{ ?d a mkg:Dataset }} ORDER BY ?d"
CONSTRUCT = (
    f"PREFIX mkg: <{MKG}> PREFIX dcterms: <http://purl.org/dc/terms/> "
    "CONSTRUCT { ?d dcterms:title ?t } WHERE { ?d a mkg:Dataset ; dcterms:title ?t }"
)
DESCRIBE = "DESCRIBE <https://w3id.org/medkg/dataset/camelyon16>"
CAMELYON = rdflib.URIRef("https://w3id.org/medkg/dataset/camelyon16")


def wrapper(server, query: str, fmt: str, method: str = "GET") -> SPARQLWrapper:
    client = SPARQLWrapper(server.url + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt)
    client.setMethod(method)
    return client


@pytest.mark.parametrize("method", ["GET", POST])
def test_sparqlwrapper_select_json_and_xml(server, method):
    rows = wrapper(server, SELECT, JSON, method).query().convert()["results"]["bindings"]
    assert len(rows) == 3
    document = wrapper(server, SELECT, XML, method).query().convert()
    assert len(document.getElementsByTagName("uri")) == 3


def test_sparqlwrapper_select_csv_and_tsv(server):
    text = wrapper(server, SELECT, CSV).query().convert().decode("utf-8")
    assert len(list(csv.DictReader(io.StringIO(text)))) == 3
    tsv = wrapper(server, SELECT, TSV).query().convert().decode("utf-8").splitlines()
    assert tsv[0] == "?d" and len(tsv) == 4


def test_sparqlwrapper_ask(server):
    assert wrapper(server, "ASK { ?s ?p ?o }", JSON).query().convert()["boolean"] is True
    document = wrapper(server, "ASK { <urn:a> <urn:b> <urn:c> }", XML).query().convert()
    assert document.getElementsByTagName("boolean")[0].firstChild.data == "false"


@pytest.mark.parametrize(
    ("fmt", "parse_as"),
    [(TURTLE, "turtle"), (N3, "turtle"), (RDFXML, None), (JSONLD, None)],
)
def test_sparqlwrapper_construct_and_describe(server, fmt, parse_as):
    for query, expected in ((CONSTRUCT, 3), (DESCRIBE, None)):
        result = wrapper(server, query, fmt).query()
        converted = result.convert()
        graph = (
            converted
            if isinstance(converted, rdflib.Graph)
            else rdflib.Graph().parse(data=converted, format=parse_as)
        )
        if expected is not None:
            assert len(graph) == expected
        else:
            assert (CAMELYON, rdflib.RDF.type, rdflib.URIRef(MKG + "Dataset")) in graph


def test_rdflib_sparqlstore_reads_the_endpoint(server):
    graph = rdflib.Graph(store=SPARQLStore(server.url + "/sparql", returnFormat="json"))
    rows = list(graph.query(SELECT))
    assert [str(r.d) for r in rows][1] == str(CAMELYON)
    assert graph.query("ASK { ?s ?p ?o }").askAnswer is True
    titles = set(graph.objects(CAMELYON, rdflib.DCTERMS.title))
    assert titles == {rdflib.Literal("CAMELYON16")}
    # rdflib's default "xml" asks for SPARQL XML or RDF/XML, which suits CONSTRUCT as well.
    default = rdflib.Graph(store=SPARQLStore(server.url + "/sparql"))
    assert len(default.query(CONSTRUCT).graph) == 3
    assert len(default.query(SELECT)) == 3
