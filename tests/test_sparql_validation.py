"""SHACL compiled to SPARQL finds exactly what pyshacl finds.

Every comparison runs the same graph through `medkg.validation.validate_graph` (pyshacl) and
through `medkg.sparql_validation.validate_store_sparql` (Oxigraph), and requires the same
ValidationIssue records: severity, focus, path, value, message and shape. The graphs are the
tiny test lists (tests/fixtures/mini) as built and with violations injected, and each patch of
tests/fixtures/shapes/invalid/*.trig applied to tests/fixtures/shapes/valid.trig (the patches
cover every feature shapes.ttl uses; each names the result it must cause in `# expect:` lines).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from test_batch_validation import inject_violations

from medkg.build import assemble
from medkg.config import Settings
from medkg.graph import quads_to_rdflib, rdflib_to_quads
from medkg.namespaces import Namespaces
from medkg.ontology import ontology_graph, shapes_graph, vocabulary_graph
from medkg.sparql_validation import (
    FOCUS_NODES,
    CompiledCheck,
    FocusCache,
    compile_shapes,
    plan,
    validate_store_sparql,
)
from medkg.validation import ValidationResult, format_report, read_rdf_file, validate_graph

ROOT = Path(__file__).resolve().parents[1]
SHAPES_FIXTURES = ROOT / "tests" / "fixtures" / "shapes"
REMOVE_GRAPH = rdflib.URIRef("urn:medkg-test:remove")
EXPECT = re.compile(r"^# expect: (Violation|Warning|Info) (\S+) (\S+)$", re.MULTILINE)
INVALID_CASES = sorted((SHAPES_FIXTURES / "invalid").glob("*.trig"))


@pytest.fixture(scope="module")
def fixture_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home with the real ontology and shapes and the fixture vocabulary (as test_validation)."""
    home = tmp_path_factory.mktemp("home")
    (home / "ontology" / "vocab").mkdir(parents=True)
    for name in ("medkg.ttl", "shapes.ttl"):
        shutil.copy(ROOT / "ontology" / name, home / "ontology" / name)
    shutil.copy(SHAPES_FIXTURES / "vocab.ttl", home / "ontology" / "vocab" / "fixture.ttl")
    return Settings(home=home, store=home / "store")


def patched_graph(patch_file: Path) -> rdflib.Graph:
    """valid.trig minus the patch's test:remove graph, plus the rest of the patch."""
    graph = rdflib.Graph()
    for s, p, o, _g in read_rdf_file(SHAPES_FIXTURES / "valid.trig").quads((None, None, None, None)):
        graph.add((s, p, o))
    for s, p, o, g in read_rdf_file(patch_file).quads((None, None, None, None)):
        if g == REMOVE_GRAPH:
            graph.remove((s, p, o))
        else:
            graph.add((s, p, o))
    return graph


def store_of(data: rdflib.Graph | list[ox.Quad], settings: Settings) -> ox.Store:
    """An in-memory store laid out as a build lays it out: data, ontology and vocabularies."""
    ns = Namespaces(settings.base)
    store = ox.Store()
    if isinstance(data, rdflib.Graph):
        store.bulk_extend(rdflib_to_quads(data, ns.graph("catalogue")))
    else:
        store.bulk_extend(data)
    store.bulk_extend(rdflib_to_quads(ontology_graph(settings), ns.graph("ontology")))
    store.bulk_extend(rdflib_to_quads(vocabulary_graph(settings), ns.graph("vocabulary")))
    return store


def pyshacl_on(store: ox.Store, settings: Settings) -> ValidationResult:
    """pyshacl over what the store holds.

    Oxigraph stores numbers by value, so a value comes back in canonical form ("-3.0"^^xsd:decimal
    as "-3"): both validators must read the same graph, the store's.
    """
    return validate_graph(quads_to_rdflib(store), settings)


def assert_same(pyshacl_result: ValidationResult, sparql_result: ValidationResult) -> None:
    """Equal issue lists (sorted the same way), verdicts and counts."""
    expected, got = set(pyshacl_result.issues), set(sparql_result.issues)
    assert got == expected, (
        f"missing: {sorted(expected - got, key=str)}\nextra: {sorted(got - expected, key=str)}")
    assert sparql_result.issues == pyshacl_result.issues
    assert sparql_result.conforms == pyshacl_result.conforms
    assert sparql_result.counts == pyshacl_result.counts


def test_shapes_ttl_compiles_entirely(fixture_settings: Settings) -> None:
    """No shape of ontology/shapes.ttl needs the pyshacl fallback."""
    checks, fallback = compile_shapes(shapes_graph(fixture_settings), ox.Store())
    assert fallback == []
    assert {check.kind for check in checks} == {"value", "count", "missing", "sparql"}


def test_valid_fixture_has_no_issue(fixture_settings: Settings) -> None:
    graph = patched_graph(SHAPES_FIXTURES / "valid.trig")
    result = validate_store_sparql(store_of(graph, fixture_settings), fixture_settings)
    assert result.conforms and result.issues == [], format_report(result)


