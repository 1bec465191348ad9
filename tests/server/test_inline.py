"""The inline path: which queries are proven cheap enough to skip the killable query pool."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pyoxigraph as ox
import pytest

from medkg.store import StagedVersion
from medkg_server.executor import JobFailed
from medkg_server.inline import (
    ROW_BUDGET,
    InlineRunner,
    is_bounded,
    streams_to_budget,
)
from medkg_server.query_shape import Unsupported, Var, read_shape
from medkg_server.worker import Job, run_query

X = "http://example.org/"
HUB, SMALL, P, Q = (ox.NamedNode(X + n) for n in ("hub", "small", "p", "q"))
GRAPH = ox.NamedNode(X + "graph/a")
PROLOGUE = f"PREFIX ex: <{X}>\n"


def _quads() -> list[ox.Quad]:
    """A hub with more objects than the budget, and a small resource with a few statements."""
    quads = [ox.Quad(HUB, P, ox.NamedNode(f"{X}item/{i}"), GRAPH) for i in range(ROW_BUDGET + 50)]
    quads += [ox.Quad(SMALL, P, ox.Literal(f"value {i}"), GRAPH) for i in range(3)]
    quads += [ox.Quad(SMALL, Q, ox.Literal("Breast", language="en"), GRAPH)]
    return quads


@pytest.fixture(scope="module")
def store() -> ox.Store:
    db = ox.Store()
    db.bulk_extend(_quads())
    return db


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inline-store")
    staged = StagedVersion(folder)
    staged.load_quads(_quads())
    staged.publish({"test": True})
    return folder


def _job(text: str, **change: object) -> Job:
    fields: dict[str, object] = {"tabular_format": "json", "graph_format": "turtle"}
    fields["row_cap"] = 1000
    fields.update(change)
    return Job(text, "query", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        f"SELECT ?t WHERE {{ <{X}small> <{X}q> ?t }}",
        PROLOGUE + "SELECT * { ex:small ex:p ?v ; ex:q ?t . }",
        PROLOGUE + "SELECT ?s WHERE { ?s ex:q 'Breast'@en }",
        PROLOGUE + 'ASK { ex:small ex:p "value 1", "value 2" }',
        PROLOGUE + "SELECT DISTINCT ?p { ex:small ?p ?o } LIMIT 5 OFFSET 1",
        PROLOGUE + "SELECT ?s { ?s a ex:Thing ; ex:size 12 ; ex:ratio 1.5 ; ex:ok true }",
        PROLOGUE + "DESCRIBE ex:small <http://example.org/other>",
        "# a comment\nASK {}",
    ],
)
def test_reads_the_supported_subset(text: str) -> None:
    shape = read_shape(text)
    assert shape.form in ("SELECT", "ASK", "DESCRIBE")


def test_a_comment_ends_at_a_carriage_return_as_in_the_engine() -> None:
    """The LIMIT after `# note<CR>` is code: read as comment, the look-up answered every row."""
    shape = read_shape(f"SELECT ?o {{ <{X}a> <{X}p> ?o }} # first one\rLIMIT 1")
    assert shape.limit == 1


def test_reads_terms_and_modifiers() -> None:
    shape = read_shape(
        PROLOGUE + 'SELECT DISTINCT ?s { ?s a ex:T ; ex:n 7, "x"^^ex:dt } LIMIT 3 OFFSET 2'
    )
    assert shape.distinct and shape.limit == 3 and shape.offset == 2
    subjects = {p[0] for p in shape.patterns}
    assert subjects == {Var("s")}
    objects = [p[2] for p in shape.patterns]
    assert objects[0] == ox.NamedNode(X + "T")
    assert objects[1] == ox.Literal("7", datatype=ox.NamedNode(ox.Literal(1).datatype.value))
    assert objects[2] == ox.Literal("x", datatype=ox.NamedNode(X + "dt"))
    assert shape.patterns[0][1] == ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


@pytest.mark.parametrize(
    "text",
    [
        PROLOGUE + "SELECT ?t { ex:small ex:q ?t FILTER(lang(?t) = 'en') }",
        PROLOGUE + "SELECT ?t { ex:small ex:q ?t OPTIONAL { ?t ex:p ?x } }",
        PROLOGUE + "SELECT ?t { { ex:small ex:q ?t } UNION { ex:hub ex:p ?t } }",
        PROLOGUE + "SELECT ?t { GRAPH ?g { ex:small ex:q ?t } }",
        PROLOGUE + "SELECT ?t { SERVICE <http://evil.example/> { ex:small ex:q ?t } }",
        PROLOGUE + "SELECT ?t { ex:small ex:p/ex:q ?t }",
        PROLOGUE + "SELECT ?t { ex:small ^ex:p ?t }",
        PROLOGUE + "SELECT ?t { ex:small ex:p* ?t }",
        PROLOGUE + "SELECT ?t { { SELECT ?t { ex:small ex:q ?t } } }",
        PROLOGUE + "SELECT (COUNT(*) AS ?n) { ex:hub ex:p ?o }",
        PROLOGUE + "SELECT ?o { ex:hub ex:p ?o } ORDER BY ?o",
        PROLOGUE + "SELECT ?o { ex:hub ex:p ?o } GROUP BY ?o",
        PROLOGUE + "SELECT ?o { VALUES ?o { 1 } ex:hub ex:p ?o }",
        PROLOGUE + "SELECT ?o { BIND(1 AS ?o) }",
        "BASE <http://example.org/> SELECT ?o { <hub> <p> ?o }",
        "SELECT ?o { <hub> <p> ?o }",
        "SELECT ?o { undeclared:hub <http://example.org/p> ?o }",
        PROLOGUE + 'SELECT ?s { ?s ex:q "esc\\"aped" }',
        PROLOGUE + "SELECT ?s { ?s ex:q '''long''' }",
        PROLOGUE + "CONSTRUCT { ?s ex:p ?o } WHERE { ?s ex:p ?o }",
        PROLOGUE + "DESCRIBE ?s WHERE { ?s ex:p ?o }",
        PROLOGUE + "SELECT ?s { _:b ex:p ?s }",
        PROLOGUE + "SELECT ?s { ?s ex:p ?o } LIMIT -1",
        PROLOGUE + "SELECT ?s { ?s ex:p ?o } extra",
        PROLOGUE + "INSERT DATA { ex:a ex:b ex:c }",
        "SELECT ?s { ?s ?p ?o",
        # digits SPARQL does not read: the engine must say so, not a reader that takes them
        PROLOGUE + "SELECT ?s { ?s ex:p ?o } LIMIT \uff11",
        PROLOGUE + "SELECT ?s { ?s ex:p \u0661\u0662 }",
    ],
)
def test_refuses_everything_else(text: str) -> None:
    with pytest.raises(Unsupported):
        read_shape(text)


@pytest.mark.parametrize(
    ("text", "bounded"),
    [
        (f"SELECT ?t {{ <{X}small> <{X}q> ?t }}", True),
        (PROLOGUE + "SELECT * { ex:small ex:p ?a . ex:small ex:p ?b . ex:small ?p ?c }", True),
        (PROLOGUE + "SELECT ?s { ?s ex:q 'Breast'@en }", True),
        # one pattern read lazily: ASK stops at the first match, LIMIT at its count
        ("ASK { ?s ?p ?o }", True),
        (PROLOGUE + "SELECT ?o { ex:hub ex:p ?o } LIMIT 10", True),
        # ... but not without a limit, with DISTINCT, or with a repeated variable (a filter)
        (PROLOGUE + "SELECT ?o { ex:hub ex:p ?o }", False),
        ("SELECT ?s { ?s ?p ?o }", False),
        (PROLOGUE + "SELECT DISTINCT ?p { ?s ?p ?o } LIMIT 1", False),
        ("ASK { ?s ?p ?s }", False),
        (f"SELECT ?o {{ ?s ?p ?o }} LIMIT {ROW_BUDGET + 1}", False),
        # two patterns whose counts multiply past the budget: the hub's fan-out, twice
        (PROLOGUE + "SELECT * { ex:small ex:p ?a . ex:hub ex:p ?b }", False),
        (PROLOGUE + "ASK { ex:hub ex:p ?a . ex:hub ex:p ?b . ex:hub ex:nothing ?a }", False),
        # a pattern with nothing constant in subject or object cannot be counted by an index
        (PROLOGUE + "SELECT * { ex:small ex:p ?a . ?s ex:q ?t }", False),
        (PROLOGUE + "DESCRIBE ex:small", True),
        (PROLOGUE + "DESCRIBE ex:small ex:hub", False),
        ("ASK {}", True),
    ],
)
def test_bounded_means_few_rows_touched(store: ox.Store, text: str, bounded: bool) -> None:
    assert is_bounded(read_shape(text), store) is bounded


def test_runner_answers_like_the_engine(store_dir: Path, store: ox.Store) -> None:
    runner = InlineRunner(store_dir)
    for text in (
        PROLOGUE + "SELECT ?v { ex:small ex:p ?v }",
        PROLOGUE + "ASK { ex:small ex:q 'Breast'@en }",
        PROLOGUE + "SELECT ?o { ex:hub ex:p ?o } LIMIT 7",
    ):
        job = _job(text)
        assert runner.accepts(job)
        outcome = runner.run(job)
        assert outcome.engine == "inline"
        assert _answer(outcome.body) == _answer(run_query(store, job).body)
    limited = json.loads(runner.run(_job(PROLOGUE + "SELECT ?o { ex:hub ex:p ?o } LIMIT 7")).body)
    assert len(limited["results"]["bindings"]) == 7
    described = runner.run(_job(PROLOGUE + "DESCRIBE ex:small", graph_format="ntriples"))
    assert described.rows == 4 and described.engine == "inline"


def _answer(body: bytes) -> object:
    """A SPARQL JSON answer with its rows in a fixed order (stores may order them differently)."""
    data = json.loads(body)
    if "results" in data:
        data["results"]["bindings"] = sorted(data["results"]["bindings"], key=json.dumps)
        if len(data["results"]["bindings"]) == 7:  # a LIMIT picks any 7: compare the count
            data["results"]["bindings"] = len(data["results"]["bindings"])
    return data


def test_runner_leaves_costly_or_special_jobs_to_the_pool(store_dir: Path) -> None:
    runner = InlineRunner(store_dir)
    cross = PROLOGUE + "SELECT * { ex:hub ex:p ?a . ex:hub ex:p ?b }"
    look_up = PROLOGUE + "SELECT ?v { ex:small ex:p ?v }"
    assert not runner.accepts(_job(cross))
    assert not runner.accepts(_job(look_up, default_graphs=(GRAPH.value,)))
    assert not runner.accepts(_job(look_up, union_default_graph=False))
    assert not runner.accepts(Job(PROLOGUE + "INSERT DATA { ex:a ex:b ex:c }", "update", None, None, 0))


def test_engine_errors_keep_their_kind(store_dir: Path) -> None:
    runner = InlineRunner(store_dir)
    with pytest.raises(JobFailed) as failed:
        runner.run(_job("ASK { ?s ?p ?o }", tabular_format=None))
    assert failed.value.kind == "not_acceptable"


def _get(server, query: str):  # type: ignore[no-untyped-def]
    path = "/sparql?" + urllib.parse.urlencode({"query": query})
    return server.get(path, {"Accept": "application/sparql-results+json"})


def test_endpoint_answers_look_ups_inline_and_the_rest_in_the_pool(server) -> None:  # type: ignore[no-untyped-def]
    title = "<http://purl.org/dc/terms/title>"
    first = _get(server, f"SELECT ?d ?t WHERE {{ ?d {title} ?t }} LIMIT 1")
    assert first.status == 200
    row = json.loads(first.read())["results"]["bindings"][0]
    iri = row["d"]["value"]
    look_up = _get(server, f"SELECT ?t WHERE {{ <{iri}> {title} ?t }}")
    assert look_up.status == 200
    assert look_up.headers["Server-Timing"] == 'engine;desc="inline"'
    assert json.loads(look_up.read())["results"]["bindings"] == [{"t": row["t"]}]
    heavy = _get(server, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?d {title} ?t }}")
    assert heavy.status == 200
    assert heavy.headers["Server-Timing"] == 'engine;desc="pool"'
    heavy.read()


@pytest.mark.parametrize(
    ("text", "streams"),
    [
        (PROLOGUE + "SELECT ?v { ex:hub ex:p ?v }", True),
        (PROLOGUE + "SELECT ?s { ?s ex:p ex:small } OFFSET 3", True),
        (PROLOGUE + "SELECT ?s ?o { ?s ex:p ?o }", False),  # a scan
        (PROLOGUE + "SELECT DISTINCT ?v { ex:hub ex:p ?v }", False),
        (PROLOGUE + "SELECT ?v { ex:hub ?v ?v }", False),  # a repeated variable filters
        (PROLOGUE + "SELECT ?v { ex:hub ex:p ?v } LIMIT 5", False),  # bounded by its LIMIT
        (PROLOGUE + f"SELECT ?v {{ ex:hub ex:p ?v }} OFFSET {ROW_BUDGET + 1}", False),
        (PROLOGUE + "SELECT ?v { ex:small ex:p ?v ; ex:q ?w }", False),
        (PROLOGUE + "ASK { ex:hub ex:p ?v }", False),
    ],
)
def test_look_ups_without_limit_stream_up_to_the_budget(text: str, streams: bool) -> None:
    assert streams_to_budget(read_shape(text)) is streams


def test_a_look_up_past_the_budget_is_left_to_the_pool(store_dir: Path) -> None:
    runner = InlineRunner(store_dir)
    small = runner.answer(_job(PROLOGUE + "SELECT ?v { ex:small ex:p ?v }", row_cap=ROW_BUDGET * 2))
    assert small is not None and small.rows == 3 and small.engine == "inline"
    assert not small.truncated
    hub = _job(PROLOGUE + "SELECT ?v { ex:hub ex:p ?v }", row_cap=ROW_BUDGET * 2)
    assert runner.accepts(hub)  # it may start here ...
    assert runner.answer(hub) is None  # ... but stops at the budget, incomplete
    # under a row cap below the budget, the capped answer is the answer
    capped = runner.answer(_job(PROLOGUE + "SELECT ?v { ex:hub ex:p ?v }", row_cap=10))
    assert capped is not None and capped.truncated and capped.rows == 10


def test_the_open_version_is_read_while_another_thread_opens_a_new_one(store_dir: Path) -> None:
    """Copying a new version into memory takes seconds: a request pinned to the open one
    does not wait for it (a browse page counting with that version's index, for one)."""
    import threading

    runner = InlineRunner(store_dir)
    version, db = runner.opened()
    assert version is not None
    got: list[ox.Store] = []
    with runner._lock:  # as the thread reopening the store holds it
        reader = threading.Thread(target=lambda: got.append(runner.store(version)))
        reader.start()
        reader.join(5)
        assert not reader.is_alive() and got == [db]
        # a version not open (or none named) still waits for the reopen
        waiting = threading.Thread(target=runner.store)
        waiting.start()
        waiting.join(0.2)
        assert waiting.is_alive()
    waiting.join(5)
    assert not waiting.is_alive()


def test_the_version_being_opened_is_read_from_its_files_meanwhile(tmp_path: Path) -> None:
    """A page right after a write asks for the new version while another thread copies it
    into memory (1.5 s at 10k datasets): it reads the new version from its files, not the
    old one and without waiting."""
    import threading

    from medkg.store import current_version

    staged = StagedVersion(tmp_path)
    staged.load_quads(_quads())
    staged.publish({"test": True})
    runner = InlineRunner(tmp_path, memory_quads=10_000)
    runner.opened()
    staged = StagedVersion(tmp_path, from_published=True)
    staged.load_quads([ox.Quad(SMALL, Q, ox.Literal("new"), GRAPH)])
    new = staged.publish_change(quads=len(staged.db)).name
    assert current_version(tmp_path) == new
    ask = _job(f"ASK {{ <{X}small> <{X}q> 'new' }}")
    got: list[tuple[str | None, ox.Store]] = []
    with runner._lock:  # as the thread copying the new version holds it
        reader = threading.Thread(target=lambda: got.append(runner.opened(new)))
        reader.start()
        reader.join(5)
        assert not reader.is_alive() and got and got[0][0] == new
        stand_in = got[0][1]
        assert runner.is_stand_in(stand_in)
        assert ox.Quad(SMALL, Q, ox.Literal("new"), GRAPH) in stand_in
        answered = threading.Thread(target=lambda: got.append((new, runner.run(ask, new))))
        answered.start()
        answered.join(5)
        assert not answered.is_alive() and json.loads(got[1][1].body)["boolean"] is True
    name, store = runner.opened(new)  # the lock is free: opened (copied) as usual
    assert name == new and not runner.is_stand_in(store) and not runner.is_stand_in(stand_in)
