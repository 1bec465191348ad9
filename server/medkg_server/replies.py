"""Replies as plain data (status, headers, body), built without a web framework.

The Flask views and the direct path for plain GET queries (direct.py) build their answers from
these pieces, so both send the same headers for the same request; a test compares them.
Errors a client can cause are raised as exceptions by the protocol, guard and pool modules;
`refusal` turns each into the short text/plain reply a client sees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from werkzeug.http import HTTP_STATUS_CODES, http_date, quote_etag

from medkg_server.executor import ExecutorBusy, ExecutorError, JobFailed, QueryTimeout
from medkg_server.guard import ForbiddenTarget
from medkg_server.protocol import ProtocolError
from medkg_server.query_text import QueryTooComplex
from medkg_server.settings import ServerSettings
from medkg_server.state import StoreVersion

JOB_STATUS = {"syntax": 400, "evaluation": 400, "not_acceptable": 406, "store": 503, "busy": 503}
# The errors a request can run into on the way to an answer; anything else is a server bug.
EXPECTED = (ProtocolError, QueryTooComplex, ForbiddenTarget, ExecutorError)
RETRY = {"Retry-After": "5"}

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Reply:
    """What goes back to the client: status code, headers and the whole body."""

    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    @property
    def status_line(self) -> str:
        """The WSGI status line, spelled as Werkzeug spells it (so both paths send the same)."""
        return f"{self.status} {HTTP_STATUS_CODES.get(self.status, 'UNKNOWN').upper()}"


def plain(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """A short text/plain reply; the message is ours or the parser's, never a traceback."""
    extra = [(name, value) for name, value in (headers or {}).items()]
    body = (message.rstrip() + "\n").encode("utf-8")
    return Reply(status, [("Content-Type", "text/plain; charset=utf-8"), *extra], body)


def refusal(exc: Exception) -> Reply:
    """The reply for one of the EXPECTED errors."""
    if isinstance(exc, ProtocolError):
        return plain(exc.status, exc.message, exc.headers)
    if isinstance(exc, QueryTooComplex):
        return plain(400, str(exc))
    if isinstance(exc, ForbiddenTarget):
        return plain(403, str(exc))
    if isinstance(exc, (QueryTimeout, ExecutorBusy)):
        return plain(503, str(exc), RETRY)
    if isinstance(exc, JobFailed):
        prefix = "SPARQL syntax error: " if exc.kind == "syntax" else ""
        retry = RETRY if exc.kind == "busy" else None
        return plain(JOB_STATUS.get(exc.kind, 500), prefix + str(exc), retry)
    return plain(503, str(exc))


def etag_for(version: StoreVersion, *parts: object) -> str:
    """An ETag that changes with the store version and with every part of the request key."""
    return hashlib.sha256(repr((version.name, parts)).encode("utf-8")).hexdigest()[:32]


def validator_headers(etag: str, version: StoreVersion) -> Headers:
    """ETag, Last-Modified and a revalidate-every-time policy for an answer of `version`."""
    return [
        ("ETag", quote_etag(etag)),
        ("Last-Modified", _http_date(version)),
        ("Cache-Control", "no-cache"),
        ("X-MedKG-Store-Version", version.name),
    ]


@lru_cache(maxsize=16)
def _http_date(version: StoreVersion) -> str:
    return http_date(version.published)


def vary_value(values: Iterable[str]) -> str:
    """One Vary value naming each request field of `values` (Vary values) once, in order.

    Field names compare case-insensitively (the first spelling is kept); `*` (anything may
    matter) stands alone, as any other name beside it would add nothing.
    """
    named: dict[str, str] = {}
    for value in values:
        for member in value.split(","):
            member = member.strip()
            if member:
                named.setdefault(member.lower(), member)
    return "*" if "*" in named else ", ".join(named.values())


def with_vary(headers: Headers, *names: str) -> Headers:
    """`headers` with one Vary field, naming what their Vary fields named and `names`.

    Several Vary fields mean the same as one joined by commas (RFC 9110 section 5.3), but some
    clients and caches read only the first; one field is what they expect. The field stays
    where the first one was (or comes last); `headers` comes back unchanged when it already
    has one Vary field that names all of `names`.
    """
    values = [value for name, value in headers if name.lower() == "vary"]
    merged = vary_value([*values, *names])
    if not merged or (len(values) == 1 and values[0] == merged):
        return headers
    out: Headers = []
    for name, value in headers:
        if name.lower() != "vary":
            out.append((name, value))
        elif merged:
            out.append((name, merged))
            merged = ""  # the later Vary fields are in this one
    if merged:
        out.append(("Vary", merged))
    return out


def cors_headers(origin: str | None, settings: ServerSettings) -> Headers:
    """Let browser clients on allowed origins read answers; never with credentials."""
    if not origin or not settings.cors_origins:
        return []
    if "*" in settings.cors_origins:
        allowed = [("Access-Control-Allow-Origin", "*")]
    elif origin in settings.cors_origins:
        allowed = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    else:
        return []
    return allowed + [
        # PUT and DELETE: the Graph Store's writes, when updates are on
        ("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS"),
        (
            "Access-Control-Allow-Headers",
            "Accept, Content-Type, Authorization, If-None-Match, If-Modified-Since, Range, "
            "If-Range",
        ),
        # a script resuming a download reads Content-Range; one saving it, Content-Disposition
        (
            "Access-Control-Expose-Headers",
            "ETag, Last-Modified, Link, X-MedKG-Rows, X-MedKG-Truncated, X-MedKG-Store-Version, "
            "Content-Range, Content-Disposition, Retry-After",
        ),
        ("Access-Control-Max-Age", "600"),
    ]
