"""SPARQL-based targets of ontology/shapes.ttl select the focus nodes their fixtures name.

Each tests/fixtures/shapes/targets/*.ttl holds edge cases for one shape's sh:target query, with
`# shape:` naming the shape and one `# focus:` line per node the target must select. The query
runs twice: on rdflib, as pyshacl runs it, and on Oxigraph, as medkg.sparql_validation runs it.
A target rewritten for speed keeps its fixture, so its focus nodes stay the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import SH

ROOT = Path(__file__).resolve().parents[1]
TARGET_FIXTURES = sorted((ROOT / "tests" / "fixtures" / "shapes" / "targets").glob("*.ttl"))
SHAPE = re.compile(r"^# shape: (\S+)$", re.MULTILINE)
FOCUS = re.compile(r"^# focus: (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(ROOT / "ontology" / "shapes.ttl")


def target_query(shapes: rdflib.Graph, shape: str) -> str:
    """The shape's sh:select, with the PREFIX lines its sh:prefixes declare."""
    target = shapes.value(rdflib.URIRef(shape), SH.target)
    select = shapes.value(target, SH.select)
    assert select is not None, f"{shape} has no SPARQL-based target"
    prologue = "".join(f"PREFIX {shapes.value(d, SH.prefix)}: <{shapes.value(d, SH.namespace)}>\n"
                       for d in shapes.objects(None, SH.declare))
    return prologue + str(select)


@pytest.mark.parametrize("fixture", TARGET_FIXTURES, ids=[p.stem for p in TARGET_FIXTURES])
def test_target_selects_the_expected_focus_nodes(fixture: Path, shapes: rdflib.Graph) -> None:
    text = fixture.read_text(encoding="utf-8")
    (shape,) = SHAPE.findall(text)
    expected = set(FOCUS.findall(text))
    query = target_query(shapes, shape)
    graph = rdflib.Graph().parse(fixture)
    assert {str(row[0]) for row in graph.query(query)} == expected  # type: ignore[index]
    store = ox.Store()
    store.load(fixture.read_bytes(), ox.RdfFormat.TURTLE)
    assert {row["this"].value for row in store.query(query)} == expected  # type: ignore[union-attr]
