"""gzip answers (compression.py): for clients that ask, byte-identical once decoded, never else."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph as ox
import pytest
from medkg_server import compression
from medkg_server.app import create_app
from medkg_server.compression import Compression, accepts_gzip, gzip_bytes
from medkg_server.fastpath import ANSWER, CachedAnswer
from medkg_server.settings import resolve
from medkg_server.state import EXTENSION
from werkzeug.test import EnvironBuilder, run_wsgi_app

from medkg.build import build
from medkg.config import ConfigError, load_settings
from medkg.store import StagedVersion

REPO = Path(__file__).resolve().parents[2]
GZIP = {"Accept-Encoding": "gzip, deflate"}
EVERY_TRIPLE = "SELECT * WHERE { ?s ?p ?o }"

# (path, query parameters, request headers) of large text answers of each kind
ANSWERS = {
    "select-json": ("/sparql", {"query": EVERY_TRIPLE}, {}),
    "construct-turtle": ("/sparql", {"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                         {"Accept": "text/turtle"}),
    "dataset-page": ("/dataset/camelyon16", {}, {"Accept": "text/html"}),
    "void": ("/void", {}, {}),
}
# answers Flask builds whole and returns as an iterator with a known length (no ETag)
SIZED = {"home-page": "/", "openapi": "/openapi.yaml"}
STATIC = "/static/yasgui/yasgui.min.js"
# (path, query parameters, request headers) of an answer of each route that may compress
COMPRESSIBLE = {
    **ANSWERS,
    **{kind: (path, {}, {}) for kind, path in SIZED.items()},
    "select-xml": ("/sparql", {"query": EVERY_TRIPLE, "format": "xml"}, {}),
    "small-ask": ("/sparql", {"query": "ASK { ?s ?p ?o }"}, {}),  # under the minimum size
    "dataset-turtle": ("/dataset/camelyon16", {}, {"Accept": "text/turtle"}),
    "browse": ("/browse", {}, {}),
    "browse-json": ("/browse", {"format": "json"}, {}),
    "stats": ("/stats", {}, {}),
    "service-description": ("/sparql", {}, {}),
    "graph-store": ("/store", {"default": ""}, {}),
    "download-page": ("/download/", {}, {}),
    "sitemap": ("/sitemap.xml", {}, {}),
    "static-script": (STATIC, {}, {}),
    "static-icon": ("/static/favicon.svg", {}, {}),  # under the minimum size
}
# answers never compressed: byte ranges of the plain file, or encoded already
NEVER = {
    "dump": ("/download/medkg.nq.gz", {}, {}),
    "catalogue-csv": ("/download/datasets.csv", {}, {}),
}
# answers without an ETag, so without 304s
UNTAGGED = {*SIZED, "download-page"}
# what a client may say of gzip: asks for it, refuses it, says nothing
ENCODINGS = {"gzip": GZIP, "identity": {"Accept-Encoding": "identity"}, "none": {}}


def _vary(answer) -> list[str]:  # type: ignore[no-untyped-def]
    """The request fields an answer's Vary names, read from its one Vary field."""
    fields = answer.headers.getlist("Vary")
    assert len(fields) <= 1, f"one Vary field, not {fields}"
    return [name.strip() for name in fields[0].split(",")] if fields else []


@contextmanager
def _served(store: Path, **config: object) -> Iterator:
    """An app on `store` (with `config`), its query pool closed afterwards."""
    application = create_app({"STORE": str(store), "EXECUTORS": 1, **config})
    try:
        yield application
    finally:
        application.extensions[EXTENSION].executor.close()


@pytest.fixture(scope="module")
def client(built_store: Path) -> Iterator:
    with _served(built_store) as application:
        yield application.test_client()


@pytest.mark.parametrize("kind", ANSWERS)
def test_a_gzip_answer_decodes_to_the_plain_answer(client, kind: str) -> None:
    path, params, headers = ANSWERS[kind]
    plain = client.get(path, query_string=params, headers=headers)
    packed = client.get(path, query_string=params, headers={**headers, **GZIP})
    assert plain.status_code == packed.status_code == 200
    assert len(plain.data) > 1024 and "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    assert packed.headers["Content-Type"] == plain.headers["Content-Type"]
    # the same tag, weak: the bytes differ, the representation is the same
    assert packed.headers["ETag"] == "W/" + plain.headers["ETag"]
    assert packed.headers["Last-Modified"] == plain.headers["Last-Modified"]


