"""SPARQL Update when it is switched on: bearer token required, new store version published."""

from __future__ import annotations

from collections.abc import Iterator
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
