"""Queries whose cost is provably small, answered in the web process without the query pool.

The query pool (executor.py) exists because pyoxigraph cannot cancel a query: a query that may
run long goes to a child process that can be killed at its time limit. That safety costs a pipe
round trip and two serialisations per request, which dominates the cost of a look-up that the
engine answers in a fraction of a millisecond. So a query is answered here, in the request's own
thread, only when its work is bounded *before* it runs:

- it is a plain basic graph pattern (triple patterns with `.`, `;`, `,` and `a`), as SELECT,
  ASK or DESCRIBE of constant IRIs, with at most DISTINCT / LIMIT / OFFSET around it: no FILTER,
  OPTIONAL, UNION, GRAPH, SERVICE, paths, sub-queries, aggregates or ORDER BY;
- and either it is one triple pattern with no repeated variable, read lazily up to a LIMIT (or
  to the first match for ASK), so every row read is a row answered;
- or it is such a pattern with a constant subject or object and no LIMIT (a look-up): it runs
  here with ROW_BUDGET as its row cap, and an answer cut there goes to the pool instead;
- or every pattern has a constant subject or object, and the product of the patterns' match
  counts (each counted with an index look-up, up to a cap) stays under a budget. Any join order
  touches at most that product of rows, so the answer's cost is bounded by it.

Anything else, and anything this reader does not understand, goes to the pool as before. Pages
use the same idea with an anchor: their queries are written around one resource, so they run
here when that resource has few statements in and out.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from math import prod
from pathlib import Path
from typing import NamedTuple

import pyoxigraph as ox

from medkg.store import StoreError
from medkg_server.executor import JobFailed
from medkg_server.worker import Job, Outcome, StoreState, answer

ROW_BUDGET = 10_000  # rows a bounded query may touch in all (product of pattern counts)
ANCHOR_BUDGET = 2_000  # statements in and out of a page's resource for its page to run here
ANCHOR_MEMO = 10_000  # resources whose degree is remembered per process
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

# Each match is the white space before a token and the token, so a query takes half as many
# matches as tokens and gaps; `ws` is a comment, or the end of the text after trailing space.
_TOKENS = re.compile(
    r"\s*(?:(?P<ws>#[^\n]*|$)"
    r"|(?P<iri><[^<>\"{}|^`\\\x00-\x20]*>)"
    r"|(?P<var>[?$][A-Za-z0-9_]+)"
    r"|(?P<string>\"[^\"\\\n]*\"|'[^'\\\n]*')"
    r"|(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)"
    r"|(?P<number>[+-]?\d+(?:\.\d+)?)"
    r"|(?P<pname>(?:[A-Za-z][A-Za-z0-9_.-]*)?:(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?)?)"
    r"|(?P<word>[A-Za-z]+)"
    r"|(?P<punct>\^\^|[{}.;,*]))"
)
ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class Unsupported(Exception):
    """The query is outside the subset this module can prove cheap (it goes to the pool)."""


class Var(NamedTuple):
    """A query variable (a tuple: the reader makes several per request, cheaply)."""

    name: str


Term = Var | ox.NamedNode | ox.Literal
Pattern = tuple[Term, Term, Term]


@dataclass
class Shape:
    """What the cost check needs to know about a query."""

    form: str  # "SELECT", "ASK" or "DESCRIBE"
    patterns: list[Pattern] = field(default_factory=list)
    described: list[ox.NamedNode] = field(default_factory=list)
    distinct: bool = False
    limit: int | None = None
    offset: int = 0


def read_shape(text: str) -> Shape:
    """Read a query of the supported subset, or raise Unsupported."""
    return _Reader(text).query()


def is_bounded(shape: Shape, store: ox.Store) -> bool:
    """True when evaluating the query touches at most ROW_BUDGET rows (see the module text)."""
    if shape.form == "DESCRIBE":
        return not shape.patterns and all(
            _count(store, (iri, Var("p"), Var("o"))) <= ROW_BUDGET for iri in shape.described
        )
    if not shape.patterns:
        return True
    if len(shape.patterns) == 1 and _streams(shape):
        return True
    counts = []
    for pattern in shape.patterns:
        if isinstance(pattern[0], Var) and isinstance(pattern[2], Var):
            return False  # no index look-up bounds it
        counts.append(_count(store, pattern))
        if prod(counts) > ROW_BUDGET:
            return False
    return True


def _streams(shape: Shape) -> bool:
    """One pattern, no repeated variable: each row read is a row answered, so a LIMIT bounds it."""
    if not _answers_as_it_reads(shape):
        return False
    if shape.form == "ASK":
        return True
    return shape.limit is not None and shape.limit + shape.offset <= ROW_BUDGET


def _answers_as_it_reads(shape: Shape) -> bool:
    """One pattern, no repeated variable and no DISTINCT: each row read is a row answered."""
    names = [t.name for t in shape.patterns[0] if isinstance(t, Var)]
    return len(names) == len(set(names)) and not shape.distinct


def streams_to_budget(shape: Shape) -> bool:
    """A look-up by one pattern with no LIMIT: evaluated here with ROW_BUDGET as its row cap.

    One pattern with a constant subject or object and no repeated variable yields each row as
    it reads it, so stopping the answer after ROW_BUDGET rows stops the work there too. An
    answer that reaches the budget is incomplete and goes to the pool; one that does not is
    the whole answer, found without counting the pattern's matches first (that count was a
    third of the cost of proving a look-up cheap).
    """
    if shape.form != "SELECT" or len(shape.patterns) != 1 or shape.limit is not None:
        return False
    subject, _, obj = shape.patterns[0]
    if isinstance(subject, Var) and isinstance(obj, Var):
        return False  # likely a scan: is_bounded refuses it without reading
    return _answers_as_it_reads(shape) and shape.offset <= ROW_BUDGET


def _count(store: ox.Store, pattern: Pattern, cap: int = ROW_BUDGET) -> int:
    """Matches of one pattern in any graph, counted up to cap + 1."""
    s, p, o = (None if isinstance(t, Var) else t for t in pattern)
    if isinstance(s, ox.Literal) or isinstance(p, ox.Literal):
        return 0  # a literal never matches there (the query will answer nothing)
    return len(list(islice(store.quads_for_pattern(s, p, o, None), cap + 1)))


def anchor_degree(store: ox.Store, iri: str, cap: int = ANCHOR_BUDGET) -> int:
    """Statements with `iri` as subject plus those with it as object, counted up to cap + 1."""
    node = ox.NamedNode(iri)
    out = _count(store, (node, Var("p"), Var("o")), cap)
    return out if out > cap else out + _count(store, (Var("s"), Var("p"), node), cap - out)


class InlineRunner:
    """Answers bounded queries in the calling thread from this process's own read-only store."""

    def __init__(self, store_dir: Path, memory_quads: int = 0) -> None:
        self.state = StoreState(store_dir, memory_quads)
        self._lock = threading.Lock()
        # A page asks several queries about one resource: look at its degree once per version.
        self._anchors: dict[tuple[str | None, str], bool] = {}

    def store(self, version: str | None = None) -> ox.Store:
        """The open store (of `version` when given and already open: see StoreState.current)."""
        with self._lock:  # one reopen when a new version is published, not one per thread
            return self.state.current(version)

    def answer(
        self, job: Job, anchor: str | None = None, version: str | None = None
    ) -> Outcome | None:
        """The answer of `job` when it is provably cheap, evaluated here; None: ask the pool."""
        cap = self._row_cap(job, anchor, version)
        if cap is None:
            return None
        if cap >= job.row_cap:
            return self.run(job, version)
        outcome = self.run(replace(job, row_cap=cap), version)
        return None if outcome.truncated else outcome  # cut short: the pool answers it whole

    def accepts(self, job: Job, anchor: str | None = None, version: str | None = None) -> bool:
        """True when `job` may run here: a bounded query over the default (union) dataset."""
        return self._row_cap(job, anchor, version) is not None

    def _row_cap(self, job: Job, anchor: str | None, version: str | None) -> int | None:
        """The row cap `job` may run here with (see `streams_to_budget`), or None if not here."""
        if job.operation != "query" or not job.union_default_graph:
            return None
        if job.default_graphs is not None or job.named_graphs is not None:
            return None
        try:
            store = self.store(version)
        except StoreError:
            return None  # the pool reports it in its own words
        if anchor is not None:
            return job.row_cap if self._small_anchor(store, anchor) else None
        try:
            shape = read_shape(job.text)
        except Unsupported:
            return None
        if streams_to_budget(shape):
            return min(job.row_cap, ROW_BUDGET)
        return job.row_cap if is_bounded(shape, store) else None

    def _small_anchor(self, store: ox.Store, iri: str) -> bool:
        key = (self.state.version, iri)
        known = self._anchors.get(key)
        if known is None:
            if len(self._anchors) >= ANCHOR_MEMO:
                self._anchors.clear()
            known = self._anchors[key] = anchor_degree(store, iri) <= ANCHOR_BUDGET
        return known

    def run(self, job: Job, version: str | None = None) -> Outcome:
        """Evaluate `job` (just `accepts`-ed); engine errors become JobFailed as from the pool."""
        status, payload = answer(self.state, job, "inline", version)
        if status != "ok":
            raise JobFailed(status, str(payload))
        assert isinstance(payload, Outcome)
        return payload


