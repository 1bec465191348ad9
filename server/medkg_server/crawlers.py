"""What search engines and dataset-search crawlers read: /robots.txt and the sitemaps.

Every dataset page carries schema.org Dataset markup; a crawler finds the pages through the
sitemaps (one index, then files of at most 50,000 addresses each, the protocol's limit), listed
from the facet index of the store version. robots.txt keeps crawlers off what costs a
computation per address (queries, facet combinations, the graph store, the download).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for
from werkzeug.urls import iri_to_uri

from medkg_server import catalogue
from medkg_server.replies import etag_for
from medkg_server.responses import not_modified, published_version, stamped, with_validators
from medkg_server.state import state

bp = Blueprint("crawlers", __name__)
PER_SITEMAP = 50_000  # sitemaps.org: at most 50,000 URLs (and 50 MB) in one file
XML = "application/xml; charset=utf-8"
# pages for people that exist whatever the data (the dataset pages follow from the store)
FIXED_PAGES = ("pages.index", "pages.browse", "pages.stats")


@bp.route("/robots.txt")
def robots() -> Response:
    body = render_template(
        "robots.txt",
        root=request.script_root,
        sitemap=url_for("crawlers.sitemap_index", _external=True),
    )
    return Response(body, content_type="text/plain; charset=utf-8")


@bp.route("/sitemap.xml")
def sitemap_index() -> Response:
    """The sitemap index: one entry per file of dataset pages."""
    st = state()
    version = published_version(st)
    etag = etag_for(version, "sitemap-index", request.host_url)
    if not_modified(request, etag, version):
        return with_validators(Response(status=304), etag, version)
    counted = catalogue.page_index(st, version.name)
    datasets = counted.value.size
    files = range(1, max(-(-datasets // PER_SITEMAP), 1) + 1)
    body = render_template(
        "sitemap-index.xml",
        sitemaps=[url_for("crawlers.sitemap", number=n, _external=True) for n in files],
        lastmod=version.published.date().isoformat(),
    )
    return stamped(Response(body, content_type=XML), etag, version, not counted.stale)


@bp.route("/sitemap/<int:number>.xml")
def sitemap(number: int) -> Response:
    """File `number` of the sitemap: dataset pages (the first file also the fixed pages)."""
    st = state()
    version = published_version(st)
    counted = catalogue.page_index(st, version.name)
    iris = counted.value.iris
    start = (number - 1) * PER_SITEMAP
    if number < 1 or (start >= len(iris) and number != 1):
        abort(404)
    etag = etag_for(version, "sitemap", number, request.host_url)
    if not_modified(request, etag, version):
        return with_validators(Response(status=304), etag, version)
    # Only datasets with a page here: a dataset written in with a blank node or an IRI outside
    # the base has none. The protocol wants URIs: an IRI's other characters percent-encoded.
    base = st.settings.base
    body = render_template(
        "sitemap.xml",
        pages=[url_for(name, _external=True) for name in FIXED_PAGES] if number == 1 else [],
        root=request.host_url.rstrip("/") + request.script_root,  # before each page's path
        iris=[iri_to_uri(iri) for iri in iris[start : start + PER_SITEMAP] if iri.startswith(base)],
    )
    return stamped(Response(body, content_type=XML), etag, version, not counted.stale)