@pytest.mark.parametrize("join_below", [0, 10_000], ids=["scan", "join"])
@pytest.mark.parametrize("patch_file", INVALID_CASES, ids=[p.stem for p in INVALID_CASES])
def test_each_patch_finds_what_pyshacl_finds(patch_file: Path, join_below: int,
                                             fixture_settings: Settings) -> None:
    """Both query plans (scan the path, or start from the focus nodes) give pyshacl's issues."""
    store = store_of(patched_graph(patch_file), fixture_settings)
    result = validate_store_sparql(store, fixture_settings, join_below=join_below)
    found = {(i.severity, i.focus, i.path or "-") for i in result.issues}
    for expected in EXPECT.findall(patch_file.read_text(encoding="utf-8")):
        assert expected in found, format_report(result)
    assert_same(pyshacl_on(store, fixture_settings), result)


def test_future_year_message_is_filled_in(fixture_settings: Settings) -> None:
    graph = patched_graph(SHAPES_FIXTURES / "invalid" / "dataset-future-year.trig")
    result = validate_store_sparql(store_of(graph, fixture_settings), fixture_settings)
    (issue,) = [i for i in result.issues if i.path and i.path.endswith("/issued")]
    assert issue.message == "release year 2999 is in the future"
    assert issue.value == '"2999"^^<http://www.w3.org/2001/XMLSchema#gYear>'


def test_same_issues_as_pyshacl_on_the_mini_lists(mini_settings: Settings) -> None:
    quads = assemble(mini_settings).quads
    store = store_of(quads, mini_settings)
    assert_same(pyshacl_on(store, mini_settings), validate_store_sparql(store, mini_settings))


@pytest.mark.parametrize("join_below", [0, 10_000], ids=["scan", "join"])
def test_same_issues_as_pyshacl_with_injected_violations(mini_settings: Settings,
                                                         join_below: int) -> None:
    ns = Namespaces(mini_settings.base)
    quads = inject_violations(assemble(mini_settings).quads, ns)
    store = store_of(quads, mini_settings)
    sparql = validate_store_sparql(store, mini_settings, join_below=join_below)
    assert not sparql.conforms
    assert_same(pyshacl_on(store, mini_settings), sparql)


# --- query plans ------------------------------------------------------------------------------


class CountingStore:
    """A store that records every query text it runs (pyoxigraph's Store cannot be patched)."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.queries: list[str] = []

    def query(self, query: str, **options: object) -> object:
        self.queries.append(query)
        return self.store.query(query, **options)


def test_small_sparql_target_lists_its_focus_nodes(fixture_settings: Settings) -> None:
    """A SPARQL constraint of a small target runs with VALUES ?this, as pyshacl binds $this."""
    graph = patched_graph(SHAPES_FIXTURES / "invalid" / "dataset-challenge-before-release.trig")
    store = store_of(graph, fixture_settings)
    checks, _ = compile_shapes(shapes_graph(fixture_settings), store)
    (check,) = [c for c in checks if c.shape.endswith("ChallengeAfterReleaseShape")]
    query, rows_focus = plan(check, FocusCache(store))
    assert "VALUES ?this { <https://w3id.org/medkg/dataset/toy-ct> }" in query
    assert rows_focus is None and "MIN(" not in query  # the target query is not run again
    assert plan(check, FocusCache(store, join_below=0)) == (check.query, check.focus)


def test_blank_focus_nodes_keep_the_subquery() -> None:
    """A blank node cannot be named in a query: such a target stays a subquery."""
    store = ox.Store()
    store.add(ox.Quad(ox.BlankNode(), ox.NamedNode(str(rdflib.RDF.type)), ox.NamedNode("urn:C")))
    target = "SELECT DISTINCT ?this WHERE { ?this a <urn:C> }"
    check = CompiledCheck(kind="sparql", query="subquery", shape="s", severity="Violation",
                          path=None, messages=(), joined=f"VALUES ?this {{ {FOCUS_NODES} }}",
                          target=target)
    assert plan(check, FocusCache(store)) == ("subquery", None)


def test_large_targets_are_not_held_in_memory() -> None:
    """Deciding a plan reads at most join_below focus nodes, and keeps them only when all."""
    store = ox.Store()
    store.extend(ox.Quad(ox.NamedNode(f"urn:n{i}"), ox.NamedNode(str(rdflib.RDF.type)),
                         ox.NamedNode("urn:C")) for i in range(5))
    target = "SELECT DISTINCT ?this WHERE { ?this a <urn:C> }"
    big, small = FocusCache(store, join_below=3), FocusCache(store, join_below=10)
    assert not big.is_small(target) and target not in big.sets
    assert small.is_small(target) and len(small.sets[target]) == 5


def test_checks_sharing_a_query_run_it_once(fixture_settings: Settings) -> None:
    """Datasets' and counts' rdfs:label scans are one query, and the result is unchanged."""
    graph = patched_graph(SHAPES_FIXTURES / "invalid" / "dataset-two-titles.trig")
    store = CountingStore(store_of(graph, fixture_settings))
    result = validate_store_sparql(store, fixture_settings, join_below=0)  # type: ignore[arg-type]
    checks, _ = compile_shapes(shapes_graph(fixture_settings), store.store)
    assert len({c.query for c in checks}) < len(checks)
    ran = [q for q in store.queries if q in {c.query for c in checks}]
    assert len(ran) == len(set(ran)) == len({c.query for c in checks})
    assert_same(pyshacl_on(store.store, fixture_settings), result)
