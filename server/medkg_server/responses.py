"""HTTP helpers shared by the blueprints: validators (ETag, Last-Modified), 304s, error bodies."""

from __future__ import annotations

import hashlib

from flask import Request, Response

from medkg_server.fastpath import MARKER
from medkg_server.state import StoreVersion


def etag_for(version: StoreVersion, *parts: object) -> str:
    """An ETag that changes with the store version and with every part of the request key."""
    digest = hashlib.sha256(repr((version.name, parts)).encode("utf-8")).hexdigest()[:32]
    return digest


def not_modified(request: Request, etag: str, version: StoreVersion) -> bool:
    """True when a GET/HEAD's validators show the client already has this answer."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and since >= version.published


def with_validators(response: Response, etag: str, version: StoreVersion) -> Response:
    """Stamp an answer with its ETag, Last-Modified and a revalidate-every-time policy."""
    response.set_etag(etag)
    response.last_modified = version.published
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-MedKG-Store-Version"] = version.name
    if response.status_code == 200:
        response.headers[MARKER] = "1"  # the fast path may answer this request again
    return response


def plain_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A short text/plain error answer; the message is ours or the parser's, never a traceback."""
    response = Response(message.rstrip() + "\n", status=status, mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
