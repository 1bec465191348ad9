"""The SPARQL 1.1 Graph Store HTTP Protocol at /store: GET or HEAD one graph; writes when on.

`/store?graph=<iri>` is a named graph, `/store?default` the default graph (the union of the
named graphs, as queries see it), in the RDF format the Accept header asks for. The paths
follow Oxigraph server's, so a client that reads graphs from one reads them from the other.

Writes (PUT replaces a named graph, POST adds to it, DELETE drops it) are refused with 405 unless
the server takes SPARQL Update (MEDKG_UPDATE_TOKEN), and then need its bearer token. Each write
is run as one SPARQL update, so it publishes a new store version like any other update. The
default graph cannot be written: here it is the union of the named graphs.
"""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, request

from medkg_server import formats, queries
from medkg_server.linked_data import graph_dump, graph_exists
from medkg_server.protocol import ProtocolError, refuse_content_coding
from medkg_server.replies import EXPECTED, etag_for, refusal
from medkg_server.responses import (
    not_modified, plain_error, published_version, to_response, with_validators
)
from medkg_server.sparql import require_update_token
from medkg_server.state import ServerState, state
from medkg_server.worker import update_job

bp = Blueprint("graph_store", __name__)
READ = "GET, HEAD"
READ_WRITE = "GET, HEAD, PUT, POST, DELETE"


@bp.route("/store", methods=["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"])
def store() -> Response:
    writable = state().settings.update_enabled
    if request.method in ("PUT", "POST", "DELETE") and writable:
        try:
            return _write(state(), request.method)
        except EXPECTED as exc:
            return to_response(refusal(exc))
    if request.method not in ("GET", "HEAD"):
        allow = READ_WRITE if writable else READ
        return plain_error(405, f"the graph store answers {allow} here", {"Allow": allow})
    graphs = request.args.getlist("graph")
    default = "default" in request.args
    if len(graphs) + default != 1:
        return plain_error(400, "name one graph: ?graph=<IRI> or ?default")
    st = state()
    version = published_version(st)
    wanted = formats.negotiate_graph(request.headers.get("Accept", ""), [], html=False)
    if not isinstance(wanted, formats.Format):
        return plain_error(
            406, "available as Turtle, N-Triples, JSON-LD, RDF/XML, TriG or N-Quads"
        )
    graph = None if default else graphs[0]
    if graph is not None:
        try:
            queries.iri(graph)
        except queries.BadValue as exc:
            return plain_error(400, str(exc))
        if not graph_exists(st, version.name, graph):
            return plain_error(404, f"no graph <{graph}> in the store")
    etag = etag_for(version, "store", graph or "", wanted.key)
    if not_modified(request, etag, version):
        # the Vary of the 200 it stands for (RFC 9110 section 15.4.5)
        return with_validators(Response(status=304, headers={"Vary": "Accept"}), etag, version)
    response = graph_dump(st, version.name, graph, wanted, empty=200)
    response.headers["Vary"] = "Accept"
    return with_validators(response, etag, version)


def _write(st: ServerState, method: str) -> Response:
    """PUT, POST or DELETE one named graph, as one SPARQL update (a new store version)."""
    require_update_token(st)
    graphs = request.args.getlist("graph")
    if "default" in request.args or len(graphs) != 1:
        raise ProtocolError(400, "name one graph: ?graph=<IRI> (the default graph here is the "
                                 "union of the named graphs and cannot be written)")
    try:
        graph = queries.iri(graphs[0])
    except queries.BadValue as exc:
        raise ProtocolError(400, f"graph= must be an absolute IRI: {exc}") from None
    missing = ProtocolError(404, f"no graph {graph} in the store")
    data = ""
    if method == "DELETE":
        # a cheap early answer from the published version, without copying the store; the
        # job's own check, under the writer lock, is the one that counts (run_update)
        version = st.version()
        if version is None or not graph_exists(st, version.name, graphs[0]):
            raise missing
        text = f"DROP GRAPH {graph}"
    else:
        body = _body(st.settings.max_request_bytes)
        data = _triples(body, request.headers.get("Content-Type", ""), graphs[0])
        insert = f"INSERT DATA {{ GRAPH {graph} {{\n{data}\n}} }}"
        text = f"DROP SILENT GRAPH {graph} ;\n{insert}" if method == "PUT" else insert
    job = update_job(text, st.settings.base, st.settings.query_timeout,
                     target_graph=graphs[0], graph_must_exist=method == "DELETE")
    outcome = st.run(job, "", st.settings.query_timeout)
    if job.graph_must_exist and outcome.graph_existed is False:
        raise missing  # another writer dropped it after the early check; nothing published
    # PUT or POST of triples to a graph not in the store creates it (an empty body creates
    # nothing: the store keeps no empty graphs)
    created = bool(data) and outcome.graph_existed is False
    response = Response(status=201 if created else 204)
    response.headers["X-MedKG-Store-Version"] = outcome.version or ""
    return response


def _body(max_bytes: int) -> bytes:
    """The request body, refused with 413 when longer than MAX_REQUEST_BYTES.

    A chunked body (no Content-Length) is cut by Werkzeug one byte past the limit without an
    error (app.py): without this check a cut that falls on a statement's end would be stored
    as if it were the whole graph.
    """
    refuse_content_coding(request)
    body = request.get_data(cache=True)
    if len(body) > max_bytes:
        raise ProtocolError(413, f"the request body is larger than {max_bytes} bytes")
    return body


def _triples(body: bytes, content_type: str, graph: str) -> str:
    """The request body's triples as N-Triples lines, parsed in the format its type names."""
    media = content_type.split(";", 1)[0].strip()
    fmt = ox.RdfFormat.from_media_type(media) if media else None
    if fmt is None or fmt.supports_datasets:
        raise ProtocolError(415, "send the graph as Turtle, N-Triples, RDF/XML or JSON-LD "
                                 f"(Content-Type), not {media or 'no type'!r}")
    try:
        parsed = list(ox.parse(body, format=fmt, base_iri=graph))
    except (SyntaxError, ValueError) as exc:
        raise ProtocolError(400, f"the body does not parse as {fmt.name}: {exc}") from None
    return " .\n".join(str(quad.triple) for quad in parsed) + (" ." if parsed else "")
