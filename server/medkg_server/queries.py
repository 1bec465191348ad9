"""The SPARQL the pages run, kept as .rq files under queries/ and filled in with `${name}`.

Values are inserted only through `iri()` and `literal()`, which write them in N-Triples syntax
with pyoxigraph's own escaping, so text from a URL can never change a query's shape.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

import pyoxigraph as ox

QUERY_DIR = Path(__file__).with_name("queries")


class BadValue(ValueError):
    """A value from a request cannot be used in a query (for example a malformed IRI)."""


@cache
def _template(name: str) -> Template:
    return Template((QUERY_DIR / f"{name}.rq").read_text(encoding="utf-8"))


def load(name: str, **values: str) -> str:
    """The query `queries/<name>.rq` with its `${...}` placeholders filled in."""
    return _template(name).substitute(values)


def iri(value: str) -> str:
    """`<value>`, checked to be an absolute IRI."""
    try:
        return str(ox.NamedNode(value))
    except ValueError:
        raise BadValue(f"not an IRI: {value!r}") from None


def literal(value: str) -> str:
    """A quoted, escaped SPARQL string literal."""
    return str(ox.Literal(value))
