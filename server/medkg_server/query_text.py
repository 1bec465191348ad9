"""Facts about a query's text that decide how it is run, found without evaluating it."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from pyparsing import ParseException
from rdflib.plugins.sparql.parser import parseQuery

# FROM as a keyword: not part of a prefixed name (ex:from, ex:valid-from, ex:a.from, ex:a\-from,
# ex:a%2Dfrom), a variable (?from), a blank node label (_:from) or a language tag ("x"@from).
FROM_WORD = re.compile(
    r"(?<![\w:?$.\-\\%@\u00b7\u0300-\u036f\u203f\u2040])from(?![\w:])", re.IGNORECASE
)
# rdflib's pyparsing grammar keeps state while it parses: one parse at a time per process.
PARSE_LOCK = threading.Lock()
# Oxigraph's recursive-descent parser overflows its stack (the process dies) a few thousand
# brackets deep; real queries nest a dozen levels at most.
MAX_NESTING = 200
# Strings, IRIs and comments may hold brackets or words that mean nothing: skip them whole.
_QUOTED = (
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\.)*"'
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'
    r"|#[^\n\r]*"  # a comment ends at CR too (the engine reads on after it)
)
_TOKEN = re.compile(_QUOTED + r"|[{(\[]|[})\]]")
_SKIPPED = re.compile(_QUOTED)
OPENERS, CLOSERS = frozenset("{(["), frozenset("})]")


class QueryTooComplex(Exception):
    """The query nests too deeply to be parsed safely."""


def check_nesting(text: str) -> None:
    """Refuse a query whose brackets nest deeper than MAX_NESTING."""
    if text.count("{") + text.count("(") + text.count("[") <= MAX_NESTING:
        return  # too few brackets to nest that deep (counting is far cheaper than scanning)
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif token in CLOSERS:
            depth = max(depth - 1, 0)
    if deepest > MAX_NESTING:
        raise QueryTooComplex(
            f"the query nests brackets {deepest} levels deep; at most {MAX_NESTING} are accepted"
        )


def code_only(text: str) -> str:
    """The query with its strings, IRIs and comments blanked out (they may say "from")."""
    return _SKIPPED.sub(" ", text)


@lru_cache(maxsize=1024)
def has_dataset_clause(text: str) -> bool:
    """True when the query names its own dataset with FROM or FROM NAMED.

    Such a query must not get the union default graph: pyoxigraph's union flag would override
    its FROM clauses. The cheap word test skips parsing for the many queries without "from".
    """
    # blanking strings, IRIs and comments never makes the word appear: test the raw text first
    if not FROM_WORD.search(text) or not FROM_WORD.search(code_only(text)):
        return False
    try:
        with PARSE_LOCK:
            parsed = parseQuery(text)
    except ParseException:
        # The word stands outside strings, IRIs and comments, where it can only be the keyword.
        # rdflib reads SPARQL 1.1 only: a query in Oxigraph's SPARQL 1.2 (LATERAL, triple
        # terms) keeps its FROM; a broken one gets pyoxigraph's own syntax error either way.
        return True
    except RecursionError:
        raise QueryTooComplex(
            "the query nests too deeply to check its FROM clauses; flatten its groups"
        ) from None
    # CompValue.get() answers a missing key with the key's own name (truthy): test membership.
    return "datasetClause" in parsed[1]
