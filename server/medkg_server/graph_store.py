"""The SPARQL 1.1 Graph Store HTTP Protocol at /store, read-only: GET or HEAD one graph.

`/store?graph=<iri>` is a named graph, `/store?default` the default graph (the union of the
named graphs, as queries see it), in the RDF format the Accept header asks for. The paths
follow Oxigraph server's, so a client that reads graphs from one reads them from the other.
Writes are refused with 405: the store changes only by a build (or by SPARQL Update, when the
server is configured to take updates).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from medkg_server import formats, queries
from medkg_server.linked_data import graph_dump, graph_exists
from medkg_server.replies import etag_for
from medkg_server.responses import not_modified, plain_error, with_validators
from medkg_server.state import state

bp = Blueprint("graph_store", __name__)
READ = "GET, HEAD"


@bp.route("/store", methods=["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"])
def store() -> Response:
    if request.method not in ("GET", "HEAD"):
        return plain_error(405, "the graph store is read-only here", {"Allow": READ})
    graphs = request.args.getlist("graph")
    default = "default" in request.args
    if len(graphs) + default != 1:
        return plain_error(400, "name one graph: ?graph=<IRI> or ?default")
    st = state()
    version = st.version()
    if version is None:
        return plain_error(503, "the store has not been built yet")
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
        return with_validators(Response(status=304), etag, version)
    response = graph_dump(st, version.name, graph, wanted, empty=200)
    response.headers["Vary"] = "Accept"
    return with_validators(response, etag, version)
