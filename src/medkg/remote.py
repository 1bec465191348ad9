"""Run a query against a remote SPARQL endpoint, with the output formats of the local `medkg query`.

SPARQLWrapper fetches SELECT/ASK results as SPARQL JSON and CONSTRUCT/DESCRIBE results as
N-Triples; pyoxigraph reads them back and `medkg.query.write` writes them, so a remote answer looks
exactly like a local one. The prefixes a local query may leave undeclared (mkg:, dcat:, ...) are
declared for the remote endpoint, which does not know them.
"""

from __future__ import annotations

import re
import urllib.error

import pyoxigraph as ox
from SPARQLWrapper import JSON, POST, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

from medkg.config import DEFAULT_BASE
from medkg.namespaces import Namespaces
from medkg.query import FORMATS, QueryError, default_prefixes, write

GRAPH_QUERY_TYPES = ("CONSTRUCT", "DESCRIBE")
N_TRIPLES = "application/n-triples"
DEFAULT_TIMEOUT = 60


class RemoteError(Exception):
    """The remote endpoint could not be reached, refused the query, or answered unreadably."""


def with_default_prefixes(query_text: str, base: str = DEFAULT_BASE) -> str:
    """Prepend PREFIX lines for the medkg default prefixes the query does not declare itself."""
    declared = {m.lower() for m in re.findall(r"(?i)\bPREFIX\s+([A-Za-z][\w.-]*)?:", query_text)}
    lines = [
        f"PREFIX {name}: <{iri}>"
        for name, iri in default_prefixes(Namespaces(base)).items()
        if name.lower() not in declared
    ]
    return "\n".join([*lines, query_text])


def _wrapper(endpoint: str, query_text: str, token: str | None, timeout: float) -> SPARQLWrapper:
    wrapper = SPARQLWrapper(endpoint)
    wrapper.setMethod(POST)
    # by content negotiation only: SPARQLWrapper otherwise adds format=xml to a CONSTRUCT, which
    # servers that honour the parameter (medkg's own) answer in RDF/XML, not the N-Triples asked
    wrapper.setOnlyConneg(True)
    wrapper.setTimeout(int(timeout))
    if token:
        wrapper.addCustomHttpHeader("Authorization", f"Bearer {token}")
    wrapper.setQuery(query_text)
    return wrapper


def _fetch(wrapper: SPARQLWrapper, endpoint: str) -> bytes:
    try:
        response = wrapper.query().response
        return response.read()
    except SPARQLWrapperException as exc:
        raise RemoteError(f"{endpoint} refused the query: {exc}") from None
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace").strip()[:500]
        raise RemoteError(f"{endpoint} answered HTTP {exc.code}: {body or exc.reason}") from None
    except urllib.error.URLError as exc:
        raise RemoteError(f"cannot reach {endpoint}: {exc.reason}") from None
    except TimeoutError:
        raise RemoteError(f"{endpoint} did not answer within the time limit") from None


def _graph_results(data: bytes) -> ox.QueryTriples:
    """N-Triples -> the QueryTriples `medkg.query.write` serialises (via a throwaway store)."""
    store = ox.Store()
    store.load(data, format=ox.RdfFormat.N_TRIPLES)
    return store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")  # type: ignore[return-value]


def query(
    endpoint: str,
    query_text: str,
    fmt: str,
    *,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    base: str = DEFAULT_BASE,
) -> str:
    """Run `query_text` on `endpoint` and return the results written as `fmt`."""
    if fmt not in FORMATS:
        raise RemoteError(f"unknown format '{fmt}' (known: {', '.join(FORMATS)})")
    if not endpoint.startswith(("http://", "https://")):
        raise RemoteError(f"endpoint must be an http(s) URL, got {endpoint!r}")
    wrapper = _wrapper(endpoint, with_default_prefixes(query_text, base), token, timeout)
    is_graph = wrapper.queryType in GRAPH_QUERY_TYPES
    if is_graph:
        wrapper.addCustomHttpHeader("Accept", N_TRIPLES)
    else:
        wrapper.setReturnFormat(JSON)
    data = _fetch(wrapper, endpoint)
    try:
        if is_graph:
            results = _graph_results(data)
        else:
            results = ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)
        return write(results, fmt)
    except SyntaxError as exc:
        raise RemoteError(f"{endpoint} sent results that do not parse: {exc}") from None
    except QueryError as exc:
        raise RemoteError(str(exc)) from None
