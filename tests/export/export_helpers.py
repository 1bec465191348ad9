"""Independent checks for the export tests: pyld expansion, offline rdflib and pyoxigraph
readings, `medkg validate`, and rdflib graphs of the fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner, Result

from medkg.cli import main
from medkg.config import Settings
from medkg.export.terms import to_rdflib_triple

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


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


def rdflib_jsonld(path: Path) -> rdflib.Graph:
    """`path` read by rdflib's JSON-LD parser (which fetches a remote context when named)."""
    return rdflib.Graph().parse(path, format="json-ld")


def oxigraph_jsonld(path: Path) -> rdflib.Graph:
    """`path` read by pyoxigraph's JSON-LD parser, which has no document loader here and so
    fails on a remote context; its triples as an rdflib graph, for isomorphism checks."""
    graph = rdflib.Graph()
    for quad in ox.parse(path=str(path), format=ox.RdfFormat.JSON_LD):
        assert quad.graph_name == ox.DefaultGraph(), quad
        graph.add(to_rdflib_triple(quad.triple))
    return graph


def medkg_validate(path: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    """`medkg validate PATH` against the project's shapes."""
    monkeypatch.setenv("MEDKG_HOME", str(REPO))
    return CliRunner().invoke(main, ["validate", str(path)])


def assert_validated_alike(first: Path, second: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`medkg validate` reads both files (no input error) and says the same of each."""
    one, other = medkg_validate(first, monkeypatch), medkg_validate(second, monkeypatch)
    assert one.exit_code != 2, one.output
    assert (one.exit_code, one.output) == (other.exit_code, other.output)
