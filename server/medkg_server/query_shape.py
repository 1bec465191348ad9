"""A reader of the SPARQL subset whose cost can be judged before it runs (see inline.py).

It reads a plain basic graph pattern (triple patterns with `.`, `;`, `,` and `a`) as SELECT,
ASK or DESCRIBE of constant IRIs, with at most DISTINCT / LIMIT / OFFSET around it, into a
`Shape`; anything else raises `Unsupported`, and the query goes to the engine unread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import pyoxigraph as ox

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


# Each match is the white space before a token and the token, so a query takes half as many
# matches as tokens and gaps; `ws` is a comment, or the end of the text after trailing space.
_TOKENS = re.compile(
    r"\s*(?:(?P<ws>#[^\n\r]*|$)"  # a comment ends at CR too, as the engine reads it
    r"|(?P<iri><[^<>\"{}|^`\\\x00-\x20]*>)"
    r"|(?P<var>[?$][A-Za-z0-9_]+)"
    r"|(?P<string>\"[^\"\\\n]*\"|'[^'\\\n]*')"
    r"|(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)"
    r"|(?P<number>[+-]?[0-9]+(?:\.[0-9]+)?)"  # ASCII digits: SPARQL reads no others
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
    projection: list[str] | None = None  # SELECT's variables in order; None for `SELECT *`
    described: list[ox.NamedNode] = field(default_factory=list)
    distinct: bool = False
    limit: int | None = None
    offset: int = 0

    def answers_as_read(self) -> bool:
        """One pattern, no repeated variable and no DISTINCT: each match read is a row answered."""
        if len(self.patterns) != 1 or self.distinct:
            return False
        names = [t.name for t in self.patterns[0] if isinstance(t, Var)]
        return len(names) == len(set(names))


def read_shape(text: str) -> Shape:
    """Read a query of the supported subset, or raise Unsupported."""
    return _Reader(text).query()


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
        projection = None
        if self._peek() == ("punct", "*"):
            self._next()
        else:
            projection = [self._expect("var")[1:]]
            while self._kind_ahead() == "var":
                projection.append(self._next()[1][1:])
            if len(set(projection)) != len(projection):
                raise Unsupported("a variable projected twice")
        return Shape("SELECT", self._where(), projection, distinct=distinct)

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
