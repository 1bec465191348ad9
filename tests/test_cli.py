"""The command line end to end: build, query in every format, stats, validate, errors."""

from __future__ import annotations

import csv
import http.server
import io
import json
import socket
import threading
from pathlib import Path
from xml.etree import ElementTree

import pytest
import rdflib
from click.testing import CliRunner, Result

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


def test_the_report_names_a_few_dropped_links_and_counts_the_rest(tmp_path: Path) -> None:
    from medkg.cli import SHOWN_LINKS, render_report

    report = {
        "sources": [], "entries": 0, "datasets": 0, "datasets_in_several_lists": 0,
        "mapping": {"percent": 100.0, "kinds": {}}, "unmatched_mentions": [],
        "dropped_links": [{"file": "a.md", "line": n, "href": f"./r{n}.md"}
                          for n in range(SHOWN_LINKS + 3)],
    }
    text = render_report(report)
    assert f"links not stored (not http(s) URLs): {SHOWN_LINKS + 3}" in text
    assert "a.md:0  './r0.md'" in text
    assert f"./r{SHOWN_LINKS}.md" not in text
    assert "... and 3 more" in text


def test_the_report_names_datasets_whose_iris_went(tmp_path: Path) -> None:
    from medkg.cli import render_report

    report = {
        "sources": [], "entries": 0, "datasets": 0, "datasets_in_several_lists": 0,
        "mapping": {"percent": 100.0, "kinds": {}}, "unmatched_mentions": [],
        "datasets_gone": [{"iri": "https://w3id.org/medkg/dataset/b",
                           "now_in": "https://w3id.org/medkg/dataset/a"},
                          {"iri": "https://w3id.org/medkg/dataset/c", "now_in": None}],
        "curation_unused": ["merge.tsv:11 CHASE ~ CHASE_DB1"],
    }
    text = render_report(report)
    assert "  merge.tsv:11 CHASE ~ CHASE_DB1" in text.splitlines()
    assert "datasets published before and not now (2;" in text
    assert "dataset/b  (its entries are now in https://w3id.org/medkg/dataset/a)" in text
    assert "  https://w3id.org/medkg/dataset/c" in text.splitlines()  # nowhere now


def test_a_list_that_gives_nothing_is_named(runner: CliRunner, tmp_path: Path,
                                            write_list) -> None:
    # the separator row has two cells for three columns: markdown reads text, not a table
    lists = write_list(
        "broken-table",
        "# Broken\n\n| Dataset | Link | Year |\n|---|---|\n"
        "| Gamma | [x](https://example.org/g) | 2020 |\n",
    )
    store = tmp_path / "s"
    assert runner.invoke(main, ["build", "--store", str(store), "-q"]).exit_code == 0
    published = (store / "current").resolve()
    result = runner.invoke(main, ["build", "--store", str(store), "-q", "--sources", str(lists)])
    line = assert_one_line_error(result, 2, "no dataset entry read from broken-table (",
                                 "broken-table.md)", "is its table well formed?")
    assert line.endswith(f"(previous store kept at {store})")
    assert (store / "current").resolve() == published
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = runner.invoke(main, ["build", "--store", str(tmp_path / "s"),
                                   "--sources", str(empty)])
    assert refused.exit_code == 2 and "no markdown list in this folder" in refused.output


def test_a_manifest_list_that_gives_nothing_fails_the_build(
    runner: CliRunner, tmp_path: Path, mini_home: Path
) -> None:
    listed = mini_home / "data" / "sources" / "tables.md"
    listed.write_text("# Moved\n\nThis list now lives elsewhere.\n", encoding="utf-8")
    result = runner.invoke(main, ["build", "--store", str(tmp_path / "s"), "-q"])
    line = assert_one_line_error(result, 2, "no dataset entry read from tables (sources/tables.md)")
    # a first build has no previous store to keep: the line must not promise one
    assert line.endswith(f"(no store was written at {tmp_path / 's'})")
    assert not (tmp_path / "s" / "current").exists()


