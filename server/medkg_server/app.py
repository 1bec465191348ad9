"""The Flask application factory: settings, blueprints, CORS, error pages and request logging."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, parse_range_header
from werkzeug.middleware.proxy_fix import ProxyFix

from medkg_server import crawlers, downloads, graph_store, linked_data, openapi, pages, sparql
from medkg_server.compression import Compression
from medkg_server.direct import DirectPath
from medkg_server.executor import ExecutorBusy, QueryTimeout
from medkg_server.fastpath import FastPath, log_access
from medkg_server.replies import cors_headers, vary_value
from medkg_server.responses import make_conditional, plain_error
from medkg_server.settings import ServerSettings, from_environment, resolve
from medkg_server.site import SITE_LINKS, SiteLinks
from medkg_server.state import EXTENSION, Preparing, ServerState

error_log = logging.getLogger("medkg_server.error")
TITLE_CHARS = 120  # longest <title> a page gives (its heading keeps the whole name)
SETTING_KEYS = (
    "STORE",
    "HOST",
    "PORT",
    "WORKERS",
    "THREADS",
    "EXECUTORS",
    "QUERY_TIMEOUT",
    "MAX_QUERY_TIMEOUT",
    "ROW_CAP",
    "MAX_REQUEST_BYTES",
    "CACHE_ENTRIES",
    "CACHE_MAX_BYTES",
    "MEMORY_QUADS",
    "UPDATE_TOKEN",
    "FEDERATION_ALLOW",
    "CORS_ORIGINS",
    "LD_PREFIX",
    "CATALOGUE_FILES_MAX",
    "PROXY_HOPS",
    "COMPRESS_MIN_BYTES",
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the web application; `config` overrides MEDKG_* environment variables."""
    app = Flask(__name__)
    app.config.update(from_environment())
    app.config.update(config or {})
    settings = resolve({key: app.config.get(key) for key in SETTING_KEYS})
    # One byte over the limit: Werkzeug's stream for a chunked body (no Content-Length) stops
    # at this maximum without an error, so a body of exactly the limit could not be told from
    # a longer one cut short; protocol.py answers 413 for anything past the limit.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes + 1
    app.config["MEDKG_SETTINGS"] = settings
    st = app.extensions[EXTENSION] = ServerState.create(settings)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(graph_store.bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(crawlers.bp)
    app.register_blueprint(linked_data.blueprint(settings.ld_prefix))
    app.jinja_env.globals["local_url"] = _local_url_function(settings)
    app.jinja_env.globals["TITLE_CHARS"] = TITLE_CHARS
    app.jinja_env.globals["STATUS_NAMES"] = HTTP_STATUS_CODES  # the error page's title
    site_links = app.extensions[SITE_LINKS] = SiteLinks()
    app.context_processor(site_links.context)
    renderer = linked_data.PageRenderer(app.jinja_env, site_links)
    app.extensions[linked_data.PAGE_RENDERER] = renderer
    _install_hooks(app, settings)
    # outermost first: trusted proxies' headers, compression, the answer cache (which keeps
    # plain answers), then plain GET queries and resource pages, then Flask for the rest
    app.wsgi_app = FastPath(  # type: ignore[method-assign]
        DirectPath(app.wsgi_app, st, renderer),
        settings.store,
        settings.cache_entries,
        settings.cache_max_bytes,
    )
    if settings.compress_min_bytes:
        app.wsgi_app = Compression(  # type: ignore[method-assign]
            app.wsgi_app,
            settings.compress_min_bytes,
            (f"{app.static_url_path}/", linked_data.docs_path(settings.ld_prefix)),
        )
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    return app


def _local_url_function(settings: ServerSettings):  # type: ignore[no-untyped-def]
    """Map an IRI under the base to this server's path for it; leave other IRIs alone."""

    def local_url(iri: str | None) -> str:
        if iri and iri.startswith(settings.base):
            return settings.ld_prefix + iri[len(settings.base) :]
        return iri or ""

    return local_url


PREPARING_RETRY_SECONDS = 10  # a page whose figures are being prepared: ask again after this


def _install_hooks(app: Flask, settings: ServerSettings) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.started = time.perf_counter()

    @app.before_request
    def _ignore_ranges_not_served() -> None:
        # Werkzeug serves one byte range and answers any other Range with 416, as if no range
        # could be satisfied: several ranges, ranges out of order or overlapping (which it
        # cannot parse), another unit, an invalid range. RFC 9110 (14.2) has a server ignore
        # another unit and lets it ignore the rest, so such a client gets the whole file (200);
        # 416 is left for one byte range that lies past the end of the file.
        header = request.environ.get("HTTP_RANGE")
        if header is None:
            return
        ranges = parse_range_header(header)
        if ranges is None or ranges.units != "bytes" or len(ranges.ranges) != 1:
            del request.environ["HTTP_RANGE"]

    @app.after_request
    def _finish(response: Response) -> Response:
        make_conditional(request, response)
        for name, value in cors_headers(request.headers.get("Origin"), settings):
            if name == "Vary":  # one Vary field: `set` replaces every Vary line with it
                response.headers.set(name, vary_value([*response.headers.getlist(name), value]))
            else:
                response.headers[name] = value
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # a file sent as it is (a download) has its length in the header only
        size = response.calculate_content_length() or response.content_length or 0
        started = g.get("started", time.perf_counter())
        log_access(request.environ, response.status_code, size, started)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if exc.code == 404 and request.accept_mimetypes.accept_html:
            body = render_template("error.html", code=404, message="No such page or resource.")
            return Response(body, status=404, content_type="text/html; charset=utf-8")
        headers = dict(exc.get_headers())
        headers.pop("Content-Type", None)
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"the request is larger than {settings.max_request_bytes} bytes"
        return plain_error(exc.code or 500, f"{exc.code} {exc.name}: {message}", headers)

    @app.errorhandler(Preparing)
    def _preparing(exc: Preparing) -> Response:
        # The first index or statistics of a large store (minutes at a million datasets): come
        # back rather than wait; a browser reloads the page by itself.
        retry = {"Retry-After": str(PREPARING_RETRY_SECONDS)}
        if request.accept_mimetypes.accept_html:
            body = render_template("error.html", code=503, message=str(exc).capitalize() + ".",
                                   refresh=PREPARING_RETRY_SECONDS)
            return Response(body, status=503, headers=retry,
                            content_type="text/html; charset=utf-8")
        return plain_error(503, str(exc), retry)

    @app.errorhandler(QueryTimeout)
    @app.errorhandler(ExecutorBusy)
    def _overloaded(exc: Exception) -> Response:
        # A page's own queries overran their limit or found every query process busy: the
        # client may retry; this is load, not a server bug.
        return plain_error(503, str(exc), {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Log the traceback for the operator; the client gets a short message, never the trace.
        error_log.exception("unhandled error on %s %s", request.method, request.path)
        return plain_error(500, "internal server error; the server log has the details")
