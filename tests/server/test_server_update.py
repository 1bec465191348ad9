"""SPARQL Update when it is switched on: bearer token required, new store version published."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from server_harness import RunningServer, build_store, start_server, stop_server

TOKEN = "test-token-5c1f"
ASK_NEW = 'ASK { GRAPH <urn:test:graph> { <urn:test:s> <urn:test:p> "added" } }'
INSERT = 'INSERT DATA { GRAPH <urn:test:graph> { <urn:test:s> <urn:test:p> "added" } }'


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    store: Path = tmp_path_factory.mktemp("writable-store")
    build_store(store)
    running = start_server(store, store.parent / "writable.log", {"MEDKG_UPDATE_TOKEN": TOKEN})
    yield running
    stop_server(running)


def post_update(server: RunningServer, text: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(server.url + "/sparql", data={"update": text}, headers=headers, timeout=60)


def ask(server: RunningServer, query: str) -> bool:
    return requests.get(server.url + "/sparql", params={"query": query}, timeout=30).json()[
        "boolean"
    ]


def test_update_needs_the_token(writable):
    assert post_update(writable, INSERT, None).status_code == 401
    assert post_update(writable, INSERT, "wrong").status_code == 401
    assert ask(writable, ASK_NEW) is False


def test_update_with_token_publishes_a_new_version(writable):
    before = requests.get(writable.url + "/health", timeout=30).json()["store_version"]
    etag_before = requests.get(
        writable.url + "/sparql", params={"query": ASK_NEW}, timeout=30
    ).headers["ETag"]
    answer = post_update(writable, INSERT, TOKEN)
    assert answer.status_code == 200, answer.text
    after = requests.get(writable.url + "/health", timeout=30).json()["store_version"]
    assert after != before
    again = requests.get(
        writable.url + "/sparql",
        params={"query": ASK_NEW},
        headers={"If-None-Match": etag_before},
        timeout=30,
    )
    assert again.status_code == 200 and again.json()["boolean"] is True
    # the rest of the graph came along into the new version
    assert ask(writable, "ASK { <https://w3id.org/medkg/dataset/camelyon16> ?p ?o }") is True


def test_update_direct_post_and_syntax_errors(writable):
    direct = requests.post(
        writable.url + "/update",
        data=b"CLEAR GRAPH <urn:test:graph>",
        timeout=60,
        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"},
    )
    assert direct.status_code == 200
    assert ask(writable, ASK_NEW) is False
    bad = post_update(writable, "CLEAR XYZ", TOKEN)
    assert bad.status_code == 400 and "syntax" in bad.text
    via_get = requests.get(writable.url + "/sparql", params={"update": "CLEAR ALL"}, timeout=30)
    assert via_get.status_code == 400


def test_load_outside_the_allow_list_is_refused(writable):
    answer = post_update(writable, "LOAD <http://127.0.0.1:9/data.ttl>", TOKEN)
    assert answer.status_code == 403
    assert "allow-list" in answer.text


def test_the_description_says_which_endpoint_takes_updates(writable):
    import rdflib

    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")

    def languages(path: str) -> set:
        answer = requests.get(writable.url + path, headers={"Accept": "text/turtle"}, timeout=30)
        graph = rdflib.Graph().parse(data=answer.content, format="turtle")
        return set(graph.objects(None, sd.supportedLanguage))

    assert sd.SPARQL11Update in languages("/sparql")
    assert languages("/query") == {sd.SPARQL11Query}


# --- Graph Store Protocol writes (graph_store.py), on when updates are --------------------------

GRAPH = "urn:test:gsp"


def gsp(server: RunningServer, method: str, body: str = "", token: str | None = TOKEN,
        content_type: str = "text/turtle", **params: str) -> requests.Response:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    params = params or {"graph": GRAPH}
    return requests.request(method, server.url + "/store", params=params, headers=headers,
                            data=body.encode("utf-8"), timeout=60)


def graph_triples(server: RunningServer) -> set[tuple[str, str, str]]:
    answer = requests.get(server.url + "/store", params={"graph": GRAPH},
                          headers={"Accept": "application/n-triples"}, timeout=30)
    if answer.status_code == 404:
        return set()
    assert answer.status_code == 200, answer.text
    return {tuple(line.rstrip(" .").split(" ", 2)) for line in answer.text.splitlines() if line}


def test_graph_store_put_post_delete(writable):
    before = requests.get(writable.url + "/health", timeout=30).json()["store_version"]
    body = '<urn:a> <urn:p> "one"@en . <urn:a> <urn:p> _:b . _:b <urn:p> 2 .'
    created = gsp(writable, "PUT", body)
    assert created.status_code == 201, created.text
    assert created.headers["X-MedKG-Store-Version"] != before
    assert len(graph_triples(writable)) == 3
    replaced = gsp(writable, "PUT", "<urn:c> <urn:p> <urn:d> .",
                   content_type="application/n-triples")
    assert replaced.status_code == 204
    assert graph_triples(writable) == {("<urn:c>", "<urn:p>", "<urn:d>")}
    added = gsp(writable, "POST", '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
                ' xmlns:ex="urn:x:"><rdf:Description rdf:about="urn:e"><ex:p>t</ex:p>'
                "</rdf:Description></rdf:RDF>", content_type="application/rdf+xml")
    assert added.status_code == 204
    assert ("<urn:e>", "<urn:x:p>", '"t"') in graph_triples(writable)
    assert len(graph_triples(writable)) == 2
    assert gsp(writable, "DELETE").status_code == 204
    assert graph_triples(writable) == set()
    assert gsp(writable, "DELETE").status_code == 404
    # the rest of the store is untouched by writes to one graph
    assert ask(writable, "ASK { <https://w3id.org/medkg/dataset/camelyon16> ?p ?o }") is True


def test_graph_store_post_that_creates_a_graph_says_created(writable):
    # an empty PUT to a graph not in the store creates nothing (no empty graphs are kept)
    assert gsp(writable, "PUT", "").status_code == 204
    assert graph_triples(writable) == set()
    created = gsp(writable, "POST", "<urn:a> <urn:p> <urn:o> .")
    assert created.status_code == 201, created.text  # as PUT does, and Oxigraph server
    added = gsp(writable, "POST", "<urn:a> <urn:p> <urn:o2> .")
    assert added.status_code == 204
    assert len(graph_triples(writable)) == 2
    assert gsp(writable, "DELETE").status_code == 204



def at_once(count: int, send: Callable[[], requests.Response]) -> list[requests.Response]:
    """`count` requests sent together: each thread waits at a barrier until all are ready."""
    barrier = threading.Barrier(count)

    def one(_: int) -> requests.Response:
        barrier.wait(timeout=30)
        return send()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_simultaneous_writes_to_one_graph_create_and_drop_it_once(writable):
    # whether the graph existed is decided under the store's writer lock, one writer at a time
    race = "urn:test:race"
    puts = at_once(4, lambda: gsp(writable, "PUT", "<urn:a> <urn:p> <urn:o> .", graph=race))
    assert sorted(p.status_code for p in puts) == [201, 204, 204, 204], [p.text for p in puts]
    deletes = at_once(4, lambda: gsp(writable, "DELETE", graph=race))
    assert sorted(d.status_code for d in deletes) == [204, 404, 404, 404], [
        d.text for d in deletes]
    dropped = next(d for d in deletes if d.status_code == 204)
    # the DELETEs that found nothing published nothing: the winner's version is still current
    after = requests.get(writable.url + "/health", timeout=30).json()["store_version"]
    assert after == dropped.headers["X-MedKG-Store-Version"]
    assert not ask(writable, "ASK { GRAPH <urn:test:race> { ?s ?p ?o } }")


@pytest.mark.parametrize(
    ("kwargs", "status", "says"),
    [
        ({"token": None}, 401, "token"),
        ({"token": "wrong"}, 401, "token"),
        ({"default": ""}, 400, "union"),
        ({"graph": "not an iri"}, 400, "IRI"),
        ({"body": "<urn:a> <urn:p> ."}, 400, "Turtle"),
        ({"content_type": "application/octet-stream"}, 415, "Content-Type"),
        ({"content_type": "application/n-quads"}, 415, "Content-Type"),
    ],
)
def test_graph_store_writes_refused_with_a_reason(writable, kwargs, status, says):
    body = kwargs.pop("body", "<urn:a> <urn:p> <urn:o> .")
    params = {k: kwargs.pop(k) for k in ("default", "graph") if k in kwargs}
    answer = gsp(writable, "PUT", body, **kwargs, **params)
    assert answer.status_code == status and says in answer.text, answer.text
    assert graph_triples(writable) == set()


@pytest.mark.parametrize("path", ["/store?graph=urn:test:gsp", "/update"])
def test_a_compressed_write_is_415_and_changes_nothing(writable, path):
    turtle = path.startswith("/store")
    body = b"<urn:a> <urn:p> <urn:o> ." if turtle else b"INSERT DATA { <urn:a> <urn:p> <urn:o> }"
    answer = requests.request(
        "PUT" if turtle else "POST", writable.url + path, data=gzip.compress(body), timeout=60,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip",
                 "Content-Type": "text/turtle" if turtle else "application/sparql-update"},
    )
    assert answer.status_code == 415 and "send the body uncompressed" in answer.text
    assert not ask(writable, "ASK { <urn:a> <urn:p> <urn:o> }")


def test_graph_store_says_what_it_allows(writable):
    answer = requests.request("PATCH", writable.url + "/store", params={"graph": GRAPH}, timeout=30)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, HEAD, PUT, POST, DELETE"


def test_graph_store_refuses_a_chunked_body_over_the_limit(writable):
    limit = 1_048_576  # MEDKG_MAX_REQUEST_BYTES's default
    line = b"<urn:a> <urn:p> <urn:o> .\n"
    lines = line * (limit // len(line) - 1)
    # the body's first limit + 1 bytes end on a whole statement, where the reader stops
    filler = limit + 1 - len(lines) - len(b'<urn:x> <urn:p> "" .')
    head = lines + b'<urn:x> <urn:p> "' + b"a" * filler + b'" .'
    assert len(head) == limit + 1
    body = head + b"\n<urn:lost> <urn:p> <urn:o> .\n"
    answer = requests.put(writable.url + "/store", params={"graph": GRAPH}, timeout=60,
                          headers={"Authorization": f"Bearer {TOKEN}",
                                   "Content-Type": "application/n-triples"},
                          data=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]))
    assert answer.status_code == 413, answer.text
    assert str(limit) in answer.text
    assert graph_triples(writable) == set()
