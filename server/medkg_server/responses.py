"""Flask responses from the plain replies (replies.py): validators, 304s, error bodies."""

from __future__ import annotations

from flask import Request, Response

from medkg_server.fastpath import MARKER
from medkg_server.replies import Reply, plain, validator_headers
from medkg_server.state import StoreVersion


def to_response(reply: Reply) -> Response:
    """The Flask response for a plain reply."""
    return Response(reply.body, status=reply.status, headers=reply.headers)


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
    for name, value in validator_headers(etag, version):
        response.headers[name] = value
    if response.status_code == 200:
        response.headers[MARKER] = "1"  # the fast path may answer this request again
    return response


def plain_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A short text/plain error answer; the message is ours or the parser's, never a traceback."""
    return to_response(plain(status, message, headers))