@pytest.mark.parametrize("value", ["gzip;q=0", "identity", "*;q=0, identity", "br", ""])
def test_a_client_that_refuses_gzip_gets_plain_bytes_with_vary(client, value: str) -> None:
    answer = client.get("/void", headers={"Accept-Encoding": value})
    assert "Content-Encoding" not in answer.headers
    assert answer.data.startswith(b"@prefix") or b"void" in answer.data[:400]
    assert _vary(answer) == ["Accept", "Accept-Encoding"]


def test_the_accept_encoding_parser_honours_q_values_and_the_wildcard() -> None:
    assert accepts_gzip("gzip") and accepts_gzip("*") and accepts_gzip("GZIP;q=0.5")
    assert accepts_gzip("br, *;q=0.1")
    assert not accepts_gzip("gzip;q=0, *") and not accepts_gzip("identity")
    assert not accepts_gzip("*;q=0") and not accepts_gzip("deflate")
    assert accepts_gzip("x-gzip") and accepts_gzip("X-GZIP;q=0.3, br")
    assert not accepts_gzip("gzip;q=0, x-gzip")  # gzip refused by name stays refused


def test_vary_is_one_field_on_every_variant_and_keeps_accept(client) -> None:
    page = "/dataset/camelyon16"
    for headers in ENCODINGS.values():
        answer = client.get(page, headers={"Accept": "text/html", **headers})
        assert answer.headers["Vary"] == "Accept, Accept-Encoding"
        assert _vary(answer) == ["Accept", "Accept-Encoding"]


