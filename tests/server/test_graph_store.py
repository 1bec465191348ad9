"""The read-only Graph Store HTTP Protocol at /store: one graph by IRI, or the default graph."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import requests

CATALOGUE = "https://w3id.org/medkg/graph/catalogue"


def store(server, method: str = "GET", accept: str | None = "application/n-triples",
          **params: str) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.request(method, server.url + "/store", params=params, headers=headers,
                            timeout=30)


def count(server, where: str) -> int:
    answer = requests.get(server.url + "/sparql", timeout=30,
                          params={"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}"},
                          headers={"Accept": "application/sparql-results+json"})
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])


def test_a_named_graph_is_its_triples(server):
    answer = store(server, graph=CATALOGUE)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/n-triples; charset=utf-8"
    triples = set(ox.parse(answer.content, format=ox.RdfFormat.N_TRIPLES))
    assert len(triples) == count(server, f"GRAPH <{CATALOGUE}> {{ ?s ?p ?o }}") > 10
    turtle = store(server, accept="text/turtle", graph=CATALOGUE)
    assert set(ox.parse(turtle.content, format=ox.RdfFormat.TURTLE)) == triples


def test_the_default_graph_is_the_union_queries_see(server):
    answer = store(server, default="")
    assert answer.status_code == 200
    triples = set(ox.parse(answer.content, format=ox.RdfFormat.N_TRIPLES))
    distinct = count(server, "SELECT DISTINCT ?s ?p ?o { ?s ?p ?o }")
    assert len(triples) == distinct


def test_head_and_conditional_requests(server):
    got = store(server, graph=CATALOGUE)
    head = store(server, "HEAD", graph=CATALOGUE)
    assert head.status_code == 200 and head.content == b""
    # requests asks for gzip: the GET came compressed, with the weak form of the ETag, and the
    # HEAD says the same, without the length only compressing would tell (compression.py)
    assert got.headers["Content-Encoding"] == head.headers["Content-Encoding"] == "gzip"
    assert got.headers["ETag"].startswith("W/")
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Vary"] == got.headers["Vary"] == "Accept, Accept-Encoding"
    assert "Content-Length" not in head.headers and "Transfer-Encoding" not in head.headers
    again = requests.get(server.url + "/store", params={"graph": CATALOGUE}, timeout=30,
                         headers={"Accept": "application/n-triples",
                                  "If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_writes_are_refused(server, method):
    answer = store(server, method, graph=CATALOGUE)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, HEAD"
    assert count(server, f"GRAPH <{CATALOGUE}> {{ ?s ?p ?o }}") > 10  # still there


@pytest.mark.parametrize(
    ("params", "accept", "status"),
    [
        ({"graph": "https://w3id.org/medkg/graph/no-such-graph"}, None, 404),
        ({}, None, 400),  # names no graph
        ({"graph": CATALOGUE, "default": ""}, None, 400),  # names two
        ({"graph": "not an iri"}, None, 400),
        ({"graph": CATALOGUE}, "text/html", 406),
    ],
)
def test_requests_that_name_no_graph_it_has(server, params, accept, status):
    answer = store(server, accept=accept or "text/turtle", **params)
    assert answer.status_code == status
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("params", [{"graph": CATALOGUE}, {"default": ""}])
def test_a_graph_request_at_the_query_endpoint_is_pointed_to_the_store(server, params):
    answer = requests.get(server.url + "/sparql", params=params, timeout=30,
                          headers={"Accept": "text/turtle"})
    assert answer.status_code == 400 and "/store?graph=" in answer.text
