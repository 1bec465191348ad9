"""Response compression: gzip for clients that ask for it, as a WSGI layer outside the answer cache.

SPARQL results, RDF, HTML pages and the browse JSON are text that gzip makes 5-10x smaller;
a client on a slow link that sends `Accept-Encoding: gzip` gets them compressed, as Fuseki's
Jetty does. The layer sits outside the answer cache (fastpath.py), so the cache keeps plain
answers under an unchanged key; a cached answer is compressed on its first way out to a gzip
client, and that gzip body is kept on the cache entry (fastpath.ANSWER) for later hits.

An answer is compressed only when the client accepts gzip (q-values honoured, `*` counts),
the status is 200, the answer is of a text-like type, is not encoded already, offers no byte
ranges (downloads; the static files are the exception, see Compression), and is in memory (a
list of bytes, or a body of known length; never a stream) of at least the minimum size. A
compressed answer gets `Content-Encoding: gzip`, its own length and a weak ETag (the same
W/"..." as the plain one's tag, so If-None-Match still matches: RFC 9110 section 8.8.3.2 asks
weak comparison there; the gzip answer never shares a strong tag with the plain one).

A HEAD gets the headers its GET would get (RFC 9110 section 9.3.2), decided on the plain
answer's Content-Length, as Werkzeug gives HEAD no body: a gzip client is told
`Content-Encoding: gzip` and the weak ETag, and no Content-Length, whose value only compressing
would tell (section 8.6 forbids sending the plain length; a HEAD never reaches the answer cache,
so it has no kept gzip body to measure, and compressing only to count would cost a GET's work).

Every answer of a type this layer compresses (text-like, not encoded, without byte ranges),
200 or 304, names Accept-Encoding in its Vary field, whatever the request sent and whatever
the answer's size, so a shared cache never gives one client's form to another (RFC 9110
section 12.5.5); a 304, which has no Content-Type, gets it unless it offers byte ranges. The
Vary values already there (Accept, Origin) are merged into that one field. For a request
without Accept-Encoding (wrk, SPARQLWrapper, urllib) that merge is all this layer does.
"""

from __future__ import annotations

import gzip
import operator
import posixpath
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import parse_accept_header, parse_etags

from medkg_server.fastpath import ANSWER, CachedAnswer
from medkg_server.replies import with_vary

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Headers = list[tuple[str, str]]

# zlib's default. Measured on the real lists' answers: 10 KB of SPARQL JSON in 0.02 ms, 1 MB
# in 3.8 ms (23x smaller; level 5: 3.2 ms, 21x), 1 MB of Turtle in 11 ms (7.3x; level 5: 8 ms,
# 7.0x; level 9 takes twice as long for 2% more). Sending 1 MB at 10 Mbit/s takes 800 ms.
LEVEL = 6
TEXT_TYPES = frozenset(
    {
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "application/json",
        "application/ld+json",
        "application/n-triples",
        "application/n-quads",
        "application/trig",
        "application/rdf+xml",
        "application/xml",
        "application/javascript",
        "application/yaml",
        "image/svg+xml",
    }
)
# a body of known length larger than this passes uncompressed rather than being held whole
MAX_HELD = 64 << 20
# static files kept compressed (the UI has about a dozen)
MAX_STATIC_FILES = 256
# byte ranges count bytes of the plain file: a compressed answer could not honour them
RANGE_HEADERS = frozenset({"content-range", "accept-ranges"})


def accepts_gzip(accept_encoding: str) -> bool:
    """True when an Accept-Encoding value allows gzip (explicitly or by `*`) with q > 0.

    `x-gzip` counts as gzip (RFC 9110 section 8.4.1.3), when gzip itself is not refused.
    """
    accepted = parse_accept_header(accept_encoding)
    quality = accepted["gzip"]
    if quality == 0 and "gzip" not in {value.lower() for value, _ in accepted}:
        quality = accepted["x-gzip"]
    return quality > 0


