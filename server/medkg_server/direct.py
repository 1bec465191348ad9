"""The direct path: plain GET queries to /sparql and /query answered without Flask.

Most protocol traffic is one shape: a GET whose only parameter is `query`. For a look-up the
engine answers in about 25 µs, Flask's request and response objects, routing and hooks cost
several times that (bench/RESULTS.md: 0.28 ms per look-up through Flask, 0.14 ms here when
this layer came). It sits between the answer cache (fastpath.py) and Flask; it answers that one
shape through the same code as the Flask view (`sparql.answer_query`) and adds the headers
Flask's hooks would add. Everything else, including conditional requests, any other parameter
and every other path, goes to Flask unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from medkg_server.fastpath import CONDITIONS, PUBLISHED, log_access
from medkg_server.protocol import Operation
from medkg_server.replies import EXPECTED, Reply, cors_headers, plain, refusal, with_vary
from medkg_server.sparql import answer_query
from medkg_server.state import ServerState

error_log = logging.getLogger("medkg_server.error")
PATHS = frozenset({"/sparql", "/sparql/", "/query"})

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class DirectQueries:
    """WSGI middleware: answer plain GET queries itself, pass every other request to `app`."""

    def __init__(self, app: WSGIApp, st: ServerState) -> None:
        self.app = app
        self.st = st

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        text = self.plain_query(environ)
        if text is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        reply = self._reply(environ, text)
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

    def _reply(self, environ: dict[str, Any], text: str) -> Reply:
        operation = Operation("query", text, None, None, (), None)
        try:
            accept = environ.get("HTTP_ACCEPT", "")
            return answer_query(self.st, operation, accept, None, environ.get(PUBLISHED))
        except EXPECTED as exc:
            return refusal(exc)
        except Exception:  # the Flask app's last-resort handler does the same: log, short 500
            error_log.exception("unhandled error on GET %s", environ.get("PATH_INFO"))
            return plain(500, "internal server error; the server log has the details")
