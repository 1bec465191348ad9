"""Flask responses from the plain replies (replies.py): validators, 304s, error bodies."""

from __future__ import annotations

from flask import Request, Response, abort

from medkg_server.fastpath import CONDITIONS, MARKER
from medkg_server.replies import Reply, plain, validator_headers
from medkg_server.state import ServerState, StoreVersion

NOT_BUILT = "the store has not been built yet"


def to_response(reply: Reply) -> Response:
    """The Flask response for a plain reply."""
    return Response(reply.body, status=reply.status, headers=reply.headers)


def not_modified(request: Request, etag: str, version: StoreVersion) -> bool:
    """True when a GET/HEAD names this answer's own ETag: 304 without computing the answer.

    Only an ETag the client was sent with a 200 proves the answer exists. `*` and
    If-Modified-Since prove nothing (a broken query, a missing page or an unacceptable format
    must still get its error, RFC 9110 section 13.2.1): `make_conditional` decides those on
    the finished answer, in the app's after-request hook.
    """
    if request.method not in ("GET", "HEAD"):
        return False
    tags = request.if_none_match
    return bool(tags) and not tags.star_tag and tags.contains_weak(etag)


def make_conditional(request: Request, response: Response) -> Response:
    """A 200 answer with validators becomes a 304 when the request's conditions say so."""
    if (
        response.status_code == 200
        and request.method in ("GET", "HEAD")
        and any(name in request.environ for name in CONDITIONS)
        and ("ETag" in response.headers or "Last-Modified" in response.headers)
    ):
        response.make_conditional(request)
    return response


def with_validators(response: Response, etag: str, version: StoreVersion) -> Response:
    """Stamp an answer with its ETag, Last-Modified and a revalidate-every-time policy."""
    for name, value in validator_headers(etag, version):
        response.headers[name] = value
    if response.status_code == 200:
        response.headers[MARKER] = "1"  # the fast path may answer this request again
    return response


def stamped(response: Response, etag: str, version: StoreVersion, final: bool) -> Response:
    """`with_validators` for an answer that is final; a provisional one is not to be kept.

    A page counted with an older version's facet index (catalogue.page_index) changes once the
    new index is ready: no ETag or Last-Modified that would let a client or the answer cache
    keep it as the answer for this version.
    """
    if final:
        return with_validators(response, etag, version)
    response.headers["Cache-Control"] = "no-store"
    return response


def plain_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A short text/plain error answer; the message is ours or the parser's, never a traceback."""
    return to_response(plain(status, message, headers))


def published_version(st: ServerState) -> StoreVersion:
    """The store version this request is answered from; a 503 ends it if there is none yet."""
    version = st.version()
    if version is None:
        abort(plain_error(503, NOT_BUILT))
    return version
