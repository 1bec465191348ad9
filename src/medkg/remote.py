"""Run a query against a remote SPARQL endpoint, with the output formats of the local `medkg query`.

The query is POSTed (SPARQL 1.1 Protocol) asking for SPARQL JSON (SELECT/ASK) or N-Triples
(CONSTRUCT/DESCRIBE, told apart by SPARQLWrapper's reading of the query); pyoxigraph reads them
back and `medkg.query.write` writes them, so a remote answer looks exactly like a local one. The
prefixes a local query may leave undeclared (mkg:, dcat:, ...) are declared for the remote
endpoint, which does not know them, on the query's first line so that its line numbers hold.
Redirects are not followed, and a failure is one line naming the endpoint.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.parse
import urllib.request

import pyoxigraph as ox
from SPARQLWrapper import SPARQLWrapper

from medkg.config import DEFAULT_BASE
from medkg.namespaces import Namespaces
from medkg.push import NO_REDIRECT_OPENER, REDIRECT_STATUSES, TOKEN_SHAPE
from medkg.query import (
    FORMATS,
    QueryError,
    check_is_query,
    default_prefixes,
    short_message,
    write,
)

GRAPH_QUERY_TYPES = ("CONSTRUCT", "DESCRIBE")
N_TRIPLES = "application/n-triples"
SPARQL_JSON = "application/sparql-results+json"
HTML_TYPES = ("text/html", "application/xhtml+xml")
DEFAULT_TIMEOUT = 60


class RemoteError(Exception):
    """The remote endpoint could not be reached, refused the query, or answered unreadably."""


class QueryRefused(RemoteError):
    """The endpoint answered 400 Bad Request: the SPARQL 1.1 Protocol's answer to a bad query."""


def with_default_prefixes(query_text: str, base: str = DEFAULT_BASE) -> str:
    """Prepend PREFIX lines for the medkg default prefixes the query does not declare itself."""
    return default_prefix_line(query_text, base) + query_text


def default_prefix_line(query_text: str, base: str = DEFAULT_BASE) -> str:
    """The PREFIX declarations the query lacks, as text put before its first line.

    They go on the query's own first line, not lines of their own, so that the line numbers in
    a remote parser's message are the user's (`_unshift` mends the columns of line 1).
    """
    declared = {m.lower() for m in re.findall(r"(?i)\bPREFIX\s+([A-Za-z][\w.-]*)?:", query_text)}
    return "".join(
        f"PREFIX {name}: <{iri}> "
        for name, iri in default_prefixes(Namespaces(base)).items()
        if name.lower() not in declared
    )


def _has_user_info(endpoint: str) -> bool:
    """Whether the URL names a user (and maybe a password) before its host."""
    try:
        return "@" in urllib.parse.urlsplit(endpoint).netloc
    except ValueError:
        return False  # a malformed URL: the request says so, naming it


def _query_type(query_text: str) -> str:
    """SELECT, ASK, CONSTRUCT, DESCRIBE ... as SPARQLWrapper reads the query (by its keywords)."""
    wrapper = SPARQLWrapper("http://localhost/")
    wrapper.setQuery(query_text)
    return wrapper.queryType


def _fetch(endpoint: str, query_text: str, accept: str, token: str | None, timeout: float,
           shift: int) -> tuple[bytes, str]:
    """POST the query (SPARQL 1.1 Protocol, form-encoded); the answer's bytes and media type.

    A redirect is not followed: urllib would resend a POST as a GET without the query (and the
    token to wherever it points). `shift` is how many characters medkg put before line 1.
    """
    body = urllib.parse.urlencode({"query": query_text}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        with NO_REDIRECT_OPENER.open(request, timeout=timeout) as response:
            return response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        if exc.code in REDIRECT_STATUSES:
            where = exc.headers.get("Location") or "(no Location)"
            raise RemoteError(f"{endpoint} redirects to {where}; not followed (a redirected POST "
                              "loses the query): query that URL instead") from None
        refused = QueryRefused if exc.code == 400 else RemoteError
        message = _server_message(exc, shift)
        if token:
            message = message.replace(token, "[token]")  # a server may echo the header it got
        raise refused(f"{endpoint} answered HTTP {exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise RemoteError(f"{endpoint} did not answer within {timeout:g} s") from None
        raise RemoteError(f"cannot reach {endpoint}: {exc.reason}") from None
    except TimeoutError:
        raise RemoteError(f"{endpoint} did not answer within {timeout:g} s") from None
    except (ValueError, http.client.InvalidURL) as exc:
        raise RemoteError(f"endpoint {endpoint!r} is not a valid URL: {exc}") from None


def _server_message(exc: urllib.error.HTTPError, shift: int) -> str:
    """The error body on one line; an HTML page is named, not printed."""
    if exc.headers.get_content_type() in HTML_TYPES:
        return f"{exc.reason} (an HTML page: is this the URL of a SPARQL endpoint?)"
    text = " ".join(exc.read().decode("utf-8", "replace").split())
    return _unshift(short_message(text, 500), shift) or str(exc.reason)


def _unshift(message: str, shift: int) -> str:
    """Positions on line 1 in the server's message, counted in the query as the user wrote it."""
    def column(match: re.Match[str]) -> str:
        return f"{match[1]}{max(int(match[2]) - shift, 1)}"

    return re.sub(r"(\bat 1:)(\d+)", column, message)


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
    """Run `query_text` on `endpoint` and return the results written as `fmt`.

    Raises RemoteError when the endpoint fails, QueryError when the query or `fmt` is the
    user's mistake (as the local `medkg query` does).
    """
    if fmt not in FORMATS:
        raise QueryError(f"unknown format '{fmt}' (known: {', '.join(FORMATS)})")
    if not endpoint.startswith(("http://", "https://")):
        raise RemoteError(f"endpoint must be an http(s) URL, got {endpoint!r}")
    if _has_user_info(endpoint):
        # urllib sends no credentials from the URL, and every message would print the password
        raise RemoteError("endpoint must not carry a user name or password: use --token")
    check_is_query(query_text)  # an update is not sent: the endpoint may well accept it
    if token is not None and not TOKEN_SHAPE.fullmatch(token):
        # urllib's own message would quote the header, token and all
        raise RemoteError("the token has a character an HTTP header cannot carry (a space, a "
                          "line break or a non-ASCII character)")
    prelude = default_prefix_line(query_text, base)
    is_graph = _query_type(query_text) in GRAPH_QUERY_TYPES
    accept = N_TRIPLES if is_graph else SPARQL_JSON
    data, media_type = _fetch(endpoint, prelude + query_text, accept, token, timeout, len(prelude))
    if media_type in HTML_TYPES:
        raise RemoteError(f"{endpoint} answered with an HTML page, not SPARQL results: "
                          "is this the URL of a SPARQL endpoint?")
    try:
        if is_graph:
            results = _graph_results(data)
        else:
            results = ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)
    except SyntaxError as exc:
        raise RemoteError(f"{endpoint} sent results that do not parse: {exc}") from None
    return write(results, fmt)  # QueryError: a format that does not fit the query form
