"""Reading a SPARQL 1.1 Protocol request: which operation, its text, dataset and options.

Everything a client can get wrong is raised here as `ProtocolError` with the HTTP status the
protocol asks for; the blueprint turns it into a plain-text answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_options_header

FORM = "application/x-www-form-urlencoded"
QUERY_TYPE = "application/sparql-query"
UPDATE_TYPE = "application/sparql-update"
FORMAT_PARAMETERS = ("format", "output", "results")


class ProtocolError(Exception):
    """A request the protocol says to refuse, with its HTTP status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Operation:
    """One parsed protocol request."""

    kind: str  # "query", "update" or "none" (GET without a query: service description)
    text: str
    default_graphs: tuple[str, ...] | None
    named_graphs: tuple[str, ...] | None
    format_values: tuple[str, ...]
    timeout: float | None


def parse_request(request: Request, allow: tuple[str, ...], max_bytes: int) -> Operation:
    """Read the operation from GET parameters, a form body or a direct POST body."""
    if len(request.query_string) > max_bytes:
        raise ProtocolError(414, f"the query string is longer than {max_bytes} bytes")
    if request.method in ("GET", "HEAD"):
        _check_utf8(request.query_string, "query string")
        params = request.args
        kind, text = _one_operation(params, allow, via_get=True)
    else:
        params, kind, text = _post(request, allow, max_bytes)
    return Operation(
        kind=kind,
        text=text,
        default_graphs=_graphs(params, request.args, "default-graph-uri"),
        named_graphs=_graphs(params, request.args, "named-graph-uri"),
        format_values=tuple(
            v
            for name in FORMAT_PARAMETERS
            for v in params.getlist(name) + request.args.getlist(name)
        ),
        timeout=_timeout(params.get("timeout") or request.args.get("timeout")),
    )


def refuse_content_coding(request: Request) -> None:
    """Refuse a body sent gzip-compressed (or in any coding): it is read only as it is sent.

    Read as it is, a compressed query is refused as "not UTF-8" and a body labelled gzip but
    sent plain is run; RFC 9110 section 15.5.16 asks 415 with the codings that are accepted.
    """
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding and coding != "identity":
        raise ProtocolError(
            415, f"Content-Encoding {coding} is not accepted: send the body uncompressed",
            {"Accept-Encoding": "identity"},
        )


def _post(request: Request, allow: tuple[str, ...], max_bytes: int) -> tuple[MultiDict, str, str]:
    refuse_content_coding(request)
    if request.content_length is not None and request.content_length > max_bytes:
        raise ProtocolError(413, f"the request body is larger than {max_bytes} bytes")
    raw_type = request.headers.get("Content-Type", "")
    media_type, options = parse_options_header(raw_type)
    media_type = media_type.lower()  # media types are case-insensitive (RFC 9110 8.3.1)
    if not media_type:
        raise ProtocolError(
            415, f"a POST needs a Content-Type: {FORM}, {QUERY_TYPE} or {UPDATE_TYPE}"
        )
    charset = options.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ProtocolError(415, f"only UTF-8 is accepted, not charset={charset}")
    body = request.get_data(cache=True)
    if len(body) > max_bytes:
        raise ProtocolError(413, f"the request body is larger than {max_bytes} bytes")
    if media_type == FORM:
        _check_utf8(body, "form body")
        for name in ("query", "update"):
            if name in request.args:
                raise ProtocolError(
                    400, f"a form POST carries the operation in its body, not in the URL ({name}=)"
                )
        params = request.form
        kind, text = _one_operation(params, allow, via_get=False)
        return params, kind, text
    direct = {QUERY_TYPE: "query", UPDATE_TYPE: "update"}.get(media_type)
    if direct is None:
        raise ProtocolError(
            415, f"unsupported Content-Type {media_type}: use {FORM}, {QUERY_TYPE} or {UPDATE_TYPE}"
        )
    if direct not in allow:
        raise ProtocolError(400, f"this endpoint does not accept SPARQL {direct} requests")
    for name in ("query", "update"):
        if name in request.args:
            raise ProtocolError(
                400, f"a direct POST carries the operation in its body, not in '{name}='"
            )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(400, f"the body is not valid UTF-8 (byte {exc.start})") from None
    return request.args, direct, text


def _check_utf8(raw: bytes, where: str) -> None:
    """Refuse %-escapes that do not decode as UTF-8 (Werkzeug would keep them as their text)."""
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            400, f"the {where} is not UTF-8 once its %-escapes are decoded (byte {exc.start})"
        ) from None


def _one_operation(params: MultiDict, allow: tuple[str, ...], via_get: bool) -> tuple[str, str]:
    queries, updates = params.getlist("query"), params.getlist("update")
    if queries and updates:
        raise ProtocolError(400, "a request carries either 'query' or 'update', not both")
    if len(queries) > 1 or len(updates) > 1:
        raise ProtocolError(400, "a request carries exactly one 'query' or 'update' parameter")
    if updates:
        if via_get:
            raise ProtocolError(400, "SPARQL Update must be sent by POST, never by GET")
        if "update" not in allow:
            raise ProtocolError(400, "this endpoint does not accept SPARQL updates")
        return "update", updates[0]
    if queries:
        if "query" not in allow:
            raise ProtocolError(400, "this endpoint does not accept SPARQL queries")
        return "query", queries[0]
    if via_get:
        return "none", ""
    raise ProtocolError(400, "the form has no 'query' or 'update' parameter")


def _graphs(params: MultiDict, url_args: MultiDict, name: str) -> tuple[str, ...] | None:
    """Dataset parameters, from the form body or the URL (direct POST keeps them in the URL)."""
    values = params.getlist(name) if params is not url_args else []
    values += url_args.getlist(name)
    if not values:
        return None
    for value in values:
        if not value or any(c in value for c in ' <>"{}|\\^`'):
            raise ProtocolError(400, f"{name}={value!r} is not an IRI")
    return tuple(dict.fromkeys(values))


def _timeout(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ProtocolError(400, f"timeout={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ProtocolError(400, "timeout must be a positive number of seconds")
    return value
