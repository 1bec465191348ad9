"""RDF dumps read back by rdflib (and rapper where installed) give the fixture's graph exactly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import rdflib
from export_helpers import fixture_dataset, fixture_union, pyld_graph
from rdflib.compare import isomorphic

from medkg.export import export

TRIPLE_FORMATS = {"ttl": "turtle", "nt": "nt", "rdfxml": "xml"}
QUAD_FORMATS = {"nq": "nquads", "trig": "trig"}
RAPPER_SYNTAX = {"ttl": "turtle", "nt": "ntriples", "rdfxml": "rdfxml", "nq": "nquads", "trig": "trig"}


@pytest.mark.parametrize("fmt", sorted(TRIPLE_FORMATS))
def test_triple_dumps_hold_the_union_graph(export_settings, out_dir: Path, fmt: str) -> None:
    path = export(export_settings, fmt, out_dir / f"graph.{fmt}", quiet=True)
    graph = rdflib.Graph()
    graph.parse(path, format=TRIPLE_FORMATS[fmt])
    assert isomorphic(graph, fixture_union())


@pytest.mark.parametrize("fmt", sorted(QUAD_FORMATS))
def test_quad_dumps_keep_every_named_graph(export_settings, out_dir: Path, fmt: str) -> None:
    path = export(export_settings, fmt, out_dir / f"graph.{fmt}", quiet=True)
    dumped = rdflib.Dataset()
    dumped.parse(path, format=QUAD_FORMATS[fmt])
    expected = fixture_dataset()
    names = {g.identifier for g in expected.graphs() if len(g)}
    assert {g.identifier for g in dumped.graphs() if len(g)} == names
    for name in names:
        assert isomorphic(dumped.graph(name), expected.graph(name)), name


def test_jsonld_dump_uses_the_published_context_and_expands_to_the_union(export_settings, out_dir: Path) -> None:
    path = export(export_settings, "jsonld", out_dir / "graph.jsonld", quiet=True)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["@context"] == "https://w3id.org/medkg/context.jsonld"
    # keys read as plain JSON: the dataset nodes use the context's short names
    camelyon = next(n for n in document["@graph"] if n["@id"].endswith("/dataset/camelyon16"))
    assert "altLabel" in camelyon and "organ" in camelyon
    assert isomorphic(pyld_graph(document, export_settings), fixture_union())


@pytest.mark.skipif(shutil.which("rapper") is None, reason="rapper (raptor2-utils) not installed")
@pytest.mark.parametrize("fmt", sorted(RAPPER_SYNTAX))
def test_rapper_parses_each_dump(export_settings, out_dir: Path, fmt: str) -> None:
    path = export(export_settings, fmt, out_dir / f"graph.{fmt}", quiet=True)
    result = subprocess.run(
        ["rapper", "-q", "-i", RAPPER_SYNTAX[fmt], "-o", "nquads", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reread = rdflib.Dataset()
    reread.parse(data=result.stdout, format="nquads")
    union = rdflib.Graph()
    for s, p, o, _ in reread.quads():
        union.add((s, p, o))
    assert isomorphic(union, fixture_union())
    if fmt in QUAD_FORMATS:
        assert len(result.stdout.splitlines()) == sum(1 for _ in fixture_dataset().quads())
