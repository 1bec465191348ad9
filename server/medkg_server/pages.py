"""Pages for people (query UI, browse, statistics) and the small service routes (/health, /void)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request

from medkg_server import catalogue, charts, describe, formats, queries
from medkg_server.replies import etag_for
from medkg_server.responses import (
    not_modified,
    plain_error,
    published_version,
    stamped,
    with_validators,
)
from medkg_server.state import ServerState, state

bp = Blueprint("pages", __name__)
HTML = "text/html; charset=utf-8"
# The README's example questions live in data/example-queries/*.rq; until that folder exists the
# server falls back to the few it ships.
BUILTIN_EXAMPLES = Path(__file__).with_name("static") / "examples"


@dataclass(frozen=True)
class Example:
    name: str
    title: str
    query: str


def example_queries(st: ServerState) -> list[Example]:
    """Example queries: data/example-queries/*.rq when present, else the built-in ones.

    A file's first comment line (`# title: ...` or `# ...`) is its title; otherwise its name is.
    """
    folder = st.settings.core.data_dir / "example-queries"
    if not folder.is_dir() or not any(folder.glob("*.rq")):
        folder = BUILTIN_EXAMPLES
    examples = []
    for path in sorted(folder.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        title = path.stem.replace("-", " ")
        if first.startswith("#"):
            title = first.lstrip("#").strip()
            title = title[len("title:"):].strip() if title.lower().startswith("title:") else title
        examples.append(Example(path.stem, title, text))
    return examples


@bp.route("/")
def index() -> str:
    st = state()
    return render_template("index.html", examples=example_queries(st))


@bp.route("/health")
def health() -> Response:
    """Liveness: the process answers; says whether a store version is published."""
    version = state().version()
    body = {"status": "ok", "store_version": version.name if version else None}
    return Response(_json(body), status=200, content_type="application/json")


@bp.route("/ready")
def ready() -> Response:
    """Readiness: 200 once a store version is published, else 503."""
    version = state().version()
    if version is None:
        return Response(_json({"status": "no store"}), status=503, content_type="application/json")
    return Response(_json({"status": "ready", "store_version": version.name}), status=200,
                    content_type="application/json")


@bp.route("/browse")
def browse() -> Response:
    st = state()
    version = published_version(st)
    kind = formats.negotiate_page(request.headers.get("Accept", ""), request.args.getlist("format"))
    if kind is None:
        return plain_error(406, "available as HTML or JSON (format=html or format=json)")
    try:
        selection = catalogue.read_selection(st, request.args)
    except queries.BadValue as exc:
        return _page_error(kind, 400, str(exc))
    etag = etag_for(version, "browse", kind, request.query_string)
    if not_modified(request, etag, version):
        return with_validators(_varied(Response(status=304)), etag, version)
    view = catalogue.browse(st, version.name, selection)
    if view["page"] > view["pages"]:
        message = f"no page {view['page']}: the selection has {view['pages']}"
        return _page_error(kind, 404, message)
    if kind == "json":
        response = _json_response(catalogue.browse_data(view))
    else:
        response = Response(render_template("browse.html", v=view), content_type=HTML)
    return stamped(_varied(response), etag, version, not view["index_stale"])


@bp.route("/stats")
def stats() -> Response:
    st = state()
    version = published_version(st)
    kind = formats.negotiate_page(request.headers.get("Accept", ""), request.args.getlist("format"))
    if kind is None:
        return plain_error(406, "available as HTML or JSON (format=html or format=json)")
    etag = etag_for(version, "stats", kind)
    if not_modified(request, etag, version):
        return with_validators(_varied(Response(status=304)), etag, version)
    data = catalogue.statistics(st, version.name)
    final = not data["index_stale"]
    if kind == "json":
        return stamped(_varied(_json_response(data)), etag, version, final)
    chart_list = [
        ("Datasets per imaging modality", charts.bar_chart(data["modality"])),
        ("Datasets per organ system", charts.bar_chart(data["organ_system"])),
        ("Datasets per year", charts.bar_chart(data["year"], keep_last=True)),
    ]
    body = render_template("stats.html", totals=data["totals"], charts=chart_list, data=data)
    return stamped(_varied(Response(body, content_type=HTML)), etag, version, final)


def _page_error(kind: str, status: int, message: str) -> Response:
    """A bad browse address: the site's error page (with its navigation) for a browser, else text.

    A stale "next" link or a mistyped filter would otherwise leave a reader on a bare line of
    text with no way back into the site.
    """
    if kind != "html":
        return plain_error(status, message)
    body = render_template("error.html", code=status, message=message)
    return _varied(Response(body, status=status, content_type=HTML))


def _varied(response: Response) -> Response:
    response.headers.add("Vary", "Accept")  # HTML or JSON by the Accept header
    return response


def _json_response(data: Any) -> Response:
    return Response(_json(data), content_type="application/json")


@bp.route("/void")
@bp.route("/.well-known/void")
def void() -> Response:
    return describe.void_response(state())


def _json(value: object) -> str:
    return json.dumps(value) + "\n"