class _Reader:
    """A recursive-descent reader of the supported subset of SPARQL 1.1."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0
        self.prefixes: dict[str, str] = {}

    def query(self) -> Shape:
        while self._word_is("PREFIX"):
            self._next()
            name = self._expect("pname")
            if not name.endswith(":"):
                raise Unsupported("prefix name")
            self.prefixes[name[:-1]] = self._iri(self._expect("iri"))
        kind, value = self._next()
        form = value.upper() if kind == "word" else ""
        if form == "SELECT":
            shape = self._select()
        elif form == "ASK":
            shape = Shape("ASK", self._where())
        elif form == "DESCRIBE":
            shape = Shape("DESCRIBE", described=self._described())
        else:
            raise Unsupported(f"query form {value!r}")
        self._modifiers(shape)
        if self._peek() is not None:
            raise Unsupported("text after the query")
        return shape

    def _select(self) -> Shape:
        distinct = False
        if self._word_is("DISTINCT") or self._word_is("REDUCED"):
            distinct = True
            self._next()
        if self._peek() == ("punct", "*"):
            self._next()
        else:
            self._expect("var")
            while self._kind_ahead() == "var":
                self._next()
        return Shape("SELECT", self._where(), distinct=distinct)

    def _described(self) -> list[ox.NamedNode]:
        described = []
        while self._kind_ahead() in ("iri", "pname"):
            term = self._term()
            assert isinstance(term, ox.NamedNode)
            described.append(term)
        if not described:
            raise Unsupported("DESCRIBE needs constant IRIs")
        return described

    def _where(self) -> list[Pattern]:
        if self._word_is("WHERE"):
            self._next()
        self._punct("{")
        patterns: list[Pattern] = []
        while self._peek() != ("punct", "}"):
            patterns.extend(self._triples())
            if self._peek() == ("punct", "."):
                self._next()
        self._punct("}")
        return patterns

    def _triples(self) -> Iterator[Pattern]:
        subject = self._term()
        if isinstance(subject, ox.Literal):
            raise Unsupported("literal subject")
        while True:
            if self._word_is("a"):
                self._next()
                predicate: Term = ox.NamedNode(RDF_TYPE)
            else:
                predicate = self._term()
            if isinstance(predicate, ox.Literal):
                raise Unsupported("literal predicate")
            yield subject, predicate, self._term()
            while self._peek() == ("punct", ","):
                self._next()
                yield subject, predicate, self._term()
            if self._peek() != ("punct", ";"):
                return
            self._next()
            if self._peek() in (("punct", "."), ("punct", "}")):
                return

    def _term(self) -> Term:
        kind, value = self._next()
        if kind == "var":
            return Var(value[1:])
        if kind in ("iri", "pname"):
            return ox.NamedNode(self._iri(value))
        if kind == "string":
            return self._literal(value[1:-1])
        if kind == "number":
            number_type = "decimal" if "." in value else "integer"
            return ox.Literal(value, datatype=ox.NamedNode(XSD + number_type))
        if kind == "word" and value in ("true", "false"):
            return ox.Literal(value, datatype=ox.NamedNode(XSD + "boolean"))
        raise Unsupported(f"term {value!r}")

    def _literal(self, lexical: str) -> ox.Literal:
        nxt = self._peek()
        if nxt is not None and nxt[0] == "lang":
            self._next()
            return ox.Literal(lexical, language=nxt[1][1:])
        if nxt == ("punct", "^^"):
            self._next()
            kind, value = self._next()
            if kind not in ("iri", "pname"):
                raise Unsupported("datatype")
            return ox.Literal(lexical, datatype=ox.NamedNode(self._iri(value)))
        return ox.Literal(lexical)

    def _iri(self, value: str) -> str:
        if value.startswith("<"):
            iri = value[1:-1]
        else:
            prefix, _, local = value.partition(":")
            if prefix not in self.prefixes:
                raise Unsupported(f"undeclared prefix {prefix!r}")
            iri = self.prefixes[prefix] + local
        if not ABSOLUTE.match(iri):
            raise Unsupported("relative IRI")
        return iri

    def _modifiers(self, shape: Shape) -> None:
        while self._word_is("LIMIT") or self._word_is("OFFSET"):
            word = self._next()[1].upper()
            number = self._expect("number")
            if not number.isdigit():
                raise Unsupported("LIMIT / OFFSET must be a whole number")
            if word == "LIMIT":
                shape.limit = int(number)
            else:
                shape.offset = int(number)

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _kind_ahead(self) -> str | None:
        token = self._peek()
        return None if token is None else token[0]

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise Unsupported("unexpected end of query")
        self.position += 1
        return token

    def _expect(self, kind: str) -> str:
        got, value = self._next()
        if got != kind:
            raise Unsupported(f"expected {kind}, found {value!r}")
        return value

    def _punct(self, value: str) -> None:
        if self._next() != ("punct", value):
            raise Unsupported(f"expected {value!r}")

    def _word_is(self, word: str) -> bool:
        token = self._peek()
        if token is None or token[0] != "word":
            return False
        return token[1] == word if word == "a" else token[1].upper() == word


def _tokenize(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, text); raises Unsupported at the first character it cannot read."""
    tokens = []
    position = 0
    for match in _TOKENS.finditer(text):
        if match.start() != position:
            break  # finditer skipped a character no token matches
        position = match.end()
        kind = match.lastgroup
        if kind != "ws":
            tokens.append((kind, match.group(kind)))
    if position != len(text):
        rest = text[position:]
        position += len(rest) - len(rest.lstrip())
        raise Unsupported(f"character {text[position]!r} at {position}")
    return tokens