def is_text(content_type: str) -> bool:
    """True for a Content-Type worth compressing: text/* and the text-like application types."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_TYPES


def gzip_bytes(body: bytes) -> bytes:
    """`body` gzip-compressed; no time in the header, so the same body gives the same bytes."""
    return gzip.compress(body, compresslevel=LEVEL, mtime=0)


class Compression:
    """WSGI middleware: gzip answers for clients that accept it; Vary names it on all it may gzip.

    Files under the `static_prefixes` (the query UI's scripts and styles: YASGUI alone is about
    1 MB; the ontology's documentation pages) offer byte ranges but never change under their
    ETag: a gzip client gets them compressed, without Accept-Ranges, and each file is
    compressed once (per ETag). An answer from the answer cache is compressed once per entry.
    """

    def __init__(
        self, app: WSGIApp, min_bytes: int, static_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.min_bytes = min_bytes
        self.static_prefixes = static_prefixes
        self._static: dict[tuple[str, str], bytes] = {}  # (path, ETag) -> compressed file

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if_range = environ.get("HTTP_IF_RANGE")
        if if_range is not None and if_range.lstrip().startswith("W/"):
            environ = _without_range(environ)
        accept_encoding = environ.get("HTTP_ACCEPT_ENCODING")
        wanted = accept_encoding is not None and accepts_gzip(accept_encoding)
        head = environ.get("REQUEST_METHOD") == "HEAD"
        held: list[Any] = []  # (status, headers) of an answer that may be compressed
        running = True
        path = environ.get("PATH_INFO", "")
        static = path.startswith(self.static_prefixes)

        def start(status: str, headers: Headers, exc_info: Any = None) -> Any:
            code = status[:3]
            varied = None
            if exc_info is None and code in ("200", "304"):
                # the answer cache leaves its entry before it starts a hit's answer
                varied = _varied(status, headers, static, environ.get(ANSWER))
            if varied is not None:
                headers = varied
                if code == "304":
                    headers = _etag_as_held(headers, environ.get("HTTP_IF_NONE_MATCH"))
                elif wanted and head:
                    headers = self._head_headers(headers)
                elif wanted and running:
                    held[:] = [status, headers]  # decided when the body is known
                    return _no_write
            held.clear()  # a later call (with exc_info) replaces an answer held before it
            return start_response(status, headers, exc_info)

        result = self.app(environ, start)
        running = False
        if not held:
            return result
        status, headers = held
        size = _body_size(result, headers)
        if size is None or size < self.min_bytes:
            start_response(status, headers)  # a stream, or too small to be worth it
            return result
        # one entry per file: /static/yasgui//x.js and /static/./yasgui/x.js are the same file
        key = (posixpath.normpath(path), _header(headers, "etag")) if static else None
        try:
            body = self._compressed(result, key, _cached_answer(environ, result))
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        start_response(status, _compressed_headers(headers, len(body)))
        return [body]

    def _head_headers(self, headers: Headers) -> Headers:
        """A HEAD's headers for a gzip client: those of the gzip GET, without Content-Length.

        Werkzeug gives a HEAD no body, so the plain answer's Content-Length decides, as the
        body's size does for a GET; without one (a stream) the GET is not compressed either.
        """
        size = _declared_size(headers)
        if size is None or size < self.min_bytes:
            return headers
        return _compressed_headers(headers, None)

    def _compressed(
        self, result: Iterable[bytes], key: tuple[str, str] | None, cached: CachedAnswer | None
    ) -> bytes:
        """The gzip form of `result`, made once per static file (`key`) or `cached` answer."""
        if cached is not None:
            if cached.gzipped is None:
                cached.gzipped = gzip_bytes(cached.body)
            return cached.gzipped
        body = self._static.get(key) if key else None
        if body is None:
            body = gzip_bytes(b"".join(result))
            if key and len(self._static) < MAX_STATIC_FILES:
                self._static[key] = body
        return body


def _cached_answer(environ: dict[str, Any], result: Iterable[bytes]) -> CachedAnswer | None:
    """The answer cache's entry that `result` is the body of, if any.

    Only when the body is that entry's very bytes object: a layer put between this one and the
    cache that changed the body would otherwise have the entry's gzip form sent for its own.
    """
    cached = environ.get(ANSWER)
    if cached is None or not isinstance(result, list) or len(result) != 1:
        return None
    return cached if result[0] is cached.body else None


def _header(headers: Headers, name: str) -> str:
    """The value of header `name` (lower case), or an empty string."""
    return next((v for k, v in headers if k.lower() == name), "")


def _body_size(result: Iterable[bytes], headers: Headers) -> int | None:
    """The body's length when it is already in memory; None for a stream.

    A list is in memory. So is the iterator Flask returns for an answer it knows the length
    of (Werkzeug sets Content-Length only for a body given whole: the home page, OpenAPI,
    POSTed queries). Files have a length too; of those only the static files and the ontology
    docs get here (the others offer byte ranges), and they are read whole once (see
    Compression). A streamed answer has no length and is passed on as it comes.
    """
    if isinstance(result, (list, tuple)):
        return sum(map(len, result))
    return _declared_size(headers)


def _declared_size(headers: Headers) -> int | None:
    """The Content-Length of an answer, or None without one or when too large to hold."""
    length = _header(headers, "content-length")
    return int(length) if length.isdigit() and int(length) <= MAX_HELD else None


def _varied(
    status: str, headers: Headers, static: bool, cached: CachedAnswer | None
) -> Headers | None:
    """`headers` with Accept-Encoding in their one Vary field; None for an answer never compressed.

    For a cache hit (`cached`, when `headers` are its own very tuples) this is worked out once
    and kept on the entry: merging on every hit nearly doubled the cost of a hit to a client
    that sends no Accept-Encoding (3.9 to 7.4 µs through the WSGI layers; 4.7 with the entry's).
    """
    if cached is None or status is not cached.status or not _same(headers, cached.headers):
        if not _negotiable(headers, status[:3], static):
            return None
        return with_vary(headers, "Accept-Encoding")
    if cached.varied is None:
        compressible = _negotiable(headers, status[:3], static)
        varied = with_vary(headers, "Accept-Encoding") if compressible else headers
        cached.varied = (compressible, tuple(varied))
    compressible, kept = cached.varied
    return list(kept) if compressible else None


def _same(headers: Headers, kept: tuple[tuple[str, str], ...]) -> bool:
    """True when `headers` hold the very tuples of `kept`, in order (a layer changed none)."""
    return len(headers) == len(kept) and all(map(operator.is_, headers, kept))


def _negotiable(headers: Headers, code: str, static: bool = False) -> bool:
    """True when this answer could be sent compressed: text-like, not encoded, no byte ranges.

    A 304 has no Content-Type (Werkzeug drops it), so only its lack of ranges is asked. A
    `static` file's offer of ranges does not count: its whole answer may be compressed.
    """
    text = code == "304"
    for name, value in headers:
        lower = name.lower()
        if lower == "content-type":
            text = is_text(value)
        elif lower == "accept-ranges" and static:
            continue  # a whole static file: its gzip answer simply offers no ranges
        elif lower == "content-encoding" or lower in RANGE_HEADERS:
            return False
    return text


def _compressed_headers(headers: Headers, length: int | None) -> Headers:
    """The headers of the gzip answer: encoding, its length (None: unknown), the ETag made weak."""
    out: Headers = []
    for name, value in headers:
        lower = name.lower()
        if lower in ("content-length", "accept-ranges"):
            continue  # ranges would count the plain file's bytes
        if lower == "etag" and not value.startswith("W/"):
            value = "W/" + value
        out.append((name, value))
    out.append(("Content-Encoding", "gzip"))
    if length is not None:
        out.append(("Content-Length", str(length)))
    return out


def _etag_as_held(headers: Headers, if_none_match: str | None) -> Headers:
    """A 304's ETag as the client holds it: weak when it named only the gzip answer's W/ tag.

    The 304 stands for the 200 the client has (RFC 9110 section 15.4.5); a cache updates the
    stored answer whose validator the 304 carries (RFC 9111 section 4.3.4).
    """
    if not if_none_match:
        return headers
    tags = parse_etags(if_none_match)
    out: Headers = []
    for name, value in headers:
        if name.lower() == "etag" and value.startswith('"'):
            tag = value[1:-1]
            if tags.is_weak(tag) and not tags.is_strong(tag):
                value = "W/" + value
        out.append((name, value))
    return out


def _without_range(environ: dict[str, Any]) -> dict[str, Any]:
    """`environ` without Range and If-Range: the whole answer, for an If-Range with a weak tag.

    If-Range compares strongly, so a weak tag never matches and the Range is ignored (RFC 9110
    section 13.1.5). The weak tags are this layer's: a client resuming a gzip answer would
    otherwise get the plain file's bytes to append to its compressed ones (Werkzeug drops the
    W/ and treats the tag as a match).
    """
    return {k: v for k, v in environ.items() if k not in ("HTTP_RANGE", "HTTP_IF_RANGE")}


def _no_write(data: bytes) -> None:
    """The `write` callable of a held answer: Flask and the layers inside never call it."""
    raise RuntimeError("the compression layer takes answers returned as a body, not written")
