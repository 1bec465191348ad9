"""The direct path: the two most frequent GET requests answered without Flask.

Most traffic is one of two shapes: a GET to /sparql or /query whose only parameter is `query`,
and a GET for a resource's page (/dataset/<slug> and the like). Answering either takes a few
tenths of a millisecond; Flask's request and response objects, routing and hooks cost about as
much again (bench/RESULTS.md: 0.28 ms of CPU per look-up through Flask, 0.14 ms here when this
layer came; a dataset page as Turtle 0.18 against 0.076 ms, as HTML 0.42 against 0.28 ms).
This layer sits between the answer cache (fastpath.py) and Flask. It answers those shapes
through the same code as the Flask views (`sparql.answer_query`, `linked_data.PageRenderer`)
and adds the headers Flask's hooks would add. Everything else goes to Flask unchanged:
conditional requests, other parameters, other paths, and any page that is not a plain 200 (a
missing resource, a format nobody offers).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from werkzeug.sansio.utils import get_current_url
from werkzeug.wsgi import get_host

from medkg_server import formats, queries
from medkg_server.executor import ExecutorBusy, QueryTimeout
from medkg_server.fastpath import CONDITIONS, MARKER, PUBLISHED, log_access
from medkg_server.linked_data import KINDS, PageRenderer, negotiation_headers, page_etag
from medkg_server.protocol import Operation
from medkg_server.replies import (
    EXPECTED,
    Reply,
    cors_headers,
    plain,
    refusal,
    validator_headers,
    with_vary,
)
from medkg_server.site import Links
from medkg_server.sparql import answer_query
from medkg_server.state import ServerState

error_log = logging.getLogger("medkg_server.error")
PATHS = frozenset({"/sparql", "/sparql/", "/query"})
# A named graph's page is a dump of the graph, or a page for a graph with no statements: Flask's
PAGE_KINDS = frozenset(KINDS) - {"graph"}
# RFC 3986's unreserved characters and "/": neither quoting nor IRI decoding changes them
PLAIN_PATH = re.compile(r"[A-Za-z0-9._~/-]*")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class PageRequest:
    """What a GET for a resource's page asks: which resource, in which representation."""

    kind: str
    iri: str
    wanted: formats.Format | str  # a Format, or "html"


class DirectPath:
    """WSGI middleware: answer plain GET queries and pages itself, pass the rest to `app`."""

    def __init__(self, app: WSGIApp, st: ServerState, pages: PageRenderer) -> None:
        self.app = app
        self.st = st
        self.pages = pages

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        text = self.plain_query(environ)
        if text is not None:
            reply: Reply | None = self._query_reply(environ, text)
        else:
            try:
                reply = self._page_reply(environ)
            except (QueryTimeout, ExecutorBusy) as exc:
                reply = refusal(exc)  # the 503 Flask's handler sends: the client may retry
            except Exception:  # noqa: BLE001 - anything else: Flask meets it again, and its
                reply = None  # error handlers answer and log it as for any page
        if reply is None:
            return self.app(environ, start_response)
        cors = cors_headers(environ.get("HTTP_ORIGIN"), self.st.settings)
        headers = [
            *reply.headers,
            *cors,
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Length", str(len(reply.body))),
        ]
        if cors:
            headers = with_vary(headers)  # CORS's Vary: Origin joins the answer's Vary: Accept
        start_response(reply.status_line, headers)
        log_access(environ, reply.status, len(reply.body), started)
        return [reply.body]

    def plain_query(self, environ: dict[str, Any]) -> str | None:
        """The query text of a GET this path answers, or None to leave the request to Flask."""
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in PATHS:
            return None
        raw = environ.get("QUERY_STRING", "")
        if not raw.startswith("query=") or len(raw) > self.st.settings.max_request_bytes:
            return None
        if any(name in environ for name in CONDITIONS):
            return None
        if "&" in raw:
            return None  # other parameters: Flask reads them
        try:
            value = raw[len("query=") :].encode("latin-1").decode("utf-8")
            # %-escapes that are not UTF-8: Flask's path answers them with a 400 (protocol.py)
            return unquote(value.replace("+", " "), errors="strict")
        except UnicodeError:
            return None

    def page_request(self, environ: dict[str, Any]) -> PageRequest | None:
        """What a GET for a resource's page asks, or None to leave the request to Flask."""
        if environ.get("REQUEST_METHOD") != "GET" or any(name in environ for name in CONDITIONS):
            return None
        settings = self.st.settings
        path = environ.get("PATH_INFO", "")
        if not path.startswith(settings.ld_prefix) or "//" in path:
            return None  # Flask's routing redirects a path with an empty segment
        kind, _, rest = path[len(settings.ld_prefix) :].partition("/")
        if kind not in PAGE_KINDS or not rest:
            return None
        try:
            # WSGI hands the path over as Latin-1; Flask reads it as UTF-8
            iri = settings.base + kind + "/" + rest.encode("latin-1").decode("utf-8")
            pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True,
                              errors="strict")
            queries.iri(iri)
        except (UnicodeError, queries.BadValue):
            return None
        values = [value for name, value in pairs if name == "format"]
        wanted = formats.negotiate_graph(environ.get("HTTP_ACCEPT", ""), values, html=True)
        return None if wanted is None else PageRequest(kind, iri, wanted)

    def _query_reply(self, environ: dict[str, Any], text: str) -> Reply:
        operation = Operation("query", text, None, None, (), None)
        try:
            accept = environ.get("HTTP_ACCEPT", "")
            return answer_query(self.st, operation, accept, None, environ.get(PUBLISHED))
        except EXPECTED as exc:
            return refusal(exc)
        except Exception:  # the Flask app's last-resort handler does the same: log, short 500
            error_log.exception("unhandled error on GET %s", environ.get("PATH_INFO"))
            return plain(500, "internal server error; the server log has the details")

    def _page_reply(self, environ: dict[str, Any]) -> Reply | None:
        """A resource's page, or None when Flask is to answer (anything but a plain 200)."""
        asked = self.page_request(environ)
        if asked is None:
            return None
        links = self.pages.site.known(environ)  # None until Flask has answered this host once
        version = self.st.version(environ.get(PUBLISHED))
        if links is None or version is None:
            return None
        page = self.pages.page(self.st, version.name, asked.kind, asked.iri, asked.wanted, links)
        if page is None:
            return None  # Flask's 404 page
        body = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
        here = _base_url(environ, links)
        headers = [
            *page.headers,
            *validator_headers(page_etag(version, asked.iri, asked.wanted), version),
            (MARKER, "1"),  # the fast path may answer this request again
            *negotiation_headers(here),
        ]
        return Reply(200, headers, body)


def _base_url(environ: dict[str, Any], links: Links) -> str:
    """The request's URL without its query, spelled as Flask's `request.base_url` spells it.

    Werkzeug quotes the path and turns the URL back into an IRI (a fifth of a Turtle page's
    time); a path of unreserved characters comes out of both as it went in, after the root URL
    the site's links keep for this host.
    """
    path = environ.get("PATH_INFO", "")
    if PLAIN_PATH.fullmatch(path):
        return links["root"] + path.lstrip("/")
    return get_current_url(
        environ["wsgi.url_scheme"],
        get_host(environ),
        _from_wsgi(environ.get("SCRIPT_NAME", "")),
        _from_wsgi(environ.get("PATH_INFO", "")),
    )


def _from_wsgi(value: str) -> str:
    return value.encode("latin-1").decode("utf-8", "replace")
