"""The SPARQL 1.1 Protocol endpoint: /sparql (query and update), /query and /update.

Default dataset: with no `default-graph-uri` / `named-graph-uri` and no FROM / FROM NAMED, the
default graph is the union of all named graphs (graph/ontology, graph/vocabulary,
graph/catalogue, graph/source/<id>) and `GRAPH` reaches each named graph. A query's own FROM /
FROM NAMED build its dataset from the store's graphs (nothing is fetched). Protocol dataset
parameters, when given, override both (SPARQL 1.1 Protocol, section 2.1.4).

Answers are evaluated to completion (within the time limit) before any byte is sent, so a client
never receives a 200 whose body breaks off; a timeout is a 503 with a clear message.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import partial

from flask import Blueprint, Response, request

from medkg.query import is_empty

from medkg_server import describe, formats
from medkg_server.fastpath import MARKER, PUBLISHED
from medkg_server.guard import check_query, check_update
from medkg_server.protocol import Operation, ProtocolError, parse_request
from medkg_server.query_text import check_nesting, has_dataset_clause
from medkg_server.replies import EXPECTED, Reply, etag_for, refusal, validator_headers
from medkg_server.responses import NOT_BUILT, not_modified, plain_error, to_response
from medkg_server.state import is_federated, ServerState, StoreVersion, state
from medkg_server.worker import Job, Outcome, update_job

bp = Blueprint("sparql", __name__)
METHODS = ["GET", "POST"]
Fresh = Callable[[str, StoreVersion], bool]


@bp.route("/sparql", methods=METHODS, strict_slashes=False)
def sparql() -> Response:
    return _handle(("query", "update"))


@bp.route("/query", methods=METHODS)
def query_only() -> Response:
    return _handle(("query",))


@bp.route("/update", methods=["POST"])
def update_only() -> Response:
    return _handle(("update",))


def _handle(allow: tuple[str, ...]) -> Response:
    st = state()
    try:
        operation = parse_request(request, allow, st.settings.max_request_bytes)
        if operation.kind == "none":
            if "graph" in request.args or "default" in request.args:
                # a Graph Store request sent to the query endpoint: not a description request
                return plain_error(400, "graphs are read at /store?graph=<IRI> or /store?default")
            return describe.service_description_response(st)
        if operation.kind == "update":
            check_nesting(operation.text)
            return _update(st, operation)
        fresh = partial(not_modified, request)
        accept = request.headers.get("Accept", "")
        link = request.environ.get(PUBLISHED)
        return to_response(answer_query(st, operation, accept, fresh, link))
    except EXPECTED as exc:
        return to_response(refusal(exc))


def answer_query(
    st: ServerState,
    operation: Operation,
    accept: str,
    fresh: Fresh | None = None,
    link: str | None = None,
) -> Reply:
    """Evaluate a query operation into its reply, with no web framework; raises EXPECTED errors.

    `fresh(etag, version)` tells whether a conditional request already holds this answer (304);
    `link` is the store's `current` link as read when the request came in (fastpath.PUBLISHED).
    The Flask view above and the direct path (direct.py) both answer through here.
    """
    if is_empty(operation.text):
        # Oxigraph would answer "error at 1:1: expected [_]"
        raise ProtocolError(400, "the query is empty")
    check_nesting(operation.text)
    choice = formats.negotiate(accept, list(operation.format_values))
    if choice.tabular is None and choice.graph is None:
        raise ProtocolError(
            406,
            "no acceptable result format: SELECT/ASK answer in SPARQL JSON, XML, CSV or TSV; "
            "CONSTRUCT/DESCRIBE in Turtle, N-Triples, JSON-LD, RDF/XML, TriG or N-Quads",
        )
    version = st.version(link)
    if version is None:
        raise ProtocolError(503, NOT_BUILT)
    timeout = _timeout(st, operation)
    job = Job(
        text=operation.text,
        operation="query",
        tabular_format=choice.tabular.key if choice.tabular else None,
        graph_format=choice.graph.key if choice.graph else None,
        row_cap=st.settings.row_cap,
        base_iri=st.settings.base,
        default_graphs=operation.default_graphs,
        named_graphs=operation.named_graphs,
        prefixes=describe.output_prefixes(st),
        union_default_graph=not has_dataset_clause(operation.text),
    )
    check_query(operation.text, st.settings.federation_allow, st.settings.base)
    if is_federated(operation.text):
        # a remote endpoint's data is not versioned with ours: never reuse such an answer
        reply = _answer(st.run(job, version.name, timeout))
        return Reply(200, [*reply.headers, ("Cache-Control", "no-store")], reply.body)
    # every field of the job but its output prefixes, which follow from the base IRI (and
    # whose text would double the cost of the hash)
    etag = etag_for(
        version,
        job.text,
        job.tabular_format,
        job.graph_format,
        job.row_cap,
        job.base_iri,
        job.default_graphs,
        job.named_graphs,
        job.union_default_graph,
    )
    if fresh is not None and fresh(etag, version):
        return Reply(304, [*validator_headers(etag, version), ("Vary", "Accept")])
    reply = _answer(st.run(job, version.name, timeout))
    # MARKER: the fast path (fastpath.py) may give this answer again until the next build
    headers = [*reply.headers, *validator_headers(etag, version), (MARKER, "1")]
    return Reply(200, headers, reply.body)


def _timeout(st: ServerState, operation: Operation) -> float:
    wanted = operation.timeout or st.settings.query_timeout
    return min(wanted, st.settings.max_query_timeout)


def _answer(outcome: Outcome) -> Reply:
    fmt = formats.BY_KEY[outcome.format_key or "json"]
    headers = [
        ("Content-Type", fmt.content_type),
        ("Vary", "Accept"),
        ("X-MedKG-Rows", str(outcome.rows)),
        # Server-Timing (W3C) tells operators and tests which path answered: "inline" or "pool".
        ("Server-Timing", f'engine;desc="{outcome.engine}"'),
    ]
    if outcome.truncated:
        # The answer was cut at the row cap: say so in a header, as clients cannot tell otherwise.
        headers.append(("X-MedKG-Truncated", "true"))
        headers.append(("Warning", f'199 medkg "result truncated to {outcome.rows} rows"'))
    return Reply(200, headers, outcome.body)


def require_update_token(st: ServerState) -> None:
    """Refuse (403, 401) unless updates are on and the request carries the server's token."""
    if not st.settings.update_enabled:
        raise ProtocolError(403, "SPARQL Update is disabled on this server (read-only)")
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {st.settings.update_token}"
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ProtocolError(
            401, "SPARQL Update needs the server's bearer token", {"WWW-Authenticate": "Bearer"}
        )


def _update(st: ServerState, operation: Operation) -> Response:
    require_update_token(st)
    if operation.default_graphs or operation.named_graphs or _using_graphs():
        raise ProtocolError(400, "dataset parameters are not supported for updates")
    check_update(operation.text, st.settings.federation_allow, st.settings.base)
    timeout = _timeout(st, operation)
    job = update_job(operation.text, st.settings.base, timeout)
    outcome = st.run(job, "", timeout)
    response = plain_error(200, f"update applied; store version {outcome.version}")
    response.headers["X-MedKG-Store-Version"] = outcome.version or ""
    return response


def _using_graphs() -> bool:
    names = ("using-graph-uri", "using-named-graph-uri")
    return any(request.args.getlist(n) or request.form.getlist(n) for n in names)
