"""The W3C SPARQL 1.1 Protocol tests that apply to a read-only query endpoint.

The cases are read from the W3C manifest (a copy in fixtures/w3c-protocol/) and sent byte for
byte with http.client: the manifest's method, path, headers and body, nothing added. The update
cases are left out (the endpoint is read-only by default; tests/server/test_update.py covers
updates). A negative case must fail for a real reason, not through a missing route (404).
"""

from __future__ import annotations

import http.client
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import rdflib
from rdflib.collection import Collection

W3C_DIR = Path(__file__).parent / "fixtures" / "w3c-protocol"
MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = rdflib.Namespace("http://www.w3.org/2011/http#")
CNT = rdflib.Namespace("http://www.w3.org/2011/content#")
HTS = rdflib.Namespace("http://www.w3.org/2011/http-statusCodes#")
BOOLEAN_TYPES = ("application/sparql-results+xml", "application/sparql-results+json")
TABULAR_TYPES = (*BOOLEAN_TYPES, "text/csv", "text/tab-separated-values")
RDF_TYPES = ("application/rdf+xml", "text/turtle", "application/n-triples")  # the suite's list


@dataclass(frozen=True)
class Step:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    statuses: frozenset[int]  # acceptable status classes: 2, 3, 4
    expected_format: str | None
    expected_boolean: bool | None


def _applies(name: str) -> bool:
    return name.startswith("query_") or name in {
        "bad_query_method",
        "bad_multiple_queries",
        "bad_query_wrong_media_type",
        "bad_query_missing_form_type",
        "bad_query_missing_direct_type",
        "bad_query_non_utf8",
        "bad_query_syntax",
    }


def load_cases() -> list[tuple[str, list[Step]]]:
    graph = rdflib.Graph().parse(W3C_DIR / "manifest.ttl", format="turtle")
    manifest = next(graph.subjects(rdflib.RDF.type, MF.Manifest))
    cases = []
    for test in Collection(graph, graph.value(manifest, MF.entries)):
        name = str(test).rsplit("#", 1)[-1]
        if not _applies(name):
            continue
        action = graph.value(test, MF.action)
        steps = [_step(graph, r) for r in Collection(graph, graph.value(action, HT.requests))]
        cases.append((name, steps))
    return cases


def _step(graph: rdflib.Graph, request: rdflib.term.Node) -> Step:
    headers = []
    header_list = graph.value(request, HT.headers)
    if header_list is not None:
        for header in Collection(graph, header_list):
            headers.append(
                (str(graph.value(header, HT.fieldName)), str(graph.value(header, HT.fieldValue)))
            )
    body = None
    body_node = graph.value(request, HT.body)
    if body_node is not None:
        encoding = str(graph.value(body_node, CNT.characterEncoding) or "UTF-8")
        body = str(graph.value(body_node, CNT.chars)).encode(encoding.lower())
    response = graph.value(request, HT.resp)
    statuses = frozenset(int(str(s)[-3]) for s in graph.objects(response, MF.expectedStatus))
    expected_boolean = graph.value(response, MF.expectedBoolean)
    expected_format = graph.value(response, MF.expectedFormat)
    return Step(
        method=str(graph.value(request, HT.methodName)),
        path=str(graph.value(request, HT.absolutePath)),
        headers=tuple(headers),
        body=body,
        statuses=statuses,
        expected_format=str(expected_format) if expected_format is not None else None,
        expected_boolean=expected_boolean.toPython() if expected_boolean is not None else None,
    )


CASES = load_cases()


def test_manifest_copy_has_the_applicable_cases():
    names = [name for name, _ in CASES]
    assert len(names) == 20 and "query_multiple_dataset" in names and "bad_query_non_utf8" in names


def _send(base_url: str, step: Step) -> tuple[int, str, bytes]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    # The manifest's paths start with /sparql/; that is this server's endpoint path as well.
    connection.putrequest(step.method, step.path, skip_accept_encoding=True)
    for name, value in step.headers:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(step.body or b"")))
    connection.endheaders(step.body or b"")
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type", ""), body


def _boolean(content_type: str, body: bytes) -> bool:
    if content_type.startswith("application/sparql-results+json"):
        return json.loads(body)["boolean"]
    element = ET.fromstring(body).find("{http://www.w3.org/2005/sparql-results#}boolean")
    return element is not None and element.text == "true"


@pytest.mark.parametrize(("name", "steps"), CASES, ids=[name for name, _ in CASES])
def test_w3c_protocol_case(server, name, steps):
    for step in steps:
        status, content_type, body = _send(server.url, step)
        assert status // 100 in step.statuses, f"{name}: {status} {body[:300]!r}"
        if 4 in step.statuses:
            assert status != 404, f"{name} passed only through a missing route"
            continue
        media_type = content_type.split(";")[0].strip()
        if step.expected_format == "boolean":
            assert media_type in BOOLEAN_TYPES
        elif step.expected_format == "tabular":
            assert media_type in TABULAR_TYPES
        elif step.expected_format == "RDF":
            assert media_type in RDF_TYPES
            assert content_type.endswith("charset=utf-8")
        if step.expected_boolean is not None:
            assert _boolean(content_type, body) is step.expected_boolean
