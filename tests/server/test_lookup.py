"""One-pattern look-ups read from the index give the engine's answer, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from medkg.store import StagedVersion, open_read_only
from medkg_server import lookup
from medkg_server.inline import InlineRunner
from medkg_server.query_shape import read_shape
from medkg_server.worker import Job, NotAcceptable, run_query

X = "http://example.org/"
A, B, P, Q, R = (ox.NamedNode(X + n) for n in ("a", "b", "p", "q", "r"))
G1, G2 = ox.NamedNode(X + "graph/1"), ox.NamedNode(X + "graph/2")
XSD = "http://www.w3.org/2001/XMLSchema#"
FORMATS = ("json", "tsv", "csv", "xml")
PROLOGUE = f"PREFIX ex: <{X}>\n"


def _quads() -> list[ox.Quad]:
    """Every kind of term, the same triple in two graphs, and one in the default graph."""
    objects = [
        ox.Literal("plain"),
        ox.Literal("Brust", language="de"),
        ox.Literal("42", datatype=ox.NamedNode(XSD + "integer")),
        ox.Literal("4.2", datatype=ox.NamedNode(XSD + "decimal")),
        ox.Literal("true", datatype=ox.NamedNode(XSD + "boolean")),
        ox.Literal("2024-01-02", datatype=ox.NamedNode(XSD + "date")),
        ox.Literal('tab\there "quoted" back\\slash\nnew line é ✓'),
        ox.BlankNode("b1"),
        B,
    ]
    quads = [ox.Quad(A, P, o, G1) for o in objects]
    quads.append(ox.Quad(A, Q, ox.Literal("twice"), G1))
    quads.append(ox.Quad(A, Q, ox.Literal("twice"), G2))
    quads.append(ox.Quad(B, Q, ox.Literal("in the default graph"), ox.DefaultGraph()))
    quads += [ox.Quad(ox.NamedNode(f"{X}item/{i}"), R, A, G2) for i in range(30)]
    return quads


@pytest.fixture(scope="module")
def store() -> ox.Store:
    db = ox.Store()
    db.bulk_extend(_quads())
    return db


def _job(text: str, tabular: str | None = "json", row_cap: int = 1000) -> Job:
    return Job(text, "query", tabular, "turtle", row_cap)


LOOK_UPS = [
    f"SELECT ?o WHERE {{ <{X}a> <{X}p> ?o }}",
    PROLOGUE + "SELECT * { ex:a ?p ?o }",
    PROLOGUE + "SELECT ?o ?p { ex:a ?p ?o }",
    PROLOGUE + "SELECT ?o ?nowhere { ex:a ex:q ?o }",
    PROLOGUE + "SELECT ?s { ?s ex:q 'twice' }",
    PROLOGUE + "SELECT ?s { ?s ex:q 'in the default graph' }",
    PROLOGUE + "SELECT ?s { ?s ex:p 'Brust'@de }",
    PROLOGUE + "SELECT ?s { ?s ex:p 42 }",
    PROLOGUE + "SELECT * { ex:a ex:p 'nothing matches' }",
    PROLOGUE + "SELECT * { ex:a ex:p ex:b }",
    PROLOGUE + "SELECT ?s ?o { ?s ex:r ?o } LIMIT 7 OFFSET 3",
    PROLOGUE + "SELECT ?s { ?s ex:r ex:a } OFFSET 25",
    PROLOGUE + "SELECT ?s ?p { ?s ?p ex:a } LIMIT 0",
    PROLOGUE + "SELECT ?p { ex:nothing ?p ?o }",
]


@pytest.mark.parametrize("text", LOOK_UPS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_look_up_answers_as_the_engine_does(store: ox.Store, text: str, fmt: str) -> None:
    shape = read_shape(text)
    assert lookup.answers(shape)
    mine = lookup.answer(store, shape, _job(text, fmt), 1000)
    engine = run_query(store, _job(text, fmt))
    assert mine.body == engine.body
    assert (mine.rows, mine.truncated, mine.form) == (engine.rows, engine.truncated, engine.form)


def test_every_resource_of_a_built_store_is_looked_up_as_the_engine_does(
    built_store: Path,
) -> None:
    db = open_read_only(built_store)
    terms = [term for quad in db for term in (quad.subject, quad.object)]
    resources = {term.value for term in terms if isinstance(term, ox.NamedNode)}
    assert len(resources) > 50  # datasets, concepts, sources, graphs of the fixture build
    for iri in sorted(resources):
        for text in (f"SELECT * {{ <{iri}> ?p ?o }}", f"SELECT ?s ?p {{ ?s ?p <{iri}> }}"):
            expected = run_query(db, _job(text)).body
            assert lookup.answer(db, read_shape(text), _job(text), 1000).body == expected


def test_the_row_cap_cuts_an_answer_and_says_so(store: ox.Store) -> None:
    text = PROLOGUE + "SELECT ?s { ?s ex:r ex:a }"
    cut = lookup.answer(store, read_shape(text), _job(text, row_cap=10), 10)
    assert cut.rows == 10 and cut.truncated
    assert cut.body == run_query(store, _job(text, row_cap=10)).body
    whole = lookup.answer(store, read_shape(text), _job(text), 30)
    assert whole.rows == 30 and not whole.truncated
    limited = PROLOGUE + "SELECT ?s { ?s ex:r ex:a } LIMIT 10"
    exact = lookup.answer(store, read_shape(limited), _job(limited), 10)
    assert exact.rows == 10 and not exact.truncated  # LIMIT asked for no more than that


@pytest.mark.parametrize(
    "text",
    [
        PROLOGUE + "SELECT DISTINCT ?o { ex:a ?p ?o }",
        PROLOGUE + "SELECT ?x { ?x ex:p ?x }",
        PROLOGUE + "SELECT * { ex:a ex:p ?o ; ex:q ?t }",
        PROLOGUE + "ASK { ex:a ex:p ?o }",
        PROLOGUE + "DESCRIBE ex:a",
    ],
)
def test_only_one_pattern_read_as_it_comes_is_answered_here(text: str) -> None:
    assert not lookup.answers(read_shape(text))


def test_a_select_needs_a_results_format(store: ox.Store) -> None:
    text = PROLOGUE + "SELECT ?o { ex:a ex:p ?o }"
    with pytest.raises(NotAcceptable):
        lookup.answer(store, read_shape(text), _job(text, None), 1000)


def test_a_quoted_triple_is_left_to_the_engine(store: ox.Store) -> None:
    db = ox.Store()
    db.add(ox.Quad(A, P, ox.Triple(A, Q, B), G1))
    text = PROLOGUE + "SELECT ?o { ex:a ex:p ?o }"
    with pytest.raises(lookup.Unwritable):
        lookup.answer(db, read_shape(text), _job(text), 1000)


class _NoEngine:
    """A store whose SPARQL engine must not be asked: only its index may be read."""

    def __init__(self, db: ox.Store) -> None:
        self.db = db

    def query(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the engine was asked")

    def quads_for_pattern(self, *args: object) -> object:
        return self.db.quads_for_pattern(*args)


def test_the_inline_runner_reads_look_ups_from_the_index(tmp_path: Path) -> None:
    staged = StagedVersion(tmp_path)
    staged.load_quads(_quads())
    staged.publish({"test": True})
    runner = InlineRunner(tmp_path, memory_quads=1000)
    text = PROLOGUE + "SELECT ?o { ex:a ex:p ?o }"
    engine = run_query(runner.store(), _job(text))
    name, db = runner.state.opened()
    runner.state._opened = (runner.state._opened[0], name, _NoEngine(db))  # type: ignore[index]
    answered = runner.answer(_job(text))
    assert answered is not None and answered.body == engine.body and answered.engine == "inline"
    # a query of two patterns still goes through the engine
    with pytest.raises(AssertionError, match="engine was asked"):
        runner.answer(_job(PROLOGUE + "SELECT * { ex:a ex:p ?o ; ex:q ?t }"))