def test_serve_without_a_store_stops_on_a_list_that_gives_nothing(
    runner: CliRunner, tmp_path: Path, mini_home: Path
) -> None:
    # `medkg serve` on a fresh clone builds first: an empty list must stop it with one line
    (mini_home / "data" / "sources" / "tables.md").write_text("", encoding="utf-8")
    store = tmp_path / "fresh"
    result = runner.invoke(main, ["serve", "--store", str(store), "-q", "--port", "9"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    error = [line for line in result.output.splitlines() if line.startswith("medkg: error:")]
    assert len(error) == 1, result.output
    assert "no dataset entry read from tables (sources/tables.md) (the file is empty)" in error[0]
    assert error[0].endswith(f"(no store was written at {store})")
    assert not (store / "current").exists()


def test_a_url_that_gives_an_html_page_fails_the_build(runner: CliRunner, tmp_path: Path) -> None:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (b"<!DOCTYPE html>\n<html><body><table><tr><td>Gamma</td></tr></table>"
                    b"</body></html>\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/owner/list/blob/main/README.md"
    try:
        result = runner.invoke(main, ["build", "--store", str(tmp_path / "s"), "-q",
                                      "--sources", url])
    finally:
        server.shutdown()
        server.server_close()
    assert_one_line_error(result, 2, f"no dataset entry read from readme ({url})",
                          "an HTML page, not a markdown list")


def test_a_list_edited_since_it_was_received_is_named(runner: CliRunner, tmp_path: Path,
                                                     mini_home: Path) -> None:
    import hashlib

    manifest = mini_home / "data" / "manifest.toml"
    listed = mini_home / "data" / "sources" / "tables.md"
    digest = hashlib.sha256(listed.read_bytes()).hexdigest()
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace('path = "sources/tables.md"\n',
                                     f'path = "sources/tables.md"\nsha256 = "{digest}"\n', 1),
                        encoding="utf-8")
    same = runner.invoke(main, ["build", "--store", str(tmp_path / "s")])
    assert same.exit_code == 0 and "lists edited since received" not in same.output
    listed.write_text(listed.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    edited = runner.invoke(main, ["build", "--store", str(tmp_path / "s")])
    assert edited.exit_code == 0
    assert "lists edited since received (their sha256 differs from the manifest's): tables" \
        in edited.output


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
    turtle = run("turtle", "CONSTRUCT { ?d dcterms:title ?t } "
                           "WHERE { ?d a mkg:Dataset ; dcterms:title ?t }")
    assert len(rdflib.Graph().parse(data=turtle, format="turtle")) == 10
    assert json.loads(run("json", "ASK { ?d a mkg:Dataset }"))["boolean"] is True
    # the answer as the format writes it: no blank line after the last row
    rows = list(csv.reader(io.StringIO(run("csv"))))
    assert len(rows) == 11 and all(rows)
    assert run("csv").endswith("\n") and not run("csv").endswith("\n\n")
    assert not run("tsv").endswith("\n\n") and not turtle.endswith("\n\n")
    assert run("table").endswith("\n")


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


UPDATES = [
    "INSERT DATA { <http://example.org/a> <http://example.org/b> 1 }",
    "PREFIX ex: <http://example.org/>\n# wipe\nDELETE WHERE { ?s ?p ?o }",
    "load <http://example.org/data.ttl>",
    "CLEAR ALL",
    "BASE <http://example.org/> WITH <g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
]


@pytest.mark.parametrize("update", UPDATES)
def test_an_update_is_told_that_query_runs_queries_only(
    runner: CliRunner, built_store: str, update: str
) -> None:
    result = runner.invoke(main, ["query", "--store", built_store, update])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert "medkg query runs queries only" in result.output
    assert "medkg build" in result.output and "expected" not in result.output
    # the same refusal with --endpoint, before anything is sent (port 9 would not answer)
    remote = runner.invoke(main, ["query", "--endpoint", "http://127.0.0.1:9/sparql", update])
    assert remote.exit_code == 2 and "medkg query runs queries only" in remote.output


def test_a_query_whose_names_look_like_update_words_runs(
    runner: CliRunner, built_store: str
) -> None:
    text = "PREFIX insert: <http://example.org/> SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert runner.invoke(main, ["query", "--store", built_store, text]).exit_code == 0
    wrong = runner.invoke(main, ["query", "--store", built_store, "SELECT ?x WHERE { ?x ?y }"])
    assert "malformed query" in wrong.output and "queries only" not in wrong.output


@pytest.mark.parametrize("text", ["", "  \n", "# only a comment\n"])
def test_an_empty_query_says_so(runner: CliRunner, built_store: str, text: str) -> None:
    result = runner.invoke(main, ["query", "--store", built_store, "-"], input=text)
    assert result.exit_code == 2 and result.output == "medkg: error: the query is empty\n"


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
    bad.write_text("@prefix mkg: <https://w3id.org/medkg/ontology#> .\n"
                   "<https://x.org/d> a mkg:Dataset .\n")
    result = runner.invoke(main, ["validate", str(bad), "--report-ttl", str(tmp_path / "r.ttl")])
    assert result.exit_code == 1, result.output
    assert "Violation" in result.output
    assert (tmp_path / "r.ttl").is_file()
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .\n")
    assert runner.invoke(main, ["validate", str(broken)]).exit_code == 2


DCTERMS_TITLE = rdflib.URIRef("http://purl.org/dc/terms/title")
BAD_DATASET = ("@prefix mkg: <https://w3id.org/medkg/ontology#> .\n"
               "@prefix dcterms: <http://purl.org/dc/terms/> .\n"
               "<https://x.org/d> a mkg:Dataset ; dcterms:title \"a\", \"b\" .\n")


def _store_of(turtle: str, folder: Path) -> Path:
    """A published store holding `turtle` in one source graph."""
    from medkg.store import StagedVersion

    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    nquads = "".join(f"{s.n3()} {p.n3()} {o.n3()} <https://w3id.org/medkg/graph/source/t> .\n"
                     for s, p, o in graph)
    staged = StagedVersion(folder)
    staged.load_nquads(nquads.encode())
    staged.publish({})
    return folder


@pytest.mark.parametrize("where", ["store", "file"])
def test_the_report_ttl_is_a_shacl_validation_report(
    runner: CliRunner, tmp_path: Path, where: str
) -> None:
    from rdflib.namespace import RDF, SH as SH_NS, XSD

    bad = tmp_path / "bad.ttl"
    bad.write_text(BAD_DATASET)
    report = tmp_path / "report.ttl"
    given = (["--store", str(_store_of(BAD_DATASET, tmp_path / "store"))] if where == "store"
             else [str(bad)])
    result = runner.invoke(main, ["validate", *given, "--report-ttl", str(report)])
    assert result.exit_code == 1, result.output
    graph = rdflib.Graph().parse(report, format="turtle")
    (node,) = graph.subjects(RDF.type, SH_NS.ValidationReport)
    assert graph.value(node, SH_NS.conforms) == rdflib.Literal(False, datatype=XSD.boolean)
    results = list(graph.objects(node, SH_NS.result))
    assert results
    for res in results:
        assert (res, RDF.type, SH_NS.ValidationResult) in graph
        for prop in (SH_NS.focusNode, SH_NS.resultSeverity, SH_NS.sourceShape,
                     SH_NS.resultMessage, SH_NS.sourceConstraintComponent):
            assert len(list(graph.objects(res, prop))) == 1, (prop, where)
        assert graph.value(res, SH_NS.resultSeverity) in (SH_NS.Violation, SH_NS.Warning,
                                                          SH_NS.Info)
        component = graph.value(res, SH_NS.sourceConstraintComponent)
        if component in (SH_NS.MinCountConstraintComponent, SH_NS.MaxCountConstraintComponent):
            assert graph.value(res, SH_NS.resultPath) is not None  # a property shape's result
    focus = rdflib.URIRef("https://x.org/d")
    two_titles = [r for r in results if graph.value(r, SH_NS.focusNode) == focus
                  and graph.value(r, SH_NS.sourceConstraintComponent)
                  == SH_NS.MaxCountConstraintComponent]
    assert [graph.value(r, SH_NS.resultPath) for r in two_titles] == [DCTERMS_TITLE]


def test_a_failed_report_write_keeps_the_previous_report_whole(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    bad = tmp_path / "bad.ttl"
    bad.write_text(BAD_DATASET)
    (tmp_path / "out").mkdir()
    report = tmp_path / "out" / "report.ttl"
    report.write_text("# the previous report\n")

    def half_then_full_disk(path: Path, data: str | bytes, *args: object, **kw: object) -> int:
        with open(path, "wb") as out:
            out.write((data.encode() if isinstance(data, str) else data)[:100])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Path, "write_text", half_then_full_disk)
    monkeypatch.setattr(Path, "write_bytes", half_then_full_disk)
    result = runner.invoke(main, ["validate", str(bad), "--report-ttl", str(report)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    last = result.output.strip().splitlines()[-1]
    assert last == f"medkg: cannot write {report}: No space left on device"
    assert report.read_text() == "# the previous report\n"  # not half of the new one
    assert [p.name for p in report.parent.iterdir()] == ["report.ttl"]  # no temporary left


def test_docs_replace_the_previous_folder_whole_and_only_once_complete(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import medkg.docs

    out = tmp_path / "site" / "docs"
    out.mkdir(parents=True)
    (out / "index.html").write_text("old index")
    (out / "scheme-anatomy.html").write_text("old anatomy")
    (out / "scheme-gone.html").write_text("a scheme no longer in the vocabulary")
    pages = medkg.docs._index_page

    def full_disk(*args: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(medkg.docs, "_index_page", full_disk)  # after every scheme page
    failed = runner.invoke(main, ["docs", "--out", str(out)])
    assert_one_line_error(failed, 2, f"cannot write {out}: No space left on device")
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "index.html": "old index", "scheme-anatomy.html": "old anatomy",
        "scheme-gone.html": "a scheme no longer in the vocabulary"}
    assert [p.name for p in out.parent.iterdir()] == ["docs"]  # no temporary folder left
    monkeypatch.setattr(medkg.docs, "_index_page", pages)
    done = runner.invoke(main, ["docs", "--out", str(out)])
    assert done.exit_code == 0 and done.output == f"wrote {out / 'index.html'}\n"
    names = sorted(p.name for p in out.iterdir())
    assert "scheme-gone.html" not in names and "index.html" in names
    assert (out / "scheme-anatomy.html").read_text() != "old anatomy"


def test_docs_refuse_a_folder_holding_other_files(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = runner.invoke(main, ["docs", "--out", str(out)])
    assert_one_line_error(result, 2, str(out), "'notes.txt'")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


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
    args = ["query", "--store", real_store, "--format", "json", f"@{path}"]
    result = CliRunner().invoke(main, args)
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


def test_largest_collections_name_each_figure_once(real_store: str, monkeypatch) -> None:
    # PatchCamelyon's 327,680 cases is in two lists: two counts, one answer row
    monkeypatch.setenv("MEDKG_HOME", str(ROOT))
    query = next(p for p in EXAMPLES if p.name.startswith("13-"))
    result = CliRunner().invoke(main, ["query", "--store", real_store, "--format", "json",
                                       f"@{query}"])
    rows = [(b["title"]["value"], b["n"]["value"], b["unit"]["value"])
            for b in json.loads(result.output)["results"]["bindings"]]
    assert ("PatchCamelyon", "327680", "cases") in rows
    assert len(rows) == len(set(rows))


def test_real_build_meets_the_mapping_target(real_store: str) -> None:
    report = json.loads((Path(real_store) / "report.json").read_text())
    assert report["mapping"]["percent"] >= 98.0
    assert report["validation"]["conforms"] is True
    for source in report["sources"]:
        assert source["rows_read"] == source["entries"] + len(source["skipped"])


def test_export_from_the_command_line(runner: CliRunner, built_store: str, tmp_path: Path) -> None:
    out = tmp_path / "graph.nq"
    def export(fmt: str, out: Path) -> Result:
        return runner.invoke(main, ["export", "--store", built_store, "--format", fmt,
                                    "--out", str(out)])

    result = export("nq", out)
    assert result.exit_code == 0, result.output
    dataset = rdflib.Dataset()
    dataset.parse(out, format="nquads")
    graphs = {str(g.identifier) for g in dataset.graphs()}
    assert "https://w3id.org/medkg/graph/source/tables" in graphs
    table = tmp_path / "datasets.csv"
    assert export("csv", table).exit_code == 0
    assert len(list(csv.DictReader(table.open()))) == 10
    bad = export("xlsx", tmp_path / "x")
    assert bad.exit_code == 2 and "xlsx" in bad.output


def assert_one_line_error(result: Result, code: int, *named: str) -> str:
    """The command ended through sys.exit with `code` and one line naming `named`, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # nothing uncaught
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("medkg: ") and all(n in lines[0] for n in named), lines[0]
    return lines[0]


def test_build_waits_a_bounded_time_for_another_writer(
    runner: CliRunner, built_store: str
) -> None:
    from medkg.store import StagedVersion, current_version

    assert "--wait SECONDS" in runner.invoke(main, ["build", "--help"]).output
    before = current_version(Path(built_store))
    other = StagedVersion(Path(built_store))  # a SPARQL update, say, still writing
    try:
        at_once = runner.invoke(main, ["build", "-q", "--store", built_store, "--wait", "0"])
        assert_one_line_error(at_once, 2, "another build or update is writing",
                              f"previous store kept at {built_store}")
        bounded = runner.invoke(main, ["build", "-q", "--store", built_store, "--wait", "0.2"])
        assert_one_line_error(bounded, 2, "(waited 0.2 s for it)")
    finally:
        other.abandon()
    assert current_version(Path(built_store)) == before
    refused = runner.invoke(main, ["build", "-q", "--store", built_store, "--wait", "-1"])
    assert refused.exit_code == 2 and "--wait" in refused.output
    # free again: the default wait takes the lock at once
    assert runner.invoke(main, ["build", "-q", "--store", built_store]).exit_code == 0
    assert current_version(Path(built_store)) != before


@pytest.mark.parametrize("base", ["https://example.org/kg#", "https://example.org/k g/"])
def test_unusable_base_is_a_config_error(
    runner: CliRunner, built_store: str, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDKG_BASE", base)
    for args in (["stats", "--store", built_store], ["build", "-q", "--store", built_store]):
        assert_one_line_error(runner.invoke(main, args), 2, f"MEDKG_BASE={base!r}")


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A file where an output path needs a folder."""
    path = tmp_path / "a-file"
    path.write_text("")
    return path


def test_unwritable_store_is_one_line(
    runner: CliRunner, blocker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDKG_STORE", str(blocker / "store"))
    line = assert_one_line_error(runner.invoke(main, ["build", "-q"]), 2)
    assert line == f"medkg: cannot write {blocker / 'store'}: {blocker} is not a folder"


def test_unwritable_export_paths_are_one_line(
    runner: CliRunner, built_store: str, blocker: Path, tmp_path: Path
) -> None:
    def export(fmt: str, out: Path) -> str:
        args = ["export", "-q", "--store", built_store, "--format", fmt, "--out", str(out)]
        return assert_one_line_error(runner.invoke(main, args), 2, f"cannot write {out}: ")

    assert "is not a folder" in export("ttl", blocker / "x.ttl")
    assert "not a folder" in export("croissant", blocker)  # croissant writes a folder
    assert "is a folder" in export("ttl", tmp_path)


def test_unwritable_docs_and_report_are_one_line(
    runner: CliRunner, built_store: str, blocker: Path
) -> None:
    docs = runner.invoke(main, ["docs", "--store", built_store, "--out", str(blocker / "docs")])
    assert_one_line_error(docs, 2, f"cannot write {blocker / 'docs'}: ")
    report = blocker / "report.ttl"
    result = runner.invoke(main, ["validate", "--store", built_store, "--report-ttl", str(report)])
    assert result.exit_code == 2 and f"medkg: cannot write {report}: " in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_query_with_unreachable_service_is_one_line(runner: CliRunner, built_store: str) -> None:
    text = f"SELECT ?x WHERE {{ SERVICE <http://127.0.0.1:{_free_port()}/sparql> {{ ?x ?p ?o }} }}"
    result = runner.invoke(main, ["query", "--store", built_store, text])
    assert_one_line_error(result, 1, "query failed", "SERVICE")


def test_query_with_unreadable_service_answer_is_one_line(
    runner: CliRunner, built_store: str
) -> None:
    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.end_headers()
            self.wfile.write(b"{not json")

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        text = (f"SELECT ?x WHERE {{ SERVICE <http://127.0.0.1:{server.server_port}/sparql> "
                "{ ?x ?p ?o } }")
        result = runner.invoke(main, ["query", "--store", built_store, text])
    finally:
        server.shutdown()
        server.server_close()
    assert_one_line_error(result, 1, "query failed", "SERVICE")


@pytest.mark.parametrize("command, relative", [
    ("build", "data/curation/aliases.tsv"),
    ("build", "data/manifest.toml"),
    ("build", "ontology/medkg.ttl"),
    ("docs", "ontology/medkg.ttl"),
])
def test_non_utf8_data_file_is_one_line(
    runner: CliRunner, mini_home: Path, tmp_path: Path, command: str, relative: str
) -> None:
    with (mini_home / relative).open("ab") as file:
        file.write(b"# caf\xe9\n")
    args = [command, "--store", str(tmp_path / "store")] + (["-q"] if command == "build" else [])
    assert_one_line_error(runner.invoke(main, args), 2, str(mini_home / relative), "UTF-8")


def test_a_query_that_is_not_utf8_is_one_line_naming_file_and_line(
    runner: CliRunner, built_store: str, tmp_path: Path
) -> None:
    latin1 = "SELECT * WHERE {\n  ?d dcterms:title \"Caf\u00e9\" }".encode("latin-1")
    query_file = tmp_path / "latin1.rq"
    query_file.write_bytes(latin1)
    for args, where, stdin in [([f"@{query_file}"], str(query_file), None),
                               (["-"], "standard input", latin1)]:
        result = runner.invoke(main, ["query", "--store", built_store, *args], input=stdin)
        assert result.exit_code == 2, result.output
        assert result.output == (f"medkg: error: {where}: line 2: not UTF-8 (byte 0xe9); "
                                 "save the query as UTF-8\n")


def test_a_query_file_with_a_byte_order_mark_runs(
    runner: CliRunner, built_store: str, tmp_path: Path
) -> None:
    query_file = tmp_path / "bom.rq"
    query_file.write_bytes(b"\xef\xbb\xbf" + SELECT.encode())
    result = runner.invoke(main, ["query", "--store", built_store, f"@{query_file}"])
    assert result.exit_code == 0 and "LungAlpha" in result.output, result.output


def test_a_build_over_sparql_updates_says_it_drops_them(runner: CliRunner, tmp_path: Path) -> None:
    from medkg import store as medkg_store

    store = tmp_path / "s"
    assert runner.invoke(main, ["build", "--store", str(store), "-q"]).exit_code == 0
    # what a SPARQL Update or Graph Store write publishes: the graph plus the change
    report = dict(medkg_store.read_report(store) or {}, updated_by_sparql=True)
    quads = list(medkg_store.open_read_only(store))
    staged = medkg_store.StagedVersion(store)
    staged.load_quads(quads)
    staged.publish(report)
    warning = ("medkg: warning: the previous version held changes made by SPARQL Update or the "
               "Graph Store; this build is made from the lists alone and does not keep them")
    rebuilt = runner.invoke(main, ["build", "--store", str(store), "-q"])
    assert rebuilt.exit_code == 0 and warning in rebuilt.output.splitlines()
    again = runner.invoke(main, ["build", "--store", str(store), "-q"])
    assert again.exit_code == 0 and "warning" not in again.output  # nothing written since


def test_build_prints_a_class_list_that_disagrees_with_its_count(runner: CliRunner,
                                                                 tmp_path: Path) -> None:
    folder = ROOT / "tests" / "fixtures" / "label-classes"
    result = runner.invoke(main, ["build", "--store", str(tmp_path / "s"), "--no-validate",
                                  "--sources", str(folder)])
    assert result.exit_code == 0, result.output
    assert ("label-classes.md:17  2 stated, 3 named: '2: benign, malignant, normal'"
            in result.output)
