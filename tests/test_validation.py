"""Tests for medkg.validation: the shapes on good and bad graphs, input reading, reports.

The shapes run against a fixture home: the real ontology/medkg.ttl and ontology/shapes.ttl with
the tiny vocabulary of tests/fixtures/shapes/vocab.ttl, so these tests do not depend on the
state of ontology/vocab/. Each tests/fixtures/shapes/invalid/*.trig is a patch on valid.trig whose
`# expect:` lines name the result it must cause (severity, focus node, path or "-").
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import rdflib
import rdflib.compare

from medkg.config import Settings
from medkg.validation import (
    InputError,
    ValidationIssue,
    ValidationResult,
    format_report,
    read_rdf_file,
    validate_files,
    validate_graph,
    write_report_turtle,
)

ROOT = Path(__file__).resolve().parents[1]
SHAPES_FIXTURES = ROOT / "tests" / "fixtures" / "shapes"
INPUT_FIXTURES = ROOT / "tests" / "fixtures" / "validate"
REMOVE_GRAPH = rdflib.URIRef("urn:medkg-test:remove")
EXPECT = re.compile(r"^# expect: (Violation|Warning|Info) (\S+) (\S+)$", re.MULTILINE)
INVALID_CASES = sorted((SHAPES_FIXTURES / "invalid").glob("*.trig"))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A medkg home with the real ontology and shapes and the fixture vocabulary."""
    home = tmp_path_factory.mktemp("home")
    (home / "ontology" / "vocab").mkdir(parents=True)
    for name in ("medkg.ttl", "shapes.ttl"):
        shutil.copy(ROOT / "ontology" / name, home / "ontology" / name)
    shutil.copy(SHAPES_FIXTURES / "vocab.ttl", home / "ontology" / "vocab" / "fixture.ttl")
    return Settings(home=home, store=home / "store")


@pytest.fixture(scope="module")
def valid_result(settings: Settings) -> ValidationResult:
    return validate_graph(read_rdf_file(SHAPES_FIXTURES / "valid.trig"), settings)


def patched_graph(patch_file: Path) -> rdflib.Graph:
    """valid.trig minus the patch's test:remove graph, plus the rest of the patch."""
    graph = rdflib.Graph()
    for s, p, o, _g in read_rdf_file(SHAPES_FIXTURES / "valid.trig").quads(
        (None, None, None, None)
    ):
        graph.add((s, p, o))
    for s, p, o, g in read_rdf_file(patch_file).quads((None, None, None, None)):
        target = (s, p, o)
        if g == REMOVE_GRAPH:
            assert target in graph, (
                f"{patch_file.name}: removes a triple valid.trig lacks: {target}"
            )
            graph.remove(target)
        else:
            graph.add(target)
    return graph


def test_valid_fixture_has_no_issue_at_all(valid_result: ValidationResult) -> None:
    assert valid_result.conforms
    assert valid_result.issues == [], format_report(valid_result)
    assert valid_result.counts == {"Violation": 0, "Warning": 0, "Info": 0}


def test_there_is_a_bad_example_for_every_shape_family() -> None:
    names = {path.stem.split("-")[0] for path in INVALID_CASES}
    assert {
        "dataset",
        "count",
        "entry",
        "source",
        "challenge",
        "catalogue",
        "agent",
        "scheme",
        "concept",
        "venue",
    } <= names


@pytest.mark.parametrize("patch_file", INVALID_CASES, ids=[p.stem for p in INVALID_CASES])
def test_bad_example_gives_the_expected_result(patch_file: Path, settings: Settings) -> None:
    expected = EXPECT.findall(patch_file.read_text(encoding="utf-8"))
    assert expected, f"{patch_file.name} has no '# expect:' line"
    result = validate_graph(patched_graph(patch_file), settings)
    found = {(i.severity, i.focus, i.path or "-") for i in result.issues}
    for severity, focus, path in expected:
        assert (severity, focus, path) in found, format_report(result)
    # A patch expected to cause only warnings or infos must not break conformance.
    if all(severity != "Violation" for severity, _f, _p in expected):
        assert result.conforms, format_report(result)
    else:
        assert not result.conforms


