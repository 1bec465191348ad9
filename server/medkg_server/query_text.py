"""Facts about a query's text that decide how it is run, found without evaluating it."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from pyparsing import ParseException
from rdflib.plugins.sparql.parser import parseQuery

FROM_WORD = re.compile(r"\bfrom\b", re.IGNORECASE)
# rdflib's pyparsing grammar keeps state while it parses: one parse at a time per process.
PARSE_LOCK = threading.Lock()


@lru_cache(maxsize=1024)
def has_dataset_clause(text: str) -> bool:
    """True when the query names its own dataset with FROM or FROM NAMED.

    Such a query must not get the union default graph: pyoxigraph's union flag would override
    its FROM clauses. The cheap word test skips parsing for the many queries without "from".
    """
    if not FROM_WORD.search(text):
        return False
    try:
        with PARSE_LOCK:
            parsed = parseQuery(text)
    except ParseException:
        return False  # pyoxigraph will report the syntax error itself
    return bool(parsed[1].get("datasetClause"))
