"""Property: the shortcut paths (inline runner, index look-up) answer exactly as the engine does.

Random quads with hostile terms (quotes, tabs, new lines, backslashes, non-BMP characters,
language tags with subtags and a base direction, custom datatypes, blank nodes) and random
queries of the shapes the shortcuts take (one pattern, a small join, ASK, LIMIT / OFFSET,
SELECT * and unbound projected variables) go through `InlineRunner.answer` and through the
general path (`worker.run_query`, what a query process runs); both bodies must be equal bytes.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medkg_server import lookup
from medkg_server.inline import InlineRunner
from medkg_server.query_shape import read_shape
from medkg_server.worker import Job, run_query

X = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
IRIS = [ox.NamedNode(X + name) for name in ("a", "b", "c", "é", "p", "q")]
GRAPHS = [ox.NamedNode(X + "g1"), ox.NamedNode(X + "g2")]
# characters the writers must escape or pass through untouched
HOSTILE = "ab \t\n\r\"'\\,;<>&é\u00a0\u2028😀𝄞\x01"
FORMATS = ("json", "xml", "csv", "tsv")
VERSION = "v1"

texts = st.text(alphabet=HOSTILE, max_size=6)
languages = st.sampled_from(["en", "en-GB", "zh-Hant-TW", "de-CH-1996"])
directions = st.sampled_from([ox.BaseDirection.RTL, None, ox.BaseDirection.LTR])
datatypes = st.sampled_from([XSD + "string", XSD + "integer", X + "custom", XSD + "gYear"])


@st.composite
def literals(draw: st.DrawFn) -> ox.Literal:
    text = draw(texts)
    kind = draw(st.sampled_from(["language", "plain", "typed", "number"]))
    if kind == "language":
        return ox.Literal(text, language=draw(languages), direction=draw(directions))
    if kind == "typed":
        return ox.Literal(text, datatype=ox.NamedNode(draw(datatypes)))
    if kind == "number":
        return ox.Literal(str(draw(st.integers(-99, 99))), datatype=ox.NamedNode(XSD + "integer"))
    return ox.Literal(text)


blank_nodes = st.sampled_from([ox.BlankNode("b1"), ox.BlankNode("b2")])
subjects = st.one_of(st.sampled_from(IRIS), blank_nodes)
objects = st.one_of(subjects, literals())
quads = st.builds(ox.Quad, subjects, st.sampled_from(IRIS), objects, st.sampled_from(GRAPHS))


def _written(term: ox.Term) -> str:
    """A constant as a query writes it: a plain string where the shortcuts' reader reads it."""
    if isinstance(term, ox.Literal) and term.datatype.value == XSD + "string":
        if not any(ch in term.value for ch in "\"\\\n\r"):
            return f'"{term.value}"'
    return str(term)  # N-Triples form: the engine reads it (the reader may leave it to the pool)


@st.composite
def queries(draw: st.DrawFn, data: list[ox.Quad]) -> str:
    """A query of the shapes the shortcuts answer, with constants taken from the data."""
    quad = draw(st.sampled_from(data))
    names = ("s", "p", "o")
    pattern = []
    for name, term in zip(names, (quad.subject, quad.predicate, quad.object)):
        keep = not isinstance(term, ox.BlankNode) and draw(st.integers(0, 2)) < 2
        pattern.append(_written(term) if keep else f"?{name}")
    where = " ".join(pattern)
    if draw(st.booleans()):  # a join on ?s with a constant object: counted, then run inline
        where += f" . ?s ?x {_written(draw(st.sampled_from(data)).object)}"
    form = draw(st.sampled_from(["select", "star", "ask"]))
    if form == "ask":
        return f"ASK {{ {where} }}"
    variables = [v for v in ("?o", "?s", "?p", "?x", "?unbound") if draw(st.booleans())]
    head = "*" if form == "star" or not variables else " ".join(variables)
    tail = ""
    if draw(st.booleans()):
        tail += f" LIMIT {draw(st.integers(0, 5))}"
    if draw(st.booleans()):
        tail += f" OFFSET {draw(st.integers(0, 3))}"
    return f"SELECT {head} WHERE {{ {where} }}{tail}"


def _runner(tmp_path: Path, data: list[ox.Quad]) -> InlineRunner:
    """An inline runner over an in-memory store of `data`, known as version VERSION."""
    db = ox.Store()
    db.bulk_extend(data)
    runner = InlineRunner(tmp_path)
    # what StoreState.opened keeps once it has opened a published version (no disk store:
    # building one per example would make this test slow)
    runner.state._opened = (None, VERSION, db)
    return runner


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.lists(quads, min_size=4, max_size=25), choices=st.data())
def test_the_shortcut_paths_answer_byte_for_byte_as_the_engine(
    tmp_path: Path, data: list[ox.Quad], choices: st.DataObject
) -> None:
    runner = _runner(tmp_path, data)
    store = runner.store(VERSION)
    for _ in range(8):
        text = choices.draw(queries(data))
        fmt = choices.draw(st.sampled_from(FORMATS))
        job = Job(text, "query", fmt, None, 1000)
        shortcut = runner.answer(job, version=VERSION)
        if shortcut is None:
            continue  # not provably cheap: the pool answers it, through run_query itself
        general = run_query(store, job)
        assert shortcut.body == general.body, (text, fmt)
        assert (shortcut.rows, shortcut.truncated) == (general.rows, general.truncated), text


def test_a_look_up_writes_a_base_direction_as_the_engine() -> None:
    """A literal "…"@ar--rtl keeps its direction (`its:dir`) in the look-up's SPARQL JSON."""
    db = ox.Store()
    literal = ox.Literal("مرحبا", language="ar", direction=ox.BaseDirection.RTL)
    db.add(ox.Quad(IRIS[0], IRIS[4], literal, GRAPHS[0]))
    text = f"SELECT ?o WHERE {{ <{X}a> <{X}p> ?o }}"
    job = Job(text, "query", "json", None, 1000)
    mine = lookup.answer(db, read_shape(text), job, 1000)
    assert b'"its:dir":"rtl"' in mine.body
    assert mine.body == run_query(db, job).body
