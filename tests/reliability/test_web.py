"""Web: hostile source text renders escaped, odd paths give 404, oversized bodies give 413."""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from medkg_server import create_app
from medkg_server.executor import QueryTimeout
from medkg_server.state import EXTENSION
from reliability_config import MAX_REQUEST_BYTES, ROOT

from medkg import store as medkg_store
from medkg.build import build
from medkg.config import load_settings

HERE = Path(__file__).parent
HOSTILE_LIST = HERE / "fixtures" / "lists" / "html-in-names.md"
BASE = "https://w3id.org/medkg/"
RAW_MARKUP = ("<script>alert", "<img src=x", "<iframe", 'href="javascript:',
              "</script><script>")


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """The app over a store built from the mini lists plus a list full of markup."""
    home = tmp_path_factory.mktemp("hostile-home")
    shutil.copytree(ROOT / "tests" / "fixtures" / "mini" / "data", home / "data")
    shutil.copytree(ROOT / "ontology", home / "ontology")
    store = home / "store"
    build(load_settings(store=store, home=home), [HOSTILE_LIST], run_validation=False)
    app = create_app({"STORE": str(store)})
    yield app.test_client()
    app.extensions[EXTENSION].executor.close()


def _dataset_paths(store: Path) -> list[str]:
    db = medkg_store.open_read_only(store)
    rows = db.query(
        "SELECT DISTINCT ?d WHERE { GRAPH ?g { ?d a <https://w3id.org/medkg/ontology#Dataset> } }"
    )
    return ["/" + row["d"].value[len(BASE):] for row in rows]


def test_markup_from_the_lists_renders_escaped(hostile_app: FlaskClient):
    store = Path(hostile_app.application.config["MEDKG_SETTINGS"].store)
    paths = _dataset_paths(store)
    pages = {path: hostile_app.get(path, headers={"Accept": "text/html"}) for path in paths}
    texts = {path: answer.get_data(as_text=True) for path, answer in pages.items()}
    assert all(answer.status_code == 200 for answer in pages.values())
    hostile = [path for path, text in texts.items() if "alert(" in text]
    assert len(hostile) >= 2, "the hostile list's datasets were built and served"
    for path in hostile:
        for markup in RAW_MARKUP:
            assert markup not in texts[path], (path, markup)
        assert "&lt;script&gt;" in texts[path] or "\\u003cscript\\u003e" in texts[path] \
            or "&lt;img" in texts[path] or "&lt;iframe" in texts[path]
    for path in ("/browse?q=<script>alert(1)</script>", "/browse", "/stats", "/"):
        text = hostile_app.get(path).get_data(as_text=True)
        assert "<script>alert" not in text and "<img src=x" not in text, path


def test_a_page_query_over_its_limit_is_a_503_not_a_500(hostile_app, monkeypatch):
    """Regression: pages let QueryTimeout escape as a 500 with a traceback in the log."""

    def overrun(*_args: object, **_kwargs: object) -> None:
        raise QueryTimeout("the query ran longer than its time limit of 2 s")

    state = hostile_app.application.extensions[EXTENSION]
    monkeypatch.setattr(state.executor, "run", overrun)
    # queries about big resources run in the pool: make every page's queries do so here
    monkeypatch.setattr(state.inline, "answer", lambda *_args, **_kwargs: None)
    # the queries pages still send (a resource's statements, its RDF description and what
    # points to it are read from the indexes): whether a named graph exists, a graph's dump
    for path, accept in (("/graph/never", "text/html"), ("/graph/never", "text/turtle")):
        answer = hostile_app.get(path, headers={"Accept": accept})
        assert answer.status_code == 503, (path, answer.status_code)
        assert "time limit" in answer.get_data(as_text=True)
        assert answer.headers["Retry-After"]
    # a concept's page sends none, so an overloaded pool does not take it down
    assert hostile_app.get("/anatomy/breast", headers={"Accept": "text/html"}).status_code == 200


TRAVERSALS = [
    "/dataset/../../etc/passwd",
    "/dataset/..%2f..%2fetc%2fpasswd",
    "/dataset/%2e%2e/%2e%2e/etc/passwd",
    "/dataset/%252e%252e%252fetc%252fpasswd",
    "/dataset/..\\..\\etc\\passwd",
    "/dataset/%c0%ae%c0%ae/etc/passwd",
    "/dataset/x%00.ttl",
    "/static/../../../../etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/anatomy/%2e%2e%2f%2e%2e%2fserver.py",
    "/graph/..%2f..%2fcurrent",
    "/source/%0d%0aSet-Cookie:%20x=1",
    "/dataset/<script>alert(1)</script>",
    "/dataset/%3Cscript%3Ealert(1)%3C/script%3E",
    "/dataset/" + "a" * 5000,
    "/dataset/%ff%fe%fd",
    "/dataset/%C3%BCn%C3%AFc%C3%B6d%C3%A9-%E2%98%83",
    "/challenge/x%20y%20z",
    "/ontology/../../etc/passwd",
    "/catalogue%00",
]


def _raw_get(url: str, path: str) -> tuple[int, bytes, dict[str, str]]:
    """GET a path exactly as written: no client-side normalisation of dot segments."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.putheader("Accept", "text/html")
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read(), dict(answer.getheaders())
    finally:
        connection.close()


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_and_odd_characters_give_404_or_a_refusal(live, path: str):
    status, body, headers = _raw_get(live.url, path)
    # '<', '>' and '\\' may not appear in a request target (RFC 9112): the HTTP layer refuses them
    refused = 400 if any(c in path for c in '<>\\') else 404
    assert status in (refused, 404), (path, status, body[:200])
    assert b"root:" not in body and b"import " not in body
    assert "Set-Cookie" not in headers


@pytest.mark.parametrize("route", ["/sparql", "/query", "/update"])
def test_oversized_bodies_give_413(live, route: str):
    big = "SELECT * WHERE { ?s ?p ?o } #" + "x" * (MAX_REQUEST_BYTES + 4096)
    field = "update" if route == "/update" else "query"
    direct = "application/sparql-update" if route == "/update" else "application/sparql-query"
    answers = [
        requests.post(live.url + route, data={field: big}, timeout=30),
        requests.post(live.url + route, data=big.encode(), headers={"Content-Type": direct},
                      timeout=30),
        # chunked: no Content-Length for the server to check up front
        requests.post(live.url + route, data=iter([big.encode()[i:i + 8192]
                                                   for i in range(0, len(big), 8192)]),
                      headers={"Content-Type": direct}, timeout=30),
    ]
    for answer in answers:
        assert answer.status_code == 413, (route, answer.status_code, answer.text[:200])
        assert str(MAX_REQUEST_BYTES) in answer.text
