"""Dereferenceable IRIs: every IRI under the base is served here, as HTML or as RDF.

The base IRI (MEDKG_BASE, e.g. https://w3id.org/medkg/) maps to the server path MEDKG_LD_PREFIX
(default `/`), so https://w3id.org/medkg/dataset/x is served at /dataset/x.

Convention: direct content negotiation on the IRI itself (no 303). The answer carries
`Vary: Accept`, and `Link: <...?format=ttl>; rel="alternate"; type="text/turtle"` for every
representation, so a client can also pick one by URL (`?format=ttl|nt|jsonld|rdfxml|html`).
HTML goes to browsers (and to clients that send no Accept); RDF clients get Turtle, N-Triples,
JSON-LD or RDF/XML (also TriG and N-Quads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from jinja2 import Environment

from medkg import store as medkg_store
from medkg_server import catalogue, formats, queries
from medkg_server.describe import output_prefixes
from medkg_server.downloads import offers_catalogue_files
from medkg_server.replies import Headers, etag_for
from medkg_server.resource_view import Statement
from medkg_server.responses import not_modified, plain_error, published_version, with_validators
from medkg_server.site import Links, SiteLinks, croissant_url
from medkg_server.state import ServerState, StoreVersion, state
from medkg_server.worker import Job, graph_body

KINDS = (
    "dataset",
    "anatomy",
    "modality",
    "stain",
    "task",
    "venue",
    "scheme",
    "challenge",
    "source",
    "graph",
)
SINGLETONS = ("ontology", "catalogue", "team")
HTML = "text/html; charset=utf-8"
PAGE_RENDERER = "medkg.page_renderer"  # the app.extensions key of the app's PageRenderer
OWL_VERSION_IRI = "http://www.w3.org/2002/07/owl#versionIRI"
ALTERNATES = (
    ("ttl", formats.TURTLE),
    ("nt", formats.NTRIPLES),
    ("jsonld", formats.JSONLD),
    ("rdfxml", formats.RDFXML),
)


def docs_path(prefix: str) -> str:
    """Where the ontology's documentation files are served, under the linked-data `prefix`."""
    return f"{prefix}ontology/docs/"


def blueprint(prefix: str) -> Blueprint:
    """The linked-data routes mounted at `prefix` (the server path of the base IRI)."""
    bp = Blueprint("ld", __name__)
    kinds = ",".join(KINDS)
    bp.add_url_rule(f"{prefix}<any({kinds}):kind>/<path:rest>", "resource", resource)
    for name in SINGLETONS:
        bp.add_url_rule(f"{prefix}{name}", name, resource, defaults={"kind": name, "rest": None})
    bp.add_url_rule(f"{docs_path(prefix)}<path:name>", "ontology_docs", ontology_docs)
    bp.add_url_rule(docs_path(prefix), "ontology_docs_folder", ontology_docs_folder)
    bp.add_url_rule(f"{prefix}ontology/<version>", "ontology_version", ontology_version)
    bp.add_url_rule(f"{prefix}context.jsonld", "jsonld_context", jsonld_context)
    return bp


def jsonld_context() -> Response:
    """The JSON-LD context every medkg JSON-LD export names (ontology/context.jsonld, rebased)."""
    from medkg.export.context import load_context
    from medkg.export.errors import ExportError

    try:
        context = load_context(state().settings.core)
    except ExportError as exc:
        return plain_error(500, str(exc))
    response = Response(json.dumps({"@context": context}, indent=2), status=200)
    response.headers["Content-Type"] = "application/ld+json; charset=utf-8"
    # JSON-LD processors fetch it cross-origin
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _docs_dir() -> Path | None:
    """The published version's generated documentation (a store loaded by other means has none)."""
    target = medkg_store.current_version_dir(Path(state().settings.store))
    docs = target / medkg_store.DOCS if target is not None else None
    return docs if docs is not None and docs.is_dir() else None


def ontology_docs(name: str) -> Response:
    """The HTML documentation `medkg build` generated for the published version."""
    folder = _docs_dir()
    if folder is None:
        abort(404)
    # send_from_directory refuses paths that leave the folder (404), so no traversal
    return send_from_directory(folder, name)


def ontology_docs_folder() -> Response:
    """The documentation's folder address, as a reader types it: its index page."""
    if _docs_dir() is None:
        abort(404)
    return redirect(url_for("ld.ontology_docs", name="index.html"), code=302)


def ontology_version(version: str) -> Response:
    """The ontology's versionIRI: the ontology itself while that version is the one published."""
    st = state()
    iri = f"{st.settings.base}ontology/{version}"
    published = published_version(st)
    pattern = (None, ox.NamedNode(OWL_VERSION_IRI), ox.NamedNode(iri), None)
    if next(st.inline.store(published.name).quads_for_pattern(*pattern), None) is None:
        abort(404)
    return resource("ontology", None)


