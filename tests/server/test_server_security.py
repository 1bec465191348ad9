"""Outbound requests: SERVICE, LOAD and FROM never reach a URL that is not allow-listed."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
import requests
from medkg_server.guard import ForbiddenTarget, check_query, check_update


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.hits.append(self.path)
        self.send_response(500)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def listener() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    _Recorder.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", _Recorder.hits
    server.shutdown()
    server.server_close()


def test_pyoxigraph_itself_would_fetch_service(listener):
    """Why the guard exists: pyoxigraph 0.5 sends SERVICE over HTTP with no switch to stop it."""
    url, hits = listener
    store = ox.Store()
    with pytest.raises(OSError):
        list(store.query(f"SELECT * WHERE {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }}"))
    assert hits == ["/sparql"]


def test_service_is_refused_and_nothing_is_fetched(server, listener):
    url, hits = listener
    for query in (
        f"SELECT * WHERE {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }}",
        f"PREFIX r: <{url}> SELECT * WHERE {{ SERVICE SILENT r:sparql {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ VALUES ?e {{ <{url}> }} SERVICE ?e {{ ?s ?p ?o }} }}",
        f"select * where {{ optional {{ service <{url}x> {{ ?s ?p ?o }} }} }}",
    ):
        answer = requests.get(server.url + "/sparql", params={"query": query}, timeout=30)
        assert answer.status_code == 403, query
        assert "allow" in answer.text
    assert hits == []


def test_the_word_service_in_a_string_is_not_refused(server):
    answer = requests.get(
        server.url + "/sparql", params={"query": 'SELECT ?x { BIND("service" AS ?x) }'}, timeout=30
    )
    assert answer.status_code == 200


def test_from_names_a_local_graph_and_fetches_nothing(server, listener):
    url, hits = listener
    answer = requests.get(
        server.url + "/sparql",
        params={"query": f"ASK FROM <{url}data> FROM NAMED <{url}g> {{ ?s ?p ?o }}"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["boolean"] is False
    assert hits == []


def test_guard_allows_listed_prefixes_only():
    allow = ("https://query.example/",)
    check_query("SELECT * { SERVICE <https://query.example/sparql> { ?s ?p ?o } }", allow, None)
    check_query(
        "PREFIX q: <https://query.example/> SELECT * { SERVICE q:sparql { ?s ?p ?o } }", allow, None
    )
    with pytest.raises(ForbiddenTarget):
        check_query("SELECT * { SERVICE <https://other.example/sparql> { ?s ?p ?o } }", allow, None)
    with pytest.raises(ForbiddenTarget):
        check_query(
            "BASE <https://other.example/> SELECT * { SERVICE <sparql> { ?s ?p ?o } }", allow, None
        )
    check_update("LOAD <https://query.example/data.ttl>", allow, None)
    with pytest.raises(ForbiddenTarget):
        check_update(
            "INSERT DATA { <urn:a> <urn:b> <urn:c> } ; LOAD <http://127.0.0.1:9/x>", allow, None
        )


def test_pages_escape_source_text(server):
    page = requests.get(
        server.url + "/dataset/tricky", headers={"Accept": "text/html"}, timeout=30
    ).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    browse = requests.get(server.url + "/browse", params={"q": "<script>"}, timeout=30).text
    assert "<script>alert" not in browse
