"""The fast path: a WSGI layer that answers repeated GET requests from memory, before Flask runs.

Most traffic to a public endpoint repeats (the same example questions, the same pages). A view
marks a successful answer as reusable with the `X-MedKG-Cacheable` header; this layer keeps it,
keyed by the published store version and everything the answer depends on (path, query string,
Accept, Origin, Host, scheme), and strips the marker. A rebuild changes the version, so old
answers are never served for new data. Conditional requests and anything else go to Flask as usual.
The entry a request was answered from (or that its answer made) is left in the environ under
ANSWER, so the compression layer outside compresses a cached answer once, not on every hit.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from medkg_server.cache import LRUCache

MARKER = "X-MedKG-Cacheable"
# The environ key under which this layer leaves the `current` link it read, so the request is
# answered from the version its cache key names (and the link is read once per request).
PUBLISHED = "medkg.published"
# Request headers that make an answer depend on what the client holds (RFC 9110 section 13)
CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH",
              "HTTP_IF_UNMODIFIED_SINCE")
# The environ key under which this layer leaves the CachedAnswer it answered from or has just
# kept: the layer outside may keep a form of that exact body on it (compression.py keeps the gzip
# form), which then lives and dies with the entry.
ANSWER = "medkg.cached_answer"
access_log = logging.getLogger("medkg_server.access")

StartResponse = Callable[..., Any]


class CachedAnswer:
    """A kept answer: status, headers and plain body, and the compression layer's forms of them.

    `gzipped` is the gzip body, made on the first gzip answer; `varied` says whether the answer
    may be compressed and holds its headers with Accept-Encoding in their Vary field, worked out
    on the first hit. Every thread would make the same values (gzip without a time), so two
    that race for them need no lock.
    """

    __slots__ = ("status", "headers", "body", "gzipped", "varied")

    def __init__(self, status: str, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.gzipped: bytes | None = None
        # tuples, as `headers`: the collector stops tracking them (see _fill)
        self.varied: tuple[bool, tuple[tuple[str, str], ...]] | None = None


class FastPath:
    """WSGI middleware around the Flask app."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        store_dir: Path,
        max_entries: int,
        max_entry_bytes: int,
    ) -> None:
        self.app = app
        self.current_link = str(store_dir / "current")
        self.cache: LRUCache[CachedAnswer] = LRUCache(max_entries, max_entry_bytes)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        key = self._key(environ)
        if key is None:
            # the marker is for this layer only, whether or not it keeps the answer
            return self.app(environ, _without_marker(start_response))
        started = time.perf_counter()
        hit = self.cache.get(key)
        if hit is not None:
            environ[ANSWER] = hit
            start_response(hit.status, list(hit.headers))
            log_access(environ, hit.status, len(hit.body), started, " (cached)")
            return [hit.body]
        return self._fill(key, environ, start_response)

    def _key(self, environ: dict[str, Any]) -> tuple[str, ...] | None:
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        if any(name in environ for name in CONDITIONS):
            return None
        try:
            version = os.readlink(self.current_link)
        except OSError:
            return None
        environ[PUBLISHED] = version
        return (
            version,
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT", ""),
            environ.get("HTTP_ORIGIN", ""),
            environ.get("HTTP_HOST", ""),
            # answers that name this server (VoID, sitemaps) differ by scheme behind a proxy
            environ.get("wsgi.url_scheme", ""),
        )

    def _fill(
        self, key: tuple[str, ...], environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        passed_on = _without_marker(start_response)

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return passed_on(status, headers, exc_info)

        result = self.app(environ, capture)
        headers = captured.get("headers", [])
        if not any(name == MARKER for name, _ in headers):
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        # tuples of strings, not lists: the collector stops tracking them, so a full cache
        # adds one object per entry (its CachedAnswer) to each garbage collection
        kept = tuple((k, v) for k, v in headers if k != MARKER)
        answer = CachedAnswer(captured["status"], kept, body)
        # The cache bounds the plain body of each entry (there is no total): a gzip form kept
        # later adds a fraction of it, as only text is compressed (3-20x smaller).
        self.cache.put(key, answer, len(body))
        # left even when the cache did not keep it (too large): it then dies with this request
        environ[ANSWER] = answer
        return [body]


def _without_marker(start_response: StartResponse) -> StartResponse:
    """`start_response` for the layer outside: the same answer without the MARKER header."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [(k, v) for k, v in headers if k != MARKER], exc_info)

    return start


def log_access(
    environ: dict[str, Any], status: str | int, size: int, started: float, note: str = ""
) -> None:
    """One access-log line: client, request line, status, body size and time taken."""
    path = _text(environ.get("PATH_INFO", ""))
    query = _text(environ.get("QUERY_STRING", ""))
    access_log.info(
        '%s "%s %s" %s %d %.1fms%s',
        environ.get("REMOTE_ADDR"),
        environ.get("REQUEST_METHOD"),
        "/" + path.lstrip("/") + (f"?{query}" if query else ""),
        str(status).split(" ", 1)[0],
        size,
        (time.perf_counter() - started) * 1000,
        note,
    )


def _text(wsgi_value: str) -> str:
    """A WSGI environ string (bytes as latin-1) as the UTF-8 text the client sent."""
    return wsgi_value.encode("latin-1").decode("utf-8", "replace")