def resource(kind: str, rest: str | None) -> Response:
    st = state()
    iri = st.settings.base + (kind if rest is None else f"{kind}/{rest}")
    try:
        queries.iri(iri)
    except queries.BadValue:
        abort(404)
    version = published_version(st)
    wanted = formats.negotiate_graph(
        request.headers.get("Accept", ""), request.args.getlist("format"), html=True
    )
    if wanted is None:
        return plain_error(
            406, "available as HTML, Turtle, N-Triples, JSON-LD, RDF/XML, TriG or N-Quads"
        )
    etag = page_etag(version, iri, wanted)
    if not_modified(request, etag, version):
        return _decorate(with_validators(Response(status=304), etag, version))
    if kind == "ontology" and not isinstance(wanted, formats.Format) and _docs_dir() is not None:
        # people asking for the ontology (or its versionIRI) get its generated documentation
        return _decorate(redirect(url_for("ld.ontology_docs", name="index.html"), code=303))
    if isinstance(wanted, formats.Format) and kind in ("graph", "ontology"):
        graph_iri = st.ns.graph("ontology") if kind == "ontology" else iri
        response = graph_dump(st, version.name, graph_iri, wanted)
    else:
        renderer: PageRenderer = current_app.extensions[PAGE_RENDERER]
        links = renderer.site.for_request()
        page = renderer.page(st, version.name, kind, iri, wanted, links)
        if page is None and kind == "graph" and wanted == "html":
            if graph_exists(st, version.name, iri):  # a named graph may have no statements
                page = Page(renderer.html(st, version.name, kind, iri, [], links), HTML)
        if page is None:
            abort(404)
        response = Response(page.body, status=200, headers=page.headers)
    return _decorate(with_validators(response, etag, version))


def page_etag(version: StoreVersion, iri: str, wanted: formats.Format | str) -> str:
    """The ETag of a resource's page in one representation (a Format, or "html")."""
    return etag_for(version, "ld", iri, wanted if isinstance(wanted, str) else wanted.key)


@dataclass(frozen=True)
class Page:
    """A resource's page in one representation: its body and content type."""

    body: bytes | str
    content_type: str
    truncated: bool = False

    @property
    def headers(self) -> Headers:
        truncated = [("X-MedKG-Truncated", "true")] if self.truncated else []
        return [("Content-Type", self.content_type), *truncated]


class PageRenderer:
    """Resource pages read from the store's indexes, rendered with the app's own templates.

    Both the Flask view above and the direct path (direct.py) answer pages through `page`, so
    they send the same page; it needs no request context (the templates get the site's links
    as an argument, not from Flask).
    """

    def __init__(self, env: Environment, site: SiteLinks) -> None:
        self.env = env
        self.site = site

    def page(
        self,
        st: ServerState,
        version: str,
        kind: str,
        iri: str,
        wanted: formats.Format | str,
        links: Links,
    ) -> Page | None:
        """The page of `iri` as HTML or RDF; None when the store has no statements about it.

        A named graph's RDF (a dump of the graph) is not a page of this kind: see `graph_dump`.
        """
        if isinstance(wanted, formats.Format):
            # the triples of queries/resource-describe.rq, read without the engine
            triples, truncated = catalogue.reader(st, version).description(
                iri, st.settings.row_cap
            )
            if not triples:
                return None
            body = graph_body(triples, wanted.key, dict(output_prefixes(st)))
            return Page(body, wanted.content_type, truncated)
        rows = catalogue.statements(st, version, iri)
        if not rows:
            return None
        return Page(self.html(st, version, kind, iri, rows, links), HTML)

    def html(
        self,
        st: ServerState,
        version: str,
        kind: str,
        iri: str,
        rows: list[Statement],
        links: Links,
    ) -> str:
        """The HTML page of `iri` from its statements `rows`."""
        if kind == "dataset" and rows:
            offered = offers_catalogue_files(st, version)
            slug = iri.rstrip("/").rsplit("/", 1)[-1]
            croissant = croissant_url(links, slug) if offered else None
            view = catalogue.dataset(st, version, iri, rows)
            return self._render("dataset.html", links, d=view, croissant=croissant)
        view = catalogue.resource(st, version, iri, rows)
        return self._render("resource.html", links, r=view, kind=kind)

    def _render(self, name: str, links: Links, **context: Any) -> str:
        return self.env.get_template(name).render(site=links, **context)


def graph_dump(
    st: ServerState, version: str, graph_iri: str | None, fmt: formats.Format, empty: int = 404
) -> Response:
    """The triples of one named graph, or of the default graph (`None`), at most the row cap.

    `empty` is the status of a graph without triples: a page's 404, or the Graph Store's 200.
    """
    if graph_iri is None:
        text = queries.load("default-graph-dump")
    else:
        text = queries.load("graph-dump", iri=queries.iri(graph_iri))
    job = Job(
        text,
        "query",
        None,
        fmt.key,
        st.settings.row_cap,
        base_iri=st.settings.base,
        prefixes=output_prefixes(st),
    )
    outcome = st.run(job, version)
    if outcome.rows == 0 and empty == 404:
        abort(404)
    page = Page(outcome.body, fmt.content_type, outcome.truncated)
    return Response(page.body, status=200, headers=page.headers)


def graph_exists(st: ServerState, version: str, iri: str) -> bool:
    """True when the store has a named graph `iri` (a graph page may have no statements)."""
    job = Job(queries.load("graph-exists", iri=queries.iri(iri)), "query", "json", None, 1,
              base_iri=st.settings.base)
    return bool(json.loads(st.run(job, version).body)["boolean"])


def _decorate(response: Response) -> Response:
    """Vary and Link headers that make the negotiation visible to clients and caches."""
    for name, value in negotiation_headers(request.base_url):
        response.headers[name] = value
    return response


def negotiation_headers(here: str) -> Headers:
    """Vary, and a Link to every representation of the page at `here` (its URL, no query)."""
    links = [
        f'<{here}?format={name}>; rel="alternate"; type="{fmt.media_type}"'
        for name, fmt in ALTERNATES
    ]
    links.append(f'<{here}?format=html>; rel="alternate"; type="text/html"')
    return [("Vary", "Accept"), ("Link", ", ".join(links))]
