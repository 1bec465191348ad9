"""One triple pattern answered from the store's index, without the SPARQL engine.

A look-up such as `SELECT ?title WHERE { <dataset> dcterms:title ?title }` is most of what
clients send. Over the union default graph its answer is exactly the store's matches of that
one pattern in every graph, in the index's order, which is also the engine's answer and order
(tests/server/test_lookup.py compares the two). pyoxigraph's `Store.query` and the results'
`serialize` release the GIL, `quads_for_pattern` does not; in a web worker whose threads queue
for the GIL each release costs a thread switch, and a look-up through the engine paid two or
three (bench/RESULTS.md, "Session 8"). So a query that is one triple pattern read as it comes
(no DISTINCT, no repeated variable) is answered here: its rows are read from the index and
written as SPARQL JSON directly, or as TSV handed to the engine's own writers for the other
result formats.
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

import pyoxigraph as ox

from medkg.query import RESULT_FORMATS
from medkg_server.query_shape import Shape, Var
from medkg_server.resource_view import binding
from medkg_server.worker import SELECT_FORMATS, Job, NotAcceptable, Outcome

POSITIONS = ("subject", "predicate", "object")


class Unwritable(Exception):
    """A term this module does not write (a quoted triple): the engine answers the query."""


def answers(shape: Shape) -> bool:
    """True when `shape` is a SELECT of one pattern that yields each row as the index reads it."""
    return shape.form == "SELECT" and shape.answers_as_read()


def answer(
    store: ox.Store, shape: Shape, job: Job, row_cap: int, version: str | None = None
) -> Outcome:
    """The answer of the one-pattern SELECT `shape` (see `answers`), at most `row_cap` rows."""
    if job.tabular_format is None:
        raise NotAcceptable(SELECT_FORMATS)
    pattern = shape.patterns[0]
    columns = _columns(shape, pattern)
    wanted = row_cap if shape.limit is None else min(shape.limit, row_cap)
    # one row past the cap tells whether the answer was cut there
    rows = list(islice(_matches(store, pattern), shape.offset, shape.offset + wanted + 1))
    truncated = len(rows) > wanted and (shape.limit is None or shape.limit > row_cap)
    rows = rows[:wanted]
    if job.tabular_format == "json":
        body = _json(columns, rows)
    else:
        parsed = ox.parse_query_results(_tsv(columns, rows), format=ox.QueryResultsFormat.TSV)
        body = parsed.serialize(format=RESULT_FORMATS[job.tabular_format])
    return Outcome("solutions", body, job.tabular_format, len(rows), truncated, version, "inline")


def _columns(shape: Shape, pattern: tuple[Any, Any, Any]) -> list[tuple[str, str | None]]:
    """Each answer variable with the quad position that binds it (None: never bound)."""
    where = {term.name: POSITIONS[i] for i, term in enumerate(pattern) if isinstance(term, Var)}
    # the engine lists the variables of `SELECT *` in name order
    names = shape.projection if shape.projection is not None else sorted(where)
    return [(name, where.get(name)) for name in names]


def _matches(store: ox.Store, pattern: tuple[Any, Any, Any]) -> Any:
    """The quads matching the pattern in any graph (the reader refuses a literal subject)."""
    subject, predicate, obj = (None if isinstance(t, Var) else t for t in pattern)
    return store.quads_for_pattern(subject, predicate, obj, None)


def _json(columns: list[tuple[str, str | None]], rows: list[ox.Quad]) -> bytes:
    """SPARQL 1.1 Query Results JSON, written the way the engine writes it (compact, UTF-8)."""
    bound = [(name, position) for name, position in columns if position is not None]
    bindings = [
        {name: _json_term(getattr(quad, position)) for name, position in bound} for quad in rows
    ]
    document = {"head": {"vars": [name for name, _ in columns]}, "results": {"bindings": bindings}}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_term(term: Any) -> dict[str, str]:
    written = binding(term)
    if written["type"] == "triple":
        raise Unwritable(f"no SPARQL JSON form written here for {term!r}")
    return written


def _tsv(columns: list[tuple[str, str | None]], rows: list[ox.Quad]) -> bytes:
    """The rows as SPARQL TSV: each term in its N-Triples form, an unbound cell empty."""
    lines = ["\t".join(f"?{name}" for name, _ in columns)]
    for quad in rows:
        lines.append("\t".join(str(getattr(quad, p)) if p else "" for _, p in columns))
    return ("\n".join(lines) + "\n").encode("utf-8")
