"""Independent checks for the export tests: pyld expansion and rdflib graphs of the fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rdflib

from medkg.config import Settings

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_dataset() -> rdflib.Dataset:
    dataset = rdflib.Dataset()
    dataset.parse(FIXTURES / "catalogue.trig", format="trig")
    return dataset


def fixture_union() -> rdflib.Graph:
    """All triples of the fixture, graphs merged."""
    union = rdflib.Graph()
    for s, p, o, _ in fixture_dataset().quads():
        union.add((s, p, o))
    return union


def pyld_graph(document: dict[str, Any], settings: Settings) -> rdflib.Graph:
    """Expand `document` with pyld (serving the published context offline) and read the
    resulting N-Quads with rdflib."""
    jsonld = pytest.importorskip("pyld.jsonld")
    context_file = settings.ontology_dir / "context.jsonld"
    context_url = f"{settings.base}context.jsonld"

    def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        if url != context_url:
            raise AssertionError(f"the document asked for an unexpected remote context {url}")
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": json.loads(context_file.read_text(encoding="utf-8")),
        }

    options = {"documentLoader": loader}
    expanded = jsonld.expand(document, options)
    assert expanded, "pyld expanded the document to nothing"
    nquads = jsonld.to_rdf(expanded, {"format": "application/n-quads", **options})
    graph = rdflib.Graph()
    graph.parse(data=nquads, format="nquads")
    return graph