def test_future_release_year_names_the_year(settings: Settings) -> None:
    result = validate_graph(
        patched_graph(SHAPES_FIXTURES / "invalid" / "dataset-future-year.trig"), settings
    )
    (issue,) = [i for i in result.issues if i.path and i.path.endswith("/issued")]
    assert issue.message == "release year 2999 is in the future"
    assert issue.value == '"2999"^^<http://www.w3.org/2001/XMLSchema#gYear>'


def test_shapes_accept_a_plain_rdflib_graph_with_simple_literals(settings: Settings) -> None:
    """The pipeline builds graphs with rdflib (Literal("3D")), files come typed xsd:string."""
    dataset = read_rdf_file(SHAPES_FIXTURES / "valid.trig")
    graph = rdflib.Graph()
    for s, p, o, _g in dataset.quads((None, None, None, None)):
        if isinstance(o, rdflib.Literal) and o.datatype == rdflib.XSD.string:
            o = rdflib.Literal(str(o))
        graph.add((s, p, o))
    assert validate_graph(graph, settings).issues == []


# --- reading files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "sample.ttl",
        "sample.nt",
        "sample.nq",
        "sample.trig",
        "sample.jsonld",
        "sample.rdf",
        "sample-ttl.data",
    ],
)
def test_every_syntax_reads_the_same_triples(name: str) -> None:
    expected = rdflib.Graph().parse(INPUT_FIXTURES / "sample.ttl", format="turtle")
    dataset = read_rdf_file(INPUT_FIXTURES / name)
    got = rdflib.Graph()
    for s, p, o, _g in dataset.quads((None, None, None, None)):
        if isinstance(o, rdflib.Literal) and o.datatype == rdflib.XSD.string:
            o = rdflib.Literal(str(o))
        got.add((s, p, o))
    assert rdflib.compare.isomorphic(got, expected)


def test_named_graphs_are_merged(settings: Settings) -> None:
    # sample.nq spreads the dataset over two named graphs and the default graph.
    dataset = read_rdf_file(INPUT_FIXTURES / "sample.nq")
    assert len({g for _s, _p, _o, g in dataset.quads((None, None, None, None))}) == 3
    result = validate_files([INPUT_FIXTURES / "sample.nq"], settings)
    # The sample has a titled dataset without provenance: that is the one violation expected.
    assert {(i.path or "").rsplit("#", 1)[-1] for i in result.violations} >= {"wasDerivedFrom"}
    sample = "https://w3id.org/medkg/dataset/sample"
    assert not any(
        i.focus == sample and i.path and i.path.endswith("/title") for i in result.issues
    )


def test_validate_files_merges_several_files(settings: Settings) -> None:
    result = validate_files(
        [SHAPES_FIXTURES / "valid.trig", INPUT_FIXTURES / "extra-dataset.ttl"], settings
    )
    focuses = {i.focus for i in result.violations}
    assert focuses == {"https://w3id.org/medkg/dataset/extra"}


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("broken.ttl", 4),
        ("broken.nt", 2),
        ("broken.nq", 2),
        ("broken.jsonld", 3),
        ("broken.rdf", 4),
    ],
)
def test_malformed_input_names_file_and_line(name: str, line: int) -> None:
    with pytest.raises(InputError) as caught:
        read_rdf_file(INPUT_FIXTURES / name)
    assert caught.value.path == INPUT_FIXTURES / name
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{INPUT_FIXTURES / name}:{line}: ")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_rdf_file(tmp_path / "absent.ttl")


def test_xxe_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    attack = (
        (INPUT_FIXTURES / "xxe.rdf")
        .read_text(encoding="utf-8")
        .replace("SECRET_PATH", secret.as_uri())
    )
    attack_file = tmp_path / "xxe.rdf"
    attack_file.write_text(attack, encoding="utf-8")
    with pytest.raises(InputError, match="DOCTYPE") as caught:
        read_rdf_file(attack_file)
    assert "TOP-SECRET" not in str(caught.value)


