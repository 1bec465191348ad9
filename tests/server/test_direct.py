"""The direct path (direct.py) must answer exactly as the Flask views do, and only what it can."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from medkg_server.app import create_app
from medkg_server.compression import Compression
from medkg_server.direct import DirectPath
from medkg_server.executor import QueryTimeout
from medkg_server.fastpath import FastPath
from medkg_server.state import EXTENSION

TITLE = "<http://purl.org/dc/terms/title>"
XML = {"Accept": "application/sparql-results+xml"}
NT = {"Accept": "application/n-triples"}
SINCE = {"If-Modified-Since": "Sun, 22 Nov 2026 10:00:00 GMT"}
CORS_ORIGIN = "https://viewer.example.org"

# (path, query text, request headers): every kind of answer and refusal a plain GET can get
CASES = [
    ("/sparql", f"SELECT ?s ?t WHERE {{ ?s {TITLE} ?t }}", {}),
    ("/sparql", f"SELECT ?t WHERE {{ <https://w3id.org/medkg/dataset/corn> {TITLE} ?t }}", {}),
    ("/sparql", "SELECT * WHERE { ?s ?p ?o }", {"Accept": "text/csv"}),  # cut at the row cap
    ("/sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", XML),
    ("/query", "ASK { ?s a ?c }", {"Accept": "text/tab-separated-values"}),
    ("/sparql/", "CONSTRUCT WHERE { ?s a ?c }", {"Accept": "text/turtle"}),
    ("/sparql", "CONSTRUCT WHERE { ?s a ?c }", {"Accept": "application/ld+json"}),
    ("/sparql", "DESCRIBE <https://w3id.org/medkg/anatomy/breast>", NT),
    ("/sparql", 'SELECT ?s WHERE { ?s ?p "brëast"@en }', {}),  # non-ASCII text
    ("/sparql", "SELEKT ?s WHERE { ?s ?p ?o }", {}),  # syntax error
    ("/sparql", "CONSTRUCT WHERE { ?s a ?c }", {"Accept": "application/sparql-results+json"}),
    ("/sparql", "ASK {}", {"Accept": "image/png"}),  # no acceptable format
    ("/sparql", "SELECT * WHERE { SERVICE <http://127.0.0.1:9/x> { ?s ?p ?o } }", {}),  # refused
    ("/sparql", "SELECT * WHERE " + "{ " * 300 + "?s ?p ?o" + " }" * 300, {}),  # too deep
    ("/sparql", "ASK { ?s ?p ?o }", {"Origin": CORS_ORIGIN}),
    ("/sparql", "ASK { ?s ?p ?o }", {"Origin": "https://elsewhere.example.org"}),
]


@pytest.fixture(scope="module")
def app(built_store: Path) -> Iterator:
    config = {
        "STORE": str(built_store),
        "EXECUTORS": 1,
        "ROW_CAP": 5,
        "CACHE_ENTRIES": 0,
        "CORS_ORIGINS": CORS_ORIGIN,
        "MAX_REQUEST_BYTES": 32768,
    }
    application = create_app(config)
    yield application
    application.extensions[EXTENSION].executor.close()


def _layers(app) -> tuple[DirectPath, object]:
    outer = app.wsgi_app
    assert isinstance(outer, Compression)
    cache = outer.app
    assert isinstance(cache, FastPath) and isinstance(cache.app, DirectPath)
    return cache.app, cache.app.app


def _environ(method: str, path: str, query_string: str, headers: dict[str, str]) -> dict:
    return EnvironBuilder(
        path=path, method=method, query_string=query_string, headers=headers
    ).get_environ()


def _call(wsgi, path: str, query_string: str, headers: dict[str, str], method: str = "GET"):
    environ = _environ(method, path, query_string, headers)
    body, status, answer_headers = run_wsgi_app(wsgi, environ, buffered=True)
    return status, sorted(answer_headers.to_wsgi_list()), b"".join(body)


def _query_string(text: str) -> str:
    # "%FF" in a case stands for a raw broken escape; everything else is encoded as clients do
    return "query=" + "%FF".join(quote(part, safe="") for part in text.split("%FF"))


@pytest.mark.parametrize("path,text,headers", CASES, ids=range(len(CASES)))
def test_direct_path_answers_as_flask_does(app, path, text, headers) -> None:
    direct, flask_view = _layers(app)
    query_string = _query_string(text)
    environ = EnvironBuilder(path=path, query_string=query_string, headers=headers).get_environ()
    assert direct.plain_query(environ) is not None, "the case must take the direct path"
    assert _call(direct, path, query_string, headers) == _call(
        flask_view, path, query_string, headers
    )


def test_plus_for_space_and_an_encoded_plus_read_as_flask_reads_them(app) -> None:
    direct, flask_view = _layers(app)
    # what requests and urllib send: spaces as "+", a "+" in the text as %2B
    query_string = urlencode({"query": 'SELECT ?s WHERE { ?s ?p "1+1" }'})
    assert "+" in query_string and "%2B" in query_string
    environ = EnvironBuilder(path="/sparql", query_string=query_string).get_environ()
    assert direct.plain_query(environ) == 'SELECT ?s WHERE { ?s ?p "1+1" }'
    assert _call(direct, "/sparql", query_string, {}) == _call(
        flask_view, "/sparql", query_string, {}
    )


@pytest.mark.parametrize("broken", ["%FF", "%C3", "%E2%82"])
def test_an_escape_that_is_not_utf8_is_left_to_flask_which_refuses_it(app, broken) -> None:
    direct, _ = _layers(app)
    # the broken escape sent raw, the rest encoded as clients do
    query_string = "query=" + broken.join(
        quote(part, safe="") for part in ('SELECT ?s WHERE { ?s ?p "', '" }')
    )
    environ = EnvironBuilder(path="/sparql", query_string=query_string).get_environ()
    assert direct.plain_query(environ) is None
    status, _, body = _call(app.wsgi_app, "/sparql", query_string, {})
    assert status.startswith("400") and b"not UTF-8" in body


def test_an_allowed_origin_joins_the_one_vary_field_on_both_paths(app) -> None:
    """CORS's Vary: Origin is merged into the answer's Vary: Accept, not sent as a second field."""
    direct, flask_view = _layers(app)
    query_string = _query_string("ASK { ?s ?p ?o }")
    for wsgi in (direct, flask_view):
        _, headers, _ = _call(wsgi, "/sparql", query_string, {"Origin": CORS_ORIGIN})
        assert [value for name, value in headers if name == "Vary"] == ["Accept, Origin"]


def test_the_cases_cover_answers_and_refusals(app) -> None:
    direct, _ = _layers(app)
    statuses = {_call(direct, p, _query_string(t), h)[0].split()[0] for p, t, h in CASES}
    assert statuses == {"200", "400", "403", "406"}


def _counted(app) -> tuple[DirectPath, list[str]]:
    """The direct path over a Flask app that notes the path of every request it gets."""
    direct, flask_view = _layers(app)
    calls: list[str] = []

    def counting(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return flask_view(environ, start_response)

    return DirectPath(counting, direct.st, direct.pages), calls


def test_direct_answers_never_reach_flask(app) -> None:
    counted, calls = _counted(app)
    status, _, _ = _call(counted, "/sparql", _query_string("ASK { ?s ?p ?o }"), {})
    assert status.startswith("200") and calls == []
    _call(counted, "/sparql", "", {})
    assert calls == ["/sparql"]


@pytest.mark.parametrize(
    "method,path,query_string,headers",
    [
        ("POST", "/sparql", "query=ASK%7B%7D", {}),
        ("HEAD", "/sparql", "query=ASK%7B%7D", {}),
        ("GET", "/update", "query=ASK%7B%7D", {}),
        ("GET", "/dataset/corn", "query=ASK%7B%7D", {}),
        ("GET", "/sparql", "", {}),  # the service description
        ("GET", "/sparql", "query=ASK%7B%7D&timeout=2", {}),
        ("GET", "/sparql", "query=ASK%7B%7D&format=csv", {}),
        ("GET", "/sparql", "default-graph-uri=urn%3Ag&query=ASK%7B%7D", {}),
        ("GET", "/sparql", "query=ASK%7B%7D&query=ASK%7B%7D", {}),
        ("GET", "/sparql", "query=ASK%7B%7D", {"If-None-Match": '"x"'}),
        ("GET", "/sparql", "query=ASK%7B%7D", SINCE),
        ("GET", "/sparql", "query=" + "A" * 40_000, {}),  # over the request limit: Flask's 414
    ],
    ids=range(12),
)
def test_everything_else_goes_to_flask(app, method, path, query_string, headers) -> None:
    direct, _ = _layers(app)
    assert direct.plain_query(_environ(method, path, query_string, headers)) is None


def test_conditional_get_still_gets_304_through_the_whole_app(app) -> None:
    client = app.test_client()
    first = client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"})
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get(
        "/sparql",
        query_string={"query": "ASK { ?s ?p ?o }"},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]


def test_access_log_lines_are_the_same(app, caplog: pytest.LogCaptureFixture) -> None:
    direct, flask_view = _layers(app)
    query_string = urlencode({"query": 'ASK { ?s ?p "brëast"@en }'})
    lines = []
    for wsgi in (direct, flask_view):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="medkg_server.access"):
            _call(wsgi, "/sparql", query_string, {})
        (record,) = [r for r in caplog.records if r.name == "medkg_server.access"]
        lines.append(re.sub(r" [0-9.]+ms$", " ms", record.getMessage()))
    assert lines[0] == lines[1]
    assert '"GET /sparql?query=' in lines[0] and " 200 " in lines[0]


def test_an_unexpected_error_is_a_short_500_and_a_logged_trace(
    app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    direct, _ = _layers(app)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("medkg_server.direct.answer_query", broken)
    with caplog.at_level(logging.ERROR, logger="medkg_server.error"):
        status, headers, body = _call(direct, "/sparql", _query_string("ASK {}"), {})
    assert status.startswith("500")
    assert body == b"internal server error; the server log has the details\n"
    assert b"Traceback" not in body and b"a bug" not in body
    (record,) = [r for r in caplog.records if r.name == "medkg_server.error"]
    assert record.exc_info is not None and "a bug" in str(record.exc_info[1])


# (path, query string, request headers): resource pages the direct path answers itself
PAGE_CASES = [
    ("/dataset/camelyon16", "", {"Accept": "text/html"}),
    ("/dataset/camelyon16", "", {}),  # no Accept: HTML
    ("/dataset/camelyon16", "_=a-tag", {"Accept": "text/html"}),  # another parameter is ignored
    ("/dataset/camelyon16", "format=ttl", {}),
    ("/dataset/camelyon16", "", {"Accept": "text/turtle"}),  # cut at the row cap: X-MedKG-Truncated
    ("/dataset/camelyon16", "", {"Accept": "application/ld+json"}),
    ("/dataset/camelyon16", "format=html", {"Accept": "text/turtle"}),
    ("/dataset/camelyon16", "", {"Accept": "text/html", "Origin": CORS_ORIGIN}),
    ("/anatomy/breast", "", {"Accept": "text/html"}),  # a generic page, with what points to it
    ("/anatomy/breast", "format=nt", {}),
    ("/source/histo", "", {"Accept": "text/html"}),
]


def _flask_has_seen_the_host(app) -> None:
    """The site's links are made by Flask on a host's first page; the direct path reuses them."""
    app.test_client().get("/dataset/camelyon16", headers={"Accept": "text/html"})


@pytest.mark.parametrize("path,query_string,headers", PAGE_CASES, ids=range(len(PAGE_CASES)))
def test_direct_pages_are_the_pages_flask_sends(app, path, query_string, headers) -> None:
    _flask_has_seen_the_host(app)
    direct, flask_view = _layers(app)
    environ = EnvironBuilder(path=path, query_string=query_string, headers=headers).get_environ()
    assert direct.page_request(environ) is not None, "the case must take the direct path"
    answer = _call(direct, path, query_string, headers)
    assert answer[0].startswith("200")
    assert answer == _call(flask_view, path, query_string, headers)


def test_page_answers_never_reach_flask(app) -> None:
    _flask_has_seen_the_host(app)
    counted, calls = _counted(app)
    status, headers, body = _call(counted, "/dataset/camelyon16", "", {"Accept": "text/html"})
    assert status.startswith("200") and calls == []
    assert ("Content-Type", "text/html; charset=utf-8") in headers and b"<h1>" in body
    status, _, _ = _call(counted, "/dataset/no-such-dataset", "", {"Accept": "text/html"})
    assert status.startswith("404") and calls == ["/dataset/no-such-dataset"]


@pytest.mark.parametrize(
    "method,path,query_string,headers",
    [
        ("HEAD", "/dataset/camelyon16", "", {}),
        ("POST", "/dataset/camelyon16", "", {}),
        ("GET", "/dataset/camelyon16", "", {"If-None-Match": '"x"'}),
        ("GET", "/dataset/corn", "", SINCE),
        ("GET", "/dataset/camelyon16", "", {"Accept": "image/png"}),  # 406
        ("GET", "/dataset/camelyon16", "format=png", {}),  # 406
        ("GET", "/dataset/", "", {}),
        ("GET", "/dataset//corn", "", {}),
        ("GET", "/graph/catalogue", "", {}),  # a named graph: its dump, or the engine's answer
        ("GET", "/ontology", "", {}),
        ("GET", "/datasets/corn", "", {}),
        ("GET", "/dataset/corn%20x", "", {}),  # not an IRI: Flask's 404
    ],
    ids=range(12),
)
def test_other_page_requests_go_to_flask(app, method, path, query_string, headers) -> None:
    direct, _ = _layers(app)
    assert direct.page_request(_environ(method, path, query_string, headers)) is None


def test_a_missing_page_is_flasks_404_page(app) -> None:
    _flask_has_seen_the_host(app)
    status, _, body = _call(app.wsgi_app, "/dataset/no-such-dataset", "", {"Accept": "text/html"})
    assert status.startswith("404") and b"No such page or resource." in body


def test_a_host_flask_has_not_answered_yet_is_left_to_flask(app) -> None:
    direct, _ = _layers(app)
    environ = EnvironBuilder(
        path="/dataset/camelyon16", headers={"Host": "mirror.example.org"}
    ).get_environ()
    assert direct.pages.site.known(environ) is None
    status, headers, body = _call(app.wsgi_app, "/dataset/camelyon16", "",
                                  {"Host": "mirror.example.org"})
    assert status.startswith("200") and b"//mirror.example.org/sparql" in body
    assert direct.pages.site.known(environ) is not None  # Flask made them; now they are read


def test_a_page_whose_queries_time_out_is_a_503_to_retry(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    _flask_has_seen_the_host(app)
    direct, _ = _layers(app)

    def timed_out(*args, **kwargs):
        raise QueryTimeout("the query ran past its time limit of 1 s")

    monkeypatch.setattr(direct.pages, "page", timed_out)
    status, headers, body = _call(direct, "/anatomy/breast", "", {"Accept": "text/html"})
    assert status.startswith("503") and ("Retry-After", "5") in headers
    assert b"time limit" in body


def test_an_unexpected_error_on_a_page_is_answered_by_flask(
    app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _flask_has_seen_the_host(app)
    direct, _ = _layers(app)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(direct.pages, "page", broken)  # the Flask view renders through it too
    with caplog.at_level(logging.ERROR, logger="medkg_server.error"):
        status, _, body = _call(direct, "/dataset/camelyon16", "", {"Accept": "text/html"})
    assert status.startswith("500") and b"a bug" not in body
    (record,) = [r for r in caplog.records if r.name == "medkg_server.error"]
    assert "a bug" in str(record.exc_info[1])


@pytest.mark.parametrize("base_url", ["http://localhost/", "https://example.org:8443/medkg/",
                                      "http://xn--bcher-kva.example/"])
@pytest.mark.parametrize(
    "path", ["/dataset/camelyon16", "/anatomy/lymph-node", "/dataset/a~b.c_d", "/dataset/x(1)",
             "/dataset/caf%C3%A9", "/dataset/a%20b", "/dataset/a%2Fb", "/dataset/"],
)
def test_a_pages_own_address_is_spelled_as_flask_spells_it(app, base_url, path) -> None:
    """The Link header names the page by Flask's `request.base_url`, also on the short way."""
    from flask import request

    from medkg_server.direct import _base_url

    with app.test_request_context(path, base_url=base_url):
        links = app.extensions["medkg.site_links"].for_request()
        assert _base_url(request.environ, links) == request.base_url
