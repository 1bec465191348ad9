"""The query process's answers: results serialised by the engine, cut at the row cap."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pyoxigraph as ox
import pytest

from medkg.store import (
    DOCS, VERSIONS, StagedVersion, current_version, open_read_only, read_report
)
from medkg_server import worker
from medkg_server.worker import CappedLines, Job, StoreState, answer, run_query

X = "http://example.org/"
S = ox.NamedNode(X + "s")
G = ox.NamedNode(X + "g")
TRICKY = 'tab\there\nnew line "quoted" \\ back'


@pytest.fixture(scope="module")
def store() -> ox.Store:
    db = ox.Store()
    db.add(ox.Quad(S, ox.NamedNode(X + "p"), ox.Literal(TRICKY), G))
    db.add(ox.Quad(S, ox.NamedNode(X + "p"), ox.Literal("hallo", language="de"), G))
    db.add(ox.Quad(S, ox.NamedNode(X + "q"), ox.BlankNode("b1"), G))
    db.add(ox.Quad(ox.BlankNode("b1"), ox.NamedNode(X + "q"), ox.Literal(5), G))
    return db


def _run(store: ox.Store, text: str, tabular: str | None = "json", graph: str | None = None,
         cap: int = 100):
    return run_query(store, Job(text, "query", tabular, graph, cap))


def test_all_rows_under_the_cap_keep_every_term(store: ox.Store) -> None:
    outcome = _run(store, "SELECT ?s ?o ?unbound { ?s ?p ?o }")
    rows = json.loads(outcome.body)["results"]["bindings"]
    assert outcome.rows == 4 and not outcome.truncated
    values = {r["o"]["value"] for r in rows}
    assert TRICKY in values and "hallo" in values and "5" in values
    assert all("unbound" not in r for r in rows)
    assert {"type": "literal", "value": "hallo", "xml:lang": "de"} in [r["o"] for r in rows]


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_rows_are_cut_at_the_cap(store: ox.Store, fmt: str) -> None:
    outcome = _run(store, "SELECT ?o { ?s ?p ?o } ORDER BY STR(?o)", tabular=fmt, cap=2)
    assert outcome.rows == 2 and outcome.truncated
    if fmt == "csv":  # the engine writes CSV but cannot read it back (CSV drops term kinds)
        assert len(outcome.body.decode().splitlines()) == 3
        return
    parsed = ox.parse_query_results(outcome.body, format={
        "json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
        "tsv": ox.QueryResultsFormat.TSV}[fmt])
    assert len(list(parsed)) == 2


def test_a_row_with_no_variables_is_one_row(store: ox.Store) -> None:
    outcome = _run(store, "SELECT * {}")
    assert outcome.rows == 1
    assert json.loads(outcome.body)["results"]["bindings"] == [{}]


def test_graphs_are_cut_at_the_cap_in_any_format(store: ox.Store) -> None:
    whole = _run(store, "CONSTRUCT { ?s ?p ?o } { ?s ?p ?o }", None, "turtle")
    assert whole.rows == 4 and not whole.truncated
    parsed = list(ox.parse(whole.body, format=ox.RdfFormat.TURTLE))
    assert ox.Literal(TRICKY) in [t.object for t in parsed]
    cut = _run(store, "CONSTRUCT { ?s ?p ?o } { ?s ?p ?o }", None, "nquads", cap=3)
    assert cut.rows == 3 and cut.truncated
    assert len(list(ox.parse(cut.body, format=ox.RdfFormat.N_QUADS))) == 3


def test_capped_lines_stops_the_writer_and_keeps_whole_lines() -> None:
    sink = CappedLines(2)

    def writer(out: CappedLines) -> None:
        for _ in range(1000):
            out.write(b"a\nbb\nccc\n")
        raise AssertionError("the sink should have stopped the writer")

    data, lines, cut = sink.fill(writer)
    assert (data, lines, cut) == (b"a\nbb\n", 2, True)
    assert CappedLines(5).fill(lambda out: out.write(b"x\ny\n")) == (b"x\ny\n", 2, False)


def _publish(folder: Path, value: str) -> str:
    staged = StagedVersion(folder)
    staged.load_quads([ox.Quad(S, ox.NamedNode(X + "p"), ox.Literal(value), G)])
    staged.publish({"test": True})
    return staged.name


def test_the_store_state_reads_the_link_only_when_the_version_is_not_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _publish(tmp_path, "first")
    state = StoreState(tmp_path)
    reads: list[str] = []
    real = worker.published_link
    monkeypatch.setattr(worker, "published_link", lambda link: reads.append(link) or real(link))
    assert state.opened() == (first, state.current())
    assert len(reads) == 2
    # the caller has just read the version: the open store is that one, no link read
    assert state.opened(first)[0] == first and len(reads) == 2
    second = _publish(tmp_path, "second")
    # a request that began under the first version is answered from it, consistently
    assert state.opened(first)[0] == first and len(reads) == 2
    # a version that is not the open one: the link is read and the new version opened
    name, db = state.opened(second)
    assert name == second and len(reads) == 3
    answer = run_query(db, Job("SELECT ?v { ?s ?p ?v }", "query", "json", None, 10))
    assert _value(answer) == "second"


def _value(outcome) -> str:  # type: ignore[no-untyped-def]
    return json.loads(outcome.body)["results"]["bindings"][0]["v"]["value"]


def _writable(db: ox.Store) -> bool:
    """True for a copy in memory (a read-only store on disk refuses every write)."""
    try:
        db.add(ox.Quad(S, ox.NamedNode(X + "probe"), ox.Literal("x"), G))
    except RuntimeError:
        return False
    return True


def test_a_small_version_is_answered_from_a_copy_in_memory_renewed_per_version(
    tmp_path: Path,
) -> None:
    first = _publish(tmp_path, "first")
    state = StoreState(tmp_path, memory_quads=10)
    name, db = state.opened()
    assert name == first and _writable(db)
    job = Job("SELECT ?v { ?s <%sp> ?v }" % X, "query", "json", None, 10)
    assert _value(run_query(db, job)) == "first"
    second = _publish(tmp_path, "second")
    name, db = state.opened(second)
    assert name == second and _writable(db)
    assert _value(run_query(db, job)) == "second"
    assert not _writable(StoreState(tmp_path, memory_quads=0).current())


def test_a_version_published_while_the_store_opens_does_not_take_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _publish(tmp_path, "first")
    real = worker.medkg_store.open_read_only
    published: list[str] = []

    def open_then_publish(*args, **kwargs):  # type: ignore[no-untyped-def]
        db = real(*args, **kwargs)
        published.append(_publish(tmp_path, "second"))  # a build lands during a slow copy
        return db

    monkeypatch.setattr(worker.medkg_store, "open_read_only", open_then_publish)
    state = StoreState(tmp_path, memory_quads=10)
    name, db = state.opened()
    job = Job("SELECT ?v { ?s <%sp> ?v }" % X, "query", "json", None, 10)
    assert published and name == first and _value(run_query(db, job)) == "first"
    monkeypatch.setattr(worker.medkg_store, "open_read_only", real)
    # the next request sees the new link and opens the new version under its own name
    name, db = state.opened()
    assert name == published[0] and _value(run_query(db, job)) == "second"


def test_an_update_is_recorded_without_the_builds_quad_count_and_readers_count_it(
    tmp_path: Path,
) -> None:
    _publish(tmp_path, "first")
    insert = f"INSERT DATA {{ GRAPH <{X}g> {{ <{X}s> <{X}q> 1, 2 }} }}"
    outcome = worker.run_update(tmp_path, Job(insert, "update", None, None, 0))
    report = read_report(tmp_path)
    assert outcome.version == current_version(tmp_path)
    assert report is not None and report["updated_by_sparql"] is True
    assert "quads" not in report  # the build's count is no longer true; none was taken
    assert len(open_read_only(tmp_path)) == 3
    assert _writable(open_read_only(tmp_path, memory_quads=3))  # fits: copied into memory
    assert not _writable(open_read_only(tmp_path, memory_quads=2))


def _graph_job(text: str, graph: str, must_exist: bool = False) -> Job:
    return Job(text, "update", None, None, 0, target_graph=graph, graph_must_exist=must_exist,
               lock_wait=0)  # lock_wait 0: a writer lock left held would fail the next job


def test_an_update_naming_a_graph_says_whether_the_graph_existed(tmp_path: Path) -> None:
    _publish(tmp_path, "first")
    insert = f"INSERT DATA {{ GRAPH <{X}new> {{ <{X}s> <{X}q> 1 }} }}"
    job = _graph_job(insert, X + "new")
    # the job and its outcome cross the query process's pipe pickled: both keep the new fields
    assert pickle.loads(pickle.dumps(job)) == job
    status, created = pickle.loads(pickle.dumps(answer(StoreState(tmp_path), job)))
    assert status == "ok" and created.graph_existed is False
    assert created.version == current_version(tmp_path)
    again = worker.run_update(tmp_path, job)
    assert again.graph_existed is True and again.version == current_version(tmp_path)
    plain = worker.run_update(tmp_path, Job(insert, "update", None, None, 0))
    assert plain.graph_existed is None


def test_a_graph_that_must_exist_and_does_not_publishes_nothing(tmp_path: Path) -> None:
    before = _publish(tmp_path, "first")
    drop = _graph_job(f"DROP GRAPH <{X}absent>", X + "absent", must_exist=True)
    outcome = worker.run_update(tmp_path, drop)
    assert outcome.graph_existed is False and outcome.version is None
    assert current_version(tmp_path) == before
    assert not list((tmp_path / VERSIONS).glob(".staging-*"))  # the copy was thrown away
    # the writer lock was let go (lock_wait 0), and a graph that is there is dropped
    dropped = worker.run_update(tmp_path, _graph_job(f"DROP GRAPH <{G.value}>", G.value, True))
    assert dropped.graph_existed is True and dropped.version == current_version(tmp_path) != before
    assert len(open_read_only(tmp_path)) == 0


def test_an_update_starts_from_a_linked_copy_and_leaves_the_old_version_as_it_was(
    tmp_path: Path,
) -> None:
    before = _publish(tmp_path, "first")
    old_db = tmp_path / VERSIONS / before / "oxigraph"
    held = ox.Store.read_only(str(old_db))  # a reader that opened the old version
    outcome = worker.run_update(tmp_path, Job(f"CLEAR GRAPH <{G.value}>", "update", None, None, 0))
    new_db = tmp_path / VERSIONS / str(outcome.version) / "oxigraph"
    # not a dump and reload of every quad: the new version shares the old one's files
    old_files = {p.name: p.stat().st_ino for p in old_db.glob("*.sst")}
    assert old_files and any(
        (new_db / name).exists() and (new_db / name).stat().st_ino == inode
        for name, inode in old_files.items()
    )
    assert len(held) == len(ox.Store.read_only(str(old_db))) == 1
    assert len(open_read_only(tmp_path)) == 0


def test_an_update_keeps_the_ontology_documentation_the_build_made(tmp_path: Path) -> None:
    staged = StagedVersion(tmp_path)
    staged.load_quads([ox.Quad(S, ox.NamedNode(X + "p"), ox.Literal("x"), G)])
    (staged.dir / DOCS).mkdir()
    (staged.dir / DOCS / "index.html").write_text("<h1>the ontology</h1>", encoding="utf-8")
    staged.publish({"test": True})
    outcome = worker.run_update(tmp_path, Job(f"CLEAR GRAPH <{G.value}>", "update", None, None, 0))
    docs = tmp_path / VERSIONS / str(outcome.version) / DOCS / "index.html"
    assert docs.read_text(encoding="utf-8") == "<h1>the ontology</h1>"


def _published(folder: Path) -> Path:
    from medkg.store import current_version_dir

    found = current_version_dir(folder)
    assert found is not None
    return found


def _facts(folder: Path) -> dict[str, object]:
    from medkg.store import version_facts

    return version_facts(_published(folder))


def test_a_graph_store_write_counts_its_graph_not_the_whole_store(tmp_path: Path) -> None:
    staged = StagedVersion(tmp_path)
    other = ox.NamedNode(X + "other")
    staged.load_quads([ox.Quad(S, ox.NamedNode(X + "p"), ox.Literal(str(n)), other)
                       for n in range(5)])
    staged.load_quads([ox.Quad(S, ox.NamedNode(X + "p"), ox.Literal("g"), G)])
    staged.publish({"quads": 6})
    g = f"GRAPH <{G.value}>"
    writes = [  # (job, quads after): what the Graph Store sends for PUT, POST and DELETE
        (_graph_job(f"DROP SILENT {g} ;\nINSERT DATA {{ {g} {{ <{X}s> <{X}q> 1, 2, 3 }} }}",
                    G.value), 8),
        (_graph_job(f"INSERT DATA {{ {g} {{ <{X}s> <{X}q> 3, 4 }} }}", G.value), 9),  # 3 is there
        (_graph_job(f"DROP {g}", G.value, must_exist=True), 5),
        (_graph_job(f"INSERT DATA {{ GRAPH <{X}new> {{ <{X}s> <{X}q> 1 }} }}", X + "new"), 6),
    ]
    for job, quads in writes:
        worker.run_update(tmp_path, job)
        assert _facts(tmp_path)["quads"] == quads == len(open_read_only(tmp_path)), job.text
    # from the published count, not a scan: a count recorded wrong stays wrong by as much
    (_published(tmp_path) / "version.json").write_text('{"quads": 100}')
    worker.run_update(tmp_path, _graph_job(f"INSERT DATA {{ {g} {{ <{X}s> <{X}q> 9 }} }}",
                                           G.value))
    assert _facts(tmp_path)["quads"] == 101
    # a SPARQL update may touch any graph: its count is not known without a full scan, so
    # none is recorded, and a Graph Store write after it has no published count to adjust
    worker.run_update(tmp_path, Job(f"INSERT DATA {{ {g} {{ <{X}s> <{X}q> 10 }} }}", "update",
                                    None, None, 0))
    assert _facts(tmp_path) == {"updated_by_sparql": True}
    worker.run_update(tmp_path, _graph_job(f"INSERT DATA {{ {g} {{ <{X}s> <{X}q> 11 }} }}",
                                           G.value))
    assert _facts(tmp_path) == {"updated_by_sparql": True}
    assert len(open_read_only(tmp_path)) == 9