def test_xxe_without_extension_is_sniffed_and_refused() -> None:
    with pytest.raises(InputError, match="DOCTYPE"):
        read_rdf_file(INPUT_FIXTURES / "xxe-no-extension.data")


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(InputError, match="DOCTYPE"):
        read_rdf_file(INPUT_FIXTURES / "billion-laughs.rdf")


def test_json_ld_remote_context_is_refused() -> None:
    with pytest.raises(InputError, match="remote @context"):
        read_rdf_file(INPUT_FIXTURES / "remote-context.jsonld")


def test_json_ld_nested_too_deep_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonld"
    deep.write_text(
        '{"@id": "https://example.org/a", "https://example.org/p": '
        + "[" * 5000
        + "]" * 5000
        + "}",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="nested"):
        read_rdf_file(deep)


# --- reports ----------------------------------------------------------------------------------


def _issue(
    severity: str,
    focus: str,
    message: str,
    shape: str = "https://w3id.org/medkg/shapes#DatasetShape",
    path: str | None = "http://purl.org/dc/terms/title",
    value: str | None = None,
) -> ValidationIssue:
    return ValidationIssue(severity, focus, path, value, message, shape)


def test_format_report_groups_counts_and_shortens() -> None:
    issues = [
        _issue(
            "Violation",
            f"https://w3id.org/medkg/dataset/d{n}",
            "a dataset needs exactly one dcterms:title",
        )
        for n in range(5)
    ] + [
        _issue(
            "Warning",
            "https://w3id.org/medkg/dataset/d9",
            "no source list describes this dataset",
            path="http://purl.org/dc/terms/description",
        ),
        _issue(
            "Violation",
            "https://w3id.org/medkg/dataset/d1",
            "bad DOI",
            path="https://w3id.org/medkg/ontology#doi",
            value='"https://doi.org/10.1/x"',
        ),
        _issue(
            "Violation",
            "https://w3id.org/medkg/dataset/d2",
            "another DOI problem",
            path="https://w3id.org/medkg/ontology#doi",
            value='"10.1/x"',
        ),
    ]
    report = format_report(ValidationResult(False, issues, rdflib.Graph()), max_per_group=3)
    lines = report.splitlines()
    assert lines[0] == "Validation: does NOT conform (7 violations, 1 warning, 0 infos)"
    assert lines.index("== Violation (7) ==") < lines.index("== Warning (1) ==")
    assert (
        "[5x] mkgsh:DatasetShape dcterms:title: a dataset needs exactly one dcterms:title" in lines
    )
    assert "    medkg:dataset/d0" in lines
    assert "    ... and 2 more" in lines
    assert "medkg:dataset/d3" not in report  # beyond max_per_group
    # Same shape and path, different messages: one group, the message on each line.
    assert "[2x] mkgsh:DatasetShape mkg:doi" in lines
    assert '    medkg:dataset/d1  value "https://doi.org/10.1/x"  -- bad DOI' in lines
    assert '    medkg:dataset/d2  value "10.1/x"  -- another DOI problem' in lines


def test_report_of_a_real_run_names_severity_and_value(settings: Settings) -> None:
    result = validate_graph(
        patched_graph(SHAPES_FIXTURES / "invalid" / "dataset-bad-dimension.trig"), settings
    )
    report = format_report(result, settings=settings)
    assert "== Violation (1) ==" in report
    assert "[1x] mkgsh:DatasetShape mkg:dimension: mkg:dimension must be one of" in report
    assert 'medkg:dataset/toy-ct  value "5D"' in report


def test_write_report_turtle_is_a_shacl_report(settings: Settings, tmp_path: Path) -> None:
    result = validate_graph(
        patched_graph(SHAPES_FIXTURES / "invalid" / "dataset-bad-doi.trig"), settings
    )
    out = tmp_path / "out" / "report.ttl"
    write_report_turtle(result, out)
    report = rdflib.Graph().parse(out, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    (node,) = report.subjects(rdflib.RDF.type, sh.ValidationReport)
    assert report.value(node, sh.conforms) == rdflib.Literal(False)
    paths = set(report.objects(None, sh.resultPath))
    assert rdflib.URIRef("https://w3id.org/medkg/ontology#doi") in paths
