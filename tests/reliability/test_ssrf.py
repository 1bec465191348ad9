"""SSRF: SERVICE, LOAD, FROM and the dataset parameters never make the server fetch anything.

A loopback HTTP listener records every request it receives; after every attempt it must have
recorded none, and the content of a canary file must never appear in an answer. The federation
allow-list of the live server is empty, so every outbound target is off the list.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from reliability_config import UPDATE_TOKEN
from reliability_figures import record

CANARY = "medkg-canary-7f3a9c"


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "text/turtle")
        self.end_headers()
        self.wfile.write(f'<urn:x> <urn:y> "{CANARY}" .\n'.encode())

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[int, list[str]]]:
    """A loopback HTTP server that records every request and answers with the canary."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, _Recorder.hits
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def canary_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("canary") / "canary.ttl"
    path.write_text(f'<urn:x> <urn:y> "{CANARY}" .\n', encoding="utf-8")
    return path


def _targets(port: int, canary: Path) -> list[str]:
    """Outbound targets: loopback spelled many ways, https, file:// and a public name."""
    return [
        f"http://127.0.0.1:{port}/sparql",
        f"http://localhost:{port}/sparql",
        f"https://127.0.0.1:{port}/sparql",
        f"http://[::1]:{port}/sparql",
        f"http://2130706433:{port}/sparql",
        f"http://127.1:{port}/sparql",
        f"http://0x7f.0.0.1:{port}/sparql",
        f"HTTP://127.0.0.1:{port}/sparql",
        f"http://user@127.0.0.1:{port}/sparql",
        canary.as_uri(),
        "file:///etc/passwd",
        "https://query.wikidata.org/sparql",
    ]


def _service_queries(port: int, canary: Path) -> list[str]:
    loop = f"http://127.0.0.1:{port}/"
    queries = [f"SELECT * WHERE {{ SERVICE <{t}> {{ ?s ?p ?o }} }}" for t in _targets(port, canary)]
    queries += [
        f"PREFIX r: <{loop}> SELECT * WHERE {{ SERVICE SILENT r:sparql {{ ?s ?p ?o }} }}",
        f"BASE <{loop}> SELECT * WHERE {{ SERVICE <sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ VALUES ?e {{ <{loop}> }} SERVICE ?e {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{loop}a> {{ ?s ?p ?o }} }} }} }}",
        f"ASK {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <{loop}b> {{ ?s ?p ?o }} }} }}",
        f"select * where {{ ?s ?p ?o optional {{ service <{loop}c> {{ ?s ?p ?x }} }} }} limit 1",
        f"SELECT * WHERE {{ {{ ?s ?p ?o }} UNION {{ SERVICE <{loop}d> {{ ?s ?p ?o }} }} }}",
        f"SELECT * WHERE {{ ?s ?p ?o MINUS {{ SERVICE <{loop}e> {{ ?s ?p ?o }} }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{loop}f> {{ ?s ?p ?o }} }}",
        f"DESCRIBE ?s WHERE {{ SERVICE <{loop}g> {{ ?s ?p ?o }} }}",
    ]
    return queries


def _load_updates(port: int, canary: Path) -> list[str]:
    loop = f"http://127.0.0.1:{port}/"
    updates = [f"LOAD <{t}>" for t in _targets(port, canary)]
    updates += [
        f"LOAD SILENT <{loop}data.ttl> INTO GRAPH <urn:medkg:g>",
        f"INSERT DATA {{ <urn:a> <urn:b> <urn:c> }} ; LOAD <{loop}x.ttl>",
        f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{loop}h> {{ ?s ?p ?o }} }}",
        f"BASE <{loop}> LOAD <data.ttl>",
    ]
    return updates


def _assert_clean(answer: requests.Response, hits: list[str]) -> None:
    assert hits == [], f"the server fetched {hits}"
    assert CANARY not in answer.text
    assert "Traceback" not in answer.text


def test_service_is_refused_and_nothing_is_fetched(live, listener, canary_file):
    port, hits = listener
    queries = _service_queries(port, canary_file)
    for query in queries:
        for method in ("GET", "POST"):
            if method == "GET":
                answer = requests.get(live.url + "/sparql", params={"query": query}, timeout=30)
            else:
                answer = requests.post(live.url + "/query", data={"query": query}, timeout=30)
            assert answer.status_code == 403, (query, answer.status_code, answer.text)
            assert "allow-list" in answer.text or "variable IRI" in answer.text
            _assert_clean(answer, hits)
    record("ssrf", kind="SERVICE in a query", attempts=2 * len(queries), refused=2 * len(queries),
           fetched=len(hits))


def test_load_is_refused_even_with_the_token(live, listener, canary_file):
    port, hits = listener
    updates = _load_updates(port, canary_file)
    for update in updates:
        answer = requests.post(
            live.url + "/update",
            data={"update": update},
            headers={"Authorization": f"Bearer {UPDATE_TOKEN}"},
            timeout=30,
        )
        assert answer.status_code == 403, (update, answer.status_code, answer.text)
        assert "allow-list" in answer.text
        _assert_clean(answer, hits)
    record("ssrf", kind="LOAD / SERVICE in an update with the token", attempts=len(updates),
           refused=len(updates), fetched=len(hits))


def test_updates_without_the_token_are_refused(live, listener, canary_file):
    port, hits = listener
    attempts = 0
    for update in _load_updates(port, canary_file) + ["INSERT DATA { <urn:a> <urn:b> <urn:c> }"]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": UPDATE_TOKEN}):
            answer = requests.post(live.url + "/sparql", data={"update": update}, headers=headers,
                                   timeout=30)
            attempts += 1
            assert answer.status_code == 401, (update, headers, answer.text)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            _assert_clean(answer, hits)
    by_get = requests.get(live.url + "/sparql", params={"update": "CLEAR ALL"}, timeout=30)
    assert by_get.status_code == 400
    record("ssrf", kind="updates without the token", attempts=attempts + 1, refused=attempts + 1,
           fetched=len(hits))


def test_from_and_dataset_parameters_name_local_graphs_only(live, listener, canary_file):
    port, hits = listener
    attempts = 0
    for target in _targets(port, canary_file):
        for query in (
            f"SELECT * FROM <{target}> WHERE {{ ?s ?p ?o }}",
            f"SELECT * FROM NAMED <{target}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        ):
            answer = requests.get(live.url + "/sparql", params={"query": query}, timeout=30)
            attempts += 1
            assert answer.status_code == 200, answer.text
            assert answer.json()["results"]["bindings"] == []
            _assert_clean(answer, hits)
        for parameter in ("default-graph-uri", "named-graph-uri"):
            answer = requests.get(
                live.url + "/sparql",
                params={"query": "SELECT * WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
                        parameter: target},
                timeout=30,
            )
            attempts += 1
            assert answer.status_code in (200, 400), answer.text
            _assert_clean(answer, hits)
    record("ssrf", kind="FROM / FROM NAMED / dataset parameters", attempts=attempts,
           refused=attempts, fetched=len(hits))
