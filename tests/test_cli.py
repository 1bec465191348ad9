"""The command line end to end: build, query in every format, stats, validate, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
import rdflib
from click.testing import CliRunner

from medkg.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data" / "example-queries").glob("*.rq"))


@pytest.fixture
def runner(mini_home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MEDKG_HOME", str(mini_home))
    return CliRunner()


@pytest.fixture
def built_store(runner: CliRunner, tmp_path: Path) -> str:
    store = str(tmp_path / "store")
    result = runner.invoke(main, ["build", "--store", store])
    assert result.exit_code == 0, result.output
    return store


def test_build_prints_report_table(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["build", "--store", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "tables.md:14  empty row" in result.output
    assert "numbered.md:8  anatomy: 'Zorgbladder'" in result.output
    assert "SHACL validation: conforms" in result.output
    assert "built 10 datasets" in result.output


def test_quiet_build_prints_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["build", "-q", "--store", str(tmp_path / "s")])
    assert result.exit_code == 0
    assert result.output.strip().startswith("built 10 datasets")


SELECT = "SELECT ?t WHERE { ?d a mkg:Dataset ; dcterms:title ?t } ORDER BY ?t"


def test_query_formats(runner: CliRunner, built_store: str) -> None:
    def run(fmt: str, query: str = SELECT) -> str:
        result = runner.invoke(main, ["query", "--store", built_store, "--format", fmt, query])
        assert result.exit_code == 0, result.output
        return result.output

    data = json.loads(run("json"))
    titles = [b["t"]["value"] for b in data["results"]["bindings"]]
    assert "LungAlpha" in titles and len(titles) == 10
    assert list(csv.reader(io.StringIO(run("csv"))))[0] == ["t"]
    assert run("tsv").splitlines()[0] == "?t"
    ElementTree.fromstring(run("xml"))
    assert "(10 rows)" in run("table")
    turtle = run("turtle", "CONSTRUCT { ?d dcterms:title ?t } WHERE { ?d a mkg:Dataset ; dcterms:title ?t }")
    assert len(rdflib.Graph().parse(data=turtle, format="turtle")) == 10
    assert json.loads(run("json", "ASK { ?d a mkg:Dataset }"))["boolean"] is True


def test_query_from_file_and_stdin(runner: CliRunner, built_store: str, tmp_path: Path) -> None:
    query_file = tmp_path / "q.rq"
    query_file.write_text(SELECT)
    from_file = runner.invoke(main, ["query", "--store", built_store, f"@{query_file}"])
    from_stdin = runner.invoke(main, ["query", "--store", built_store, "-"], input=SELECT)
    assert from_file.output == from_stdin.output and "LungAlpha" in from_file.output


def test_malformed_query_names_the_position(runner: CliRunner, built_store: str) -> None:
    result = runner.invoke(main, ["query", "--store", built_store, "SELECT ?x WHERE { ?x ?y }"])
    assert result.exit_code == 2
    assert "malformed query" in result.output and "1:" in result.output


def test_query_without_store_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["query", "--store", str(tmp_path / "none"), SELECT])
    assert result.exit_code == 1 and "run `medkg build` first" in result.output


def test_stats(runner: CliRunner, built_store: str) -> None:
    result = runner.invoke(main, ["stats", "--store", built_store, "--json"])
    data = json.loads(result.output)
    assert data["totals"]["datasets"] == 10
    assert dict(data["source"])["Tiny Imaging Datasets"] == 5
    assert dict(data["year"])["2019"] >= 2
    text = runner.invoke(main, ["stats", "--store", built_store]).output
    assert "datasets per modality:" in text and "datasets per organ:" in text


def test_validate_store_and_files(runner: CliRunner, built_store: str, tmp_path: Path) -> None:
    assert runner.invoke(main, ["validate", "--store", built_store]).exit_code == 0
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix mkg: <https://w3id.org/medkg/ontology#> .\n<https://x.org/d> a mkg:Dataset .\n")
    result = runner.invoke(main, ["validate", str(bad), "--report-ttl", str(tmp_path / "r.ttl")])
    assert result.exit_code == 1, result.output
    assert "Violation" in result.output
    assert (tmp_path / "r.ttl").is_file()
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .\n")
    assert runner.invoke(main, ["validate", str(broken)]).exit_code == 2


def test_failed_build_reports_and_keeps_store(runner: CliRunner, built_store: str) -> None:
    result = runner.invoke(main, ["build", "--store", built_store, "--sources", "/no/such/list.md"])
    assert result.exit_code == 2
    assert "no such file" in result.output and "previous store kept" in result.output


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The five real lists, built once for the example questions."""
    from medkg.build import build
    from medkg.config import load_settings

    store = tmp_path_factory.mktemp("real") / "store"
    build(load_settings(store=store, home=ROOT))
    return str(store)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_readme_example_runs_and_answers(path: Path, real_store: str, monkeypatch) -> None:
    monkeypatch.setenv("MEDKG_HOME", str(ROOT))
    result = CliRunner().invoke(main, ["query", "--store", real_store, "--format", "json", f"@{path}"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]["bindings"]
    assert rows, f"{path.name} returned no rows"
    assert path.name in (ROOT / "README.md").read_text(), f"{path.name} is not listed in README"


def test_he_breast_segmentation_answer(real_store: str, monkeypatch) -> None:
    monkeypatch.setenv("MEDKG_HOME", str(ROOT))
    result = CliRunner().invoke(main, ["query", "--store", real_store, "--format", "json",
                                       f"@{EXAMPLES[0]}"])
    titles = {b["title"]["value"] for b in json.loads(result.output)["results"]["bindings"]}
    assert {"BCSS", "TNBC", "TIGER"} <= titles
    assert "PatchCamelyon" not in titles  # classification only


def test_real_build_meets_the_mapping_target(real_store: str) -> None:
    report = json.loads((Path(real_store) / "report.json").read_text())
    assert report["mapping"]["percent"] >= 98.0
    assert report["validation"]["conforms"] is True
    for source in report["sources"]:
        assert source["rows_read"] == source["entries"] + len(source["skipped"])


def test_export_from_the_command_line(runner: CliRunner, built_store: str, tmp_path: Path) -> None:
    out = tmp_path / "graph.nq"
    result = runner.invoke(main, ["export", "--store", built_store, "--format", "nq", "--out", str(out)])
    assert result.exit_code == 0, result.output
    dataset = rdflib.Dataset()
    dataset.parse(out, format="nquads")
    graphs = {str(g.identifier) for g in dataset.graphs()}
    assert "https://w3id.org/medkg/graph/source/tables" in graphs
    table = tmp_path / "datasets.csv"
    assert runner.invoke(main, ["export", "--store", built_store, "--format", "csv", "--out", str(table)]).exit_code == 0
    assert len(list(csv.DictReader(table.open()))) == 10
    bad = runner.invoke(main, ["export", "--store", built_store, "--format", "xlsx", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "xlsx" in bad.output
