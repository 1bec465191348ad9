"""The ontology's IRI: documentation pages for people, RDF for machines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
import requests
from server_harness import RunningServer, start_server, stop_server

from medkg.build import build
from medkg.config import Settings


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    from medkg.config import load_settings

    root = Path(__file__).resolve().parents[2]
    home = tmp_path_factory.mktemp("home")
    import shutil

    shutil.copytree(root / "tests" / "fixtures" / "mini" / "data", home / "data")
    shutil.copytree(root / "ontology", home / "ontology")
    settings: Settings = load_settings(store=home / "store", home=home)
    build(settings)
    running = start_server(settings.store, tmp_path_factory.mktemp("log") / "s.log", {})
    yield running
    stop_server(running)


def test_browsers_are_sent_to_the_generated_docs(docs_server: RunningServer) -> None:
    answer = requests.get(f"{docs_server.url}/ontology", headers={"Accept": "text/html"},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/ontology/docs/index.html")
    page = requests.get(f"{docs_server.url}/ontology/docs/index.html", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Dataset" in page.text
    scheme_pages = set(re.findall(r'href="(scheme-[a-z]+\.html)"', page.text))
    assert scheme_pages, "index links no scheme page"
    for name in scheme_pages:
        assert requests.get(f"{docs_server.url}/ontology/docs/{name}", timeout=10).status_code == 200


def test_the_docs_folder_address_leads_to_its_index(docs_server: RunningServer) -> None:
    answer = requests.get(f"{docs_server.url}/ontology/docs/", allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/ontology/docs/index.html")
    assert "Dataset" in requests.get(f"{docs_server.url}/ontology/docs/", timeout=10).text


def test_the_version_iri_sends_browsers_to_the_same_docs(docs_server: RunningServer) -> None:
    turtle = requests.get(f"{docs_server.url}/ontology?format=ttl", timeout=10).text
    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    version = graph.value(rdflib.URIRef("https://w3id.org/medkg/ontology"), rdflib.OWL.versionIRI)
    path = str(version).removeprefix("https://w3id.org/medkg")
    answer = requests.get(f"{docs_server.url}{path}", headers={"Accept": "text/html"}, timeout=10)
    # the redirect was relative to the request path: /ontology/<version>/docs/index.html, a 404
    assert answer.status_code == 200 and answer.url.endswith("/ontology/docs/index.html")
    assert "Dataset" in answer.text


def test_machines_get_the_owl_ontology(docs_server: RunningServer) -> None:
    answer = requests.get(f"{docs_server.url}/ontology", headers={"Accept": "text/turtle"}, timeout=10)
    assert answer.status_code == 200
    graph = rdflib.Graph().parse(data=answer.text, format="turtle")
    assert (rdflib.URIRef("https://w3id.org/medkg/ontology"), rdflib.RDF.type, rdflib.OWL.Ontology) in graph


@pytest.mark.parametrize("path", ["../report.json", "..%2Freport.json", "%2e%2e/%2e%2e/current", "nope.html"])
def test_docs_route_serves_nothing_outside_the_docs(docs_server: RunningServer, path: str) -> None:
    answer = requests.get(f"{docs_server.url}/ontology/docs/{path}", timeout=10)
    assert answer.status_code == 404


def test_the_jsonld_context_is_published_at_the_base(docs_server: RunningServer) -> None:
    """Exports name <base>context.jsonld; the server maps the base to itself and serves it."""
    import json

    from pyld import jsonld

    answer = requests.get(f"{docs_server.url}/context.jsonld", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/ld+json")
    context = answer.json()["@context"]
    root = Path(__file__).resolve().parents[2]
    assert context == json.loads((root / "ontology" / "context.jsonld").read_text())["@context"]
    expanded = jsonld.expand({"@context": context, "@id": "https://w3id.org/medkg/dataset/x",
                              "@type": "Dataset", "name": "X"})
    assert expanded[0]["@type"] == ["https://schema.org/Dataset"]