def test_a_small_answer_stays_plain_and_still_varies(client) -> None:
    small = client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"}, headers=GZIP)
    assert small.status_code == 200 and len(small.data) < 1024
    assert "Content-Encoding" not in small.headers
    assert _vary(small) == ["Accept", "Accept-Encoding"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("kind", [*COMPRESSIBLE, *NEVER])
def test_a_head_has_the_headers_of_its_get(client, kind: str, encoding: str) -> None:
    """RFC 9110 9.3.2; the gzip answer's length is left out (8.6: never the plain one's)."""
    path, params, headers = {**COMPRESSIBLE, **NEVER}[kind]
    headers = {**headers, **ENCODINGS[encoding]}
    got = client.get(path, query_string=params, headers=headers)
    head = client.head(path, query_string=params, headers=headers)
    assert got.status_code == head.status_code == 200 and head.data == b""

    def fields(answer) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        # Date is the second each was sent in: the two requests may fall either side of one
        left_out = ("Content-Length", "Date")
        return sorted((k, v) for k, v in answer.headers.items() if k not in left_out)

    assert fields(head) == fields(got)
    if "Content-Encoding" in got.headers:
        assert encoding == "gzip" and "Content-Length" not in head.headers
    else:
        assert head.headers["Content-Length"] == got.headers["Content-Length"]


@pytest.mark.parametrize("kind", COMPRESSIBLE)
def test_every_answer_of_a_compressed_type_varies_on_accept_encoding(client, kind: str) -> None:
    """Whatever the request said of gzip, and whatever the answer's size (RFC 9110 12.5.5)."""
    path, params, headers = COMPRESSIBLE[kind]
    for encoding in ENCODINGS.values():
        answer = client.get(path, query_string=params, headers={**headers, **encoding})
        assert answer.status_code == 200
        assert _vary(answer).count("Accept-Encoding") == 1, encoding


@pytest.mark.parametrize("kind", NEVER)
def test_an_answer_never_compressed_does_not_vary_on_accept_encoding(client, kind: str) -> None:
    path, params, headers = NEVER[kind]
    for encoding in ENCODINGS.values():
        answer = client.get(path, query_string=params, headers={**headers, **encoding})
        assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
        assert "Accept-Encoding" not in _vary(answer)


@pytest.mark.parametrize("kind", [k for k in [*COMPRESSIBLE, *NEVER] if k not in UNTAGGED])
def test_a_304_carries_the_vary_of_its_200(client, kind: str) -> None:
    """RFC 9110 15.4.5: whichever tag the client holds, whatever it says of gzip."""
    path, params, headers = {**COMPRESSIBLE, **NEVER}[kind]
    for encoding in ENCODINGS.values():
        full = client.get(path, query_string=params, headers={**headers, **encoding})
        tags = {full.headers["ETag"], full.headers["ETag"].removeprefix("W/")}
        for tag in tags:
            again = client.get(path, query_string=params,
                               headers={**headers, **encoding, "If-None-Match": tag})
            assert again.status_code == 304, (encoding, tag)
            assert _vary(again) == _vary(full), (encoding, tag)


def test_a_download_with_byte_ranges_is_never_compressed(built_store: Path) -> None:
    with _served(built_store, COMPRESS_MIN_BYTES=1) as application:
        answer = application.test_client().get("/download/datasets.csv", headers=GZIP)
    assert answer.status_code == 200 and answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert "Content-Encoding" not in answer.headers
    assert answer.data.startswith(b"dataset") or b"," in answer.data.splitlines()[0]


def test_each_variant_is_revalidated_with_its_own_etag(client) -> None:
    for path, params, headers in ANSWERS.values():
        strong = client.get(path, query_string=params, headers=headers).headers["ETag"]
        weak = client.get(path, query_string=params, headers={**headers, **GZIP}).headers["ETag"]
        again = client.get(
            path, query_string=params, headers={**headers, **GZIP, "If-None-Match": weak}
        )
        assert again.status_code == 304 and again.headers["ETag"] == weak
        assert "Accept-Encoding" in _vary(again)
        plain = client.get(path, query_string=params,
                           headers={**headers, "Accept-Encoding": "identity",
                                    "If-None-Match": strong})
        assert plain.status_code == 304 and plain.headers["ETag"] == strong


def test_a_cached_answer_is_compressed_once_and_stays_plain_in_the_cache(
    counting,  # type: ignore[no-untyped-def]
) -> None:
    application, calls = counting
    client = application.test_client()
    query = {"query": "SELECT ?p ?o WHERE { ?s ?p ?o }"}  # a query of this test alone
    first = client.get("/sparql", query_string=query, headers=GZIP)
    second = client.get("/sparql", query_string=query, headers=GZIP)
    plain = client.get("/sparql", query_string=query)  # a client without gzip, the same entry
    cache = application.wsgi_app.app.cache
    assert len(cache) == 1
    (entry,) = cache._items.values()
    assert first.headers["Content-Encoding"] == "gzip" and len(calls) == 1  # compressed once
    assert second.data == first.data and second.headers == first.headers
    assert gzip.decompress(first.data) == plain.data == entry.body  # the cache keeps it plain
    assert "Content-Encoding" not in plain.headers
    assert not any(name == "Content-Encoding" for name, _ in entry.headers)
    assert entry.gzipped == first.data  # the gzip form lives with the entry
    # the hits' headers, worked out once on the entry, vary as the first answer's
    assert entry.varied is not None and entry.varied[0]
    for answer in (first, second, plain):
        assert answer.headers["Vary"] == "Accept, Accept-Encoding"


def test_each_cache_entry_has_its_own_gzip_body(
    counting,  # type: ignore[no-untyped-def]
) -> None:
    """Entries that differ by Accept or Host never share a compressed body."""
    application, calls = counting
    client = application.test_client()
    query = {"query": "SELECT ?s ?o WHERE { ?s ?p ?o }"}  # a query of this test alone
    variants = [
        {"Accept": "application/sparql-results+json"},
        {"Accept": "application/sparql-results+xml"},
        {"Accept": "application/sparql-results+xml", "Host": "mirror.example.org"},
    ]
    for headers in variants:
        packed = [client.get("/sparql", query_string=query, headers={**headers, **GZIP})
                  for _ in range(2)]
        plain = client.get("/sparql", query_string=query, headers=headers)
        assert packed[0].headers["Content-Encoding"] == "gzip"
        assert packed[1].data == packed[0].data
        assert gzip.decompress(packed[0].data) == plain.data
    assert len(application.wsgi_app.app.cache) == len(calls) == len(variants)


def test_a_new_store_version_is_compressed_afresh(tmp_path: Path, gzip_calls: list[int]) -> None:
    """The same request after a publish is a new entry: never the old version's gzip body."""
    _publish_value(tmp_path, "first")
    query = {"query": "SELECT ?v WHERE { ?s ?p ?v }"}
    with _served(tmp_path, COMPRESS_MIN_BYTES=1) as application:
        client = application.test_client()
        before = [client.get("/sparql", query_string=query, headers=GZIP) for _ in range(2)]
        _publish_value(tmp_path, "second")
        after = client.get("/sparql", query_string=query, headers=GZIP)
    assert before[0].data == before[1].data and b'"first"' in gzip.decompress(before[0].data)
    assert after.headers["Content-Encoding"] == "gzip"
    assert b'"second"' in gzip.decompress(after.data)
    assert len(gzip_calls) == 2  # once per version


def _publish_value(store: Path, value: str) -> None:
    """Publish a version of `store` holding one triple whose object is the literal `value`."""
    staged = StagedVersion(store)
    node = ox.NamedNode("http://example.org/x")
    staged.load_quads([ox.Quad(node, node, ox.Literal(value), ox.NamedNode("http://example.org/g"))])
    staged.publish({"test": True})


def test_a_cached_answer_gzip_form_is_used_only_for_that_very_body() -> None:
    """A body that is not the entry's own (a layer in between changed it) is compressed itself."""
    entry = CachedAnswer("200 OK", (("Content-Type", "text/plain"),), b"c" * 100)
    # a gzip form the layer would not make itself (it writes no time): reuse shows in the bytes
    entry.gzipped = gzip.compress(entry.body, mtime=1)

    def inner(body: list[bytes]):  # type: ignore[no-untyped-def]
        def app(environ, start_response):  # type: ignore[no-untyped-def]
            environ[ANSWER] = entry
            start_response(entry.status, list(entry.headers))
            return body

        return app

    other = b"d" * 100
    for body, expected in (([entry.body], entry.gzipped), ([other], gzip_bytes(other))):
        environ = EnvironBuilder(path="/x", headers=GZIP).get_environ()
        out, _, headers = run_wsgi_app(Compression(inner(body), 10), environ)
        assert headers["Content-Encoding"] == "gzip" and b"".join(out) == expected


def test_a_cached_answer_vary_is_worked_out_once_and_only_for_its_own_headers() -> None:
    """A hit's headers are merged once; headers a layer in between made are merged afresh."""
    entry = CachedAnswer("200 OK", (("Content-Type", "text/plain"), ("Vary", "Accept")), b"c")

    def answering(headers: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
        def app(environ, start_response):  # type: ignore[no-untyped-def]
            environ[ANSWER] = entry  # as the answer cache leaves it before a hit's answer
            start_response(entry.status, headers)
            return [entry.body]

        return app

    def sent(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        environ = EnvironBuilder(path="/x").get_environ()  # no Accept-Encoding
        return run_wsgi_app(Compression(answering(headers), 10), environ)[2].to_wsgi_list()

    merged = [("Content-Type", "text/plain"), ("Vary", "Accept, Accept-Encoding")]
    assert sent(list(entry.headers)) == merged
    assert entry.varied == (True, tuple(merged))
    # a kept form the layer would not make itself: its reuse shows in the headers
    entry.varied = (True, (("Content-Type", "text/plain"), ("Vary", "Accept, X-Kept")))
    assert sent(list(entry.headers)) == list(entry.varied[1])
    # the same values in other tuples are not the entry's own: worked out, not reused
    assert sent([(name, value) for name, value in entry.headers]) == merged


@pytest.mark.parametrize("minimum", [1024, 0])
def test_cors_vary_joins_the_one_vary_field(built_store: Path, minimum: int) -> None:
    """An allowed origin's Vary: Origin goes into the answer's Vary field, compressed or not."""
    origin = "https://viewer.example.org"
    config = {"CORS_ORIGINS": origin, "COMPRESS_MIN_BYTES": minimum, "CACHE_ENTRIES": 0}
    with _served(built_store, **config) as application:
        client = application.test_client()
        for path, params, headers in (ANSWERS["select-json"], ANSWERS["dataset-page"],
                                      ("/sparql", {"query": "ASK {}"}, {})):  # the direct path
            answer = client.get(path, query_string=params, headers={**headers, "Origin": origin})
            assert answer.headers["Access-Control-Allow-Origin"] == origin
            expected = ["Accept", "Origin"] + (["Accept-Encoding"] if minimum else [])
            assert _vary(answer) == expected, path


def test_the_setting_switches_compression_off(built_store: Path) -> None:
    with _served(built_store, COMPRESS_MIN_BYTES=0) as application:
        answer = application.test_client().get("/void", headers=GZIP)
    assert not isinstance(application.wsgi_app, Compression)
    assert "Content-Encoding" not in answer.headers and answer.data.startswith(b"@prefix")


def test_a_negative_minimum_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match="MEDKG_COMPRESS_MIN_BYTES must be 0 or more"):
        resolve({"COMPRESS_MIN_BYTES": -1})


def _layer_answer(body, headers, request_headers=GZIP, status="200 OK"):  # type: ignore[no-untyped-def]
    """What Compression(min 10 bytes) sends for an inner app answering (status, headers, body)."""

    def inner(environ, start_response):  # type: ignore[no-untyped-def]
        start_response(status, headers)
        return body

    environ = EnvironBuilder(path="/x", headers=request_headers).get_environ()
    out, out_status, out_headers = run_wsgi_app(Compression(inner, 10), environ)
    return out_status, out_headers, b"".join(out)


def test_streams_encoded_answers_and_errors_pass_untouched() -> None:
    text = [("Content-Type", "text/plain; charset=utf-8")]
    _, headers, body = _layer_answer(iter([b"x" * 100]), text)  # a stream is never buffered
    assert body == b"x" * 100 and "Content-Encoding" not in headers
    coded = [("Content-Type", "text/plain"), ("Content-Encoding", "br")]
    _, headers, body = _layer_answer([b"y" * 100], coded)
    assert body == b"y" * 100 and headers["Content-Encoding"] == "br"
    _, headers, body = _layer_answer([b"z" * 100], text, status="404 NOT FOUND")
    assert body == b"z" * 100 and "Content-Encoding" not in headers
    png = [("Content-Type", "image/png")]
    _, headers, body = _layer_answer([b"p" * 100], png)
    assert body == b"p" * 100 and "Vary" not in headers


def test_a_body_of_known_length_is_compressed_but_a_stream_without_one_is_not() -> None:
    text = [("Content-Type", "text/plain")]
    sized = [*text, ("Content-Length", "100")]
    _, headers, body = _layer_answer(iter([b"k" * 60, b"k" * 40]), sized)
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == b"k" * 100
    assert headers["Content-Length"] == str(len(body))
    _, headers, body = _layer_answer(iter([b"s" * 100]), text)
    assert body == b"s" * 100 and "Content-Encoding" not in headers


@pytest.mark.parametrize("kind", SIZED)
def test_a_whole_answer_without_validators_is_compressed(client, kind: str) -> None:
    plain, packed = client.get(SIZED[kind]), client.get(SIZED[kind], headers=GZIP)
    assert plain.status_code == packed.status_code == 200 and len(plain.data) > 1024
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data



@pytest.fixture()
def gzip_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The list that gains an item each time the compression layer compresses a body."""
    calls: list[int] = []
    real = compression.gzip_bytes
    monkeypatch.setattr(compression, "gzip_bytes", lambda body: calls.append(1) or real(body))
    return calls


@pytest.fixture()
def counting(built_store: Path, gzip_calls: list[int]) -> Iterator:
    """A fresh app, and the list that gains an item each time it compresses a body."""
    with _served(built_store) as application:
        yield application, gzip_calls


def test_a_static_file_is_compressed_once_without_ranges(
    counting,  # type: ignore[no-untyped-def]
) -> None:
    application, calls = counting
    client = application.test_client()
    plain = client.get(STATIC)
    packed = [client.get(STATIC, headers=GZIP) for _ in range(2)]
    ranged = client.get(STATIC, headers={**GZIP, "Range": "bytes=0-99"})
    etag = packed[0].headers["ETag"]
    again = client.get(STATIC, headers={**GZIP, "If-None-Match": etag})
    assert plain.status_code == 200 and plain.headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in plain.headers
    for answer in packed:
        assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
        assert "Accept-Ranges" not in answer.headers
        assert gzip.decompress(answer.data) == plain.data
        assert answer.headers["ETag"] == "W/" + plain.headers["ETag"]
        assert _vary(answer) == ["Accept-Encoding"]
    assert packed[0].data == packed[1].data and len(calls) == 1  # compressed once
    # a range still counts the plain file's bytes
    assert ranged.status_code == 206 and ranged.data == plain.data[:100]
    assert "Content-Encoding" not in ranged.headers
    assert again.status_code == 304 and again.headers["ETag"] == etag


def test_a_posted_query_is_compressed(client) -> None:
    form = {"query": EVERY_TRIPLE}
    plain = client.post("/sparql", data=form)
    packed = client.post("/sparql", data=form, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data


def test_a_client_that_sends_no_accept_encoding_gets_the_answer_plain_with_vary() -> None:
    headers = [("Content-Type", "text/plain"), ("Vary", "Accept"), ("ETag", '"a"')]
    _, got, body = _layer_answer([b"q" * 100], headers, request_headers={})
    assert body == b"q" * 100
    assert got.to_wsgi_list() == [("Content-Type", "text/plain"),
                                  ("Vary", "Accept, Accept-Encoding"), ("ETag", '"a"')]
    png = [("Content-Type", "image/png"), ("Vary", "Accept")]
    assert _layer_answer([b"p" * 100], png, request_headers={})[1].to_wsgi_list() == png


def test_the_same_answer_gives_the_same_gzip_bytes() -> None:
    text = [("Content-Type", "application/sparql-results+json")]
    first = _layer_answer([b'{"head":{}}' * 50], text)[2]
    assert first == _layer_answer([b'{"head":{}}' * 50], text)[2]
    assert first[4:8] == b"\0\0\0\0"  # no time in the gzip header


def test_the_production_server_compresses_and_sparqlwrapper_reads_it(server) -> None:
    from SPARQLWrapper import JSON, SPARQLWrapper

    url = server.url + "/sparql?query=" + urllib.request.quote(EVERY_TRIPLE)
    with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as answer:
        plain = answer.read()
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(answer.read()) == plain
    # SPARQLWrapper (urllib) sends no Accept-Encoding, so it is sent plain JSON
    client = SPARQLWrapper(server.url + "/sparql")
    client.setQuery(EVERY_TRIPLE)
    client.setReturnFormat(JSON)
    rows = client.query().convert()["results"]["bindings"]
    assert len(rows) == len(json.loads(plain)["results"]["bindings"]) > 0


def test_a_range_under_a_weak_if_range_gets_the_whole_file(built_store: Path) -> None:
    """If-Range compares strongly: the gzip answer's W/ tag never validates plain bytes."""
    with _served(built_store) as application:
        client = application.test_client()
        plain = client.get(STATIC)
        weak = client.get(STATIC, headers=GZIP).headers["ETag"]
        resumed = {"Range": "bytes=100-199", "If-Range": weak}
        packed = client.get(STATIC, headers={**GZIP, **resumed})
        unpacked = client.get(STATIC, headers=resumed)
        strong = client.get(STATIC, headers={**GZIP, **resumed, "If-Range": plain.headers["ETag"]})
    assert weak.startswith("W/")
    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert unpacked.status_code == 200 and unpacked.data == plain.data
    # the plain answer's strong tag still validates its bytes
    assert strong.status_code == 206 and strong.data == plain.data[100:200]


def test_the_ontology_documentation_pages_are_compressed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(REPO / "tests" / "fixtures" / "mini" / "data", home / "data")
    (home / "ontology").symlink_to(REPO / "ontology")
    settings = load_settings(store=home / "store", home=home)
    build(settings, run_validation=False)  # a real build writes the documentation pages
    page = "/ontology/docs/index.html"
    with _served(settings.store) as application:
        client = application.test_client()
        plain, packed = client.get(page), client.get(page, headers=GZIP)
    assert plain.status_code == packed.status_code == 200 and len(plain.data) > 1024
    assert plain.headers["Accept-Ranges"] == "bytes" and "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Ranges" not in packed.headers
    assert gzip.decompress(packed.data) == plain.data


def test_spellings_of_a_static_path_share_one_compressed_copy(
    counting,  # type: ignore[no-untyped-def]
) -> None:
    """Each spelling Flask serves the same file under must not take its own memo entry."""
    application, calls = counting
    spellings = [STATIC, "/static/yasgui//yasgui.min.js", "/static/./yasgui/yasgui.min.js"]
    client = application.test_client()
    answers = [client.get(path, headers=GZIP) for path in spellings]
    assert all(a.status_code == 200 and a.data == answers[0].data for a in answers)
    assert len(calls) == 1 and len(application.wsgi_app._static) == 1


def test_an_error_that_replaces_a_held_answer_is_sent_as_the_error() -> None:
    """A WSGI app may call start_response again with exc_info before its body: that answer wins."""

    def inner(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("the body could not be made")
        except ValueError:
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")],
                           sys.exc_info())
        return [b"e" * 100]

    sent: list[str] = []

    def start_response(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
        # as PEP 3333 asks of a server: headers not yet sent, so a new answer replaces them
        sent.append(status)
        return _ignored

    environ = EnvironBuilder(path="/x", headers=GZIP).get_environ()
    body = b"".join(Compression(inner, 10)(environ, start_response))
    assert sent == ["500 INTERNAL SERVER ERROR"] and body == b"e" * 100


def _ignored(data: bytes) -> None:
    """A `write` callable nobody calls."""
