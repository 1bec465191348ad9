"""Whole-graph and catalogue files to download, made once per store version.

- `medkg.nq.gz`: every quad with the graph it is in (the list behind each fact), N-Quads, gzip.
  The Graph Store's `/store?default` stops at the row cap and merges the graphs; a harvester, a
  mirror or a user moving to a bigger triple store wants this file. VoID names it as the
  catalogue's `void:dataDump`.
- `catalogue.dcat.ttl`, `datasets.csv`, `mappings.sssom.tsv`: what `medkg export` writes as
  dcat, csv and sssom, for DCAT-AP harvesters, spreadsheets and ontology mappers that fetch a
  URL; and `croissant/<slug>.json`, one dataset's Croissant description (what ML tools read),
  linked from its page. Only up to CATALOGUE_FILES_MAX datasets: past that they cost the
  server minutes and gigabytes, and `medkg export` is the way.

A file is written the first time it is asked for and kept beside the version
(version_cache.py), so every worker serves the same bytes, with ETag, Last-Modified and byte
ranges (a large download can resume). It is written in the background: a request waits a few
seconds for it, then gets 503 with Retry-After until it is there.
"""

from __future__ import annotations

import gzip
import itertools
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, abort, render_template, send_file
from werkzeug.security import safe_join

from medkg import store as medkg_store
from medkg.namespaces import RDF
from medkg.export import WRITERS, ExportError
from medkg_server import version_cache
from medkg_server.replies import etag_for
from medkg_server.responses import plain_error, published_version
from medkg_server.state import ServerState, state

bp = Blueprint("downloads", __name__)
DUMP = "medkg.nq.gz"
# a request for a file not made yet waits this long, then gets 503 with Retry-After while the
# file is made in the background (the dump takes about 3 minutes at a million datasets)
PREPARE_WAIT_SECONDS = 5.0
RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class Download:
    """A file the server offers: its name, how it is served, and the export that makes it."""

    name: str
    content_type: str  # text types are sent with charset=utf-8
    export: str | None  # a medkg.export format; None for the dump
    about: str = ""  # one line for the downloads page


DOWNLOADS = {
    d.name: d
    for d in (
        Download(DUMP, "application/gzip", None,
                 "the whole graph: every quad with its named graph, N-Quads compressed with gzip"),
        Download("catalogue.dcat.ttl", "text/turtle", "dcat",
                 "the catalogue in DCAT-AP 3, Turtle, for catalogue harvesters"),
        Download("datasets.csv", "text/csv", "csv", "one row per dataset, for spreadsheets"),
        Download("mappings.sssom.tsv", "text/tab-separated-values", "sssom",
                 "the vocabularies' mappings to external ontologies, SSSOM"),
    )
}
# the folder `medkg export --format croissant` writes, one `<slug>.json` per dataset
CROISSANT = Download("croissant", "application/ld+json", "croissant")
_private: tempfile.TemporaryDirectory[str] | None = None
_private_lock = threading.Lock()


@bp.route("/download/")
def listing() -> Response:
    """A page naming the files to download (the catalogue files only when they are offered)."""
    st = state()
    version = published_version(st)
    offered = offers_catalogue_files(st, version.name)
    files = [d for d in DOWNLOADS.values() if d.export is None or offered]
    body = render_template("downloads.html", files=files, version=version.name,
                           limit=st.settings.catalogue_files_max, offered=offered)
    return Response(body, content_type="text/html; charset=utf-8")


@bp.route("/download/<name>", methods=["GET", "HEAD"])
def download(name: str) -> Response:
    item = DOWNLOADS.get(name)
    if item is None:
        abort(404)
    return _send(item, name, lambda path: path)


@bp.route("/download/croissant/<slug>.json", methods=["GET", "HEAD"])
def croissant(slug: str) -> Response:
    """One dataset's Croissant file, from the version's folder of them."""
    name = f"{slug}.json"

    def member(folder: Path) -> Path:
        path = safe_join(str(folder), name)
        if path is None or not Path(path).is_file():
            abort(404)
        return Path(path)

    return _send(CROISSANT, name, member)


def offers_catalogue_files(st: ServerState, version: str) -> bool:
    """True when the catalogue is small enough for the server to make its catalogue files.

    Dataset pages ask this, so it counts at most CATALOGUE_FILES_MAX + 1 datasets, once per
    version (the facet index, which knows the total, takes minutes to build at a million).
    """
    offered = st.memo.get(version, "catalogue-files")
    if offered is None:
        limit = st.settings.catalogue_files_max
        rdf_type = ox.NamedNode(f"{RDF}type")
        dataset = ox.NamedNode(st.ns.term("Dataset"))
        graph = ox.NamedNode(st.ns.graph("catalogue"))
        db = st.inline.store(version)
        found = db.quads_for_pattern(None, rdf_type, dataset, graph)
        offered = sum(1 for _ in itertools.islice(found, limit + 1)) <= limit
        st.memo.put(version, "catalogue-files", offered)
    return offered


def _send(item: Download, name: str, pick: Callable[[Path], Path]) -> Response:
    """The file of `item` for the published version (`pick`: which file of it), as a download."""
    st = state()
    version = published_version(st)
    db_version, db = st.inline.opened(version.name)
    if db_version != version.name:
        # a build published another version between the two reads: its file is the one to get
        return plain_error(503, "a new version of the store was just published; ask again",
                           {"Retry-After": "1"})
    if item.export is not None and not offers_catalogue_files(st, version.name):
        limit = st.settings.catalogue_files_max
        return plain_error(404, f"{name} is not made here for more than {limit} datasets "
                           f"(MEDKG_CATALOGUE_FILES_MAX={limit}): "
                           f"run `medkg export --format {item.export}`")
    try:
        made = _file(st, version.name, item, _writer(st, item, db))
    except ExportError as exc:
        return plain_error(404, f"{name} cannot be made from this store: {exc}")
    except OSError as exc:
        # nowhere to write it (a full disk): nothing half-written was kept, a later request
        # writes it again
        return plain_error(503, f"{name} cannot be written now: {exc.strerror or exc}; "
                           "ask again later", {"Retry-After": "60"})
    if made is None:
        return plain_error(503, f"{name} is being made for this version of the store; "
                           "ask again in a while", {"Retry-After": str(RETRY_AFTER_SECONDS)})
    path = pick(made)
    response = send_file(
        path,
        mimetype=item.content_type,
        as_attachment=item is not CROISSANT,  # a Croissant file is read in place by ML tools
        download_name=name,
        conditional=True,
        etag=etag_for(version, "download", item.name, name),
        last_modified=version.published,
        max_age=None,
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-MedKG-Store-Version"] = version.name
    return response


def write_dump(db: ox.Store, path: Path) -> None:
    """Every quad of `db` as gzip-compressed N-Quads; the same store gives the same bytes."""
    # no file name or time in the gzip header: only the graph decides the bytes
    with open(path, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
    ) as out:
        db.dump(out, format=ox.RdfFormat.N_QUADS)


def _writer(st: ServerState, item: Download, db: ox.Store) -> Callable[[Path], object]:
    if item.export is None:
        return lambda path: write_dump(db, path)
    export = WRITERS[item.export]
    return lambda path: export(db, st.settings.core, path, True)


def _file(
    st: ServerState, version: str, item: Download, write: Callable[[Path], object]
) -> Path | None:
    """The file of `version`, or None while it is being written (its first writer started it)."""
    folder = Path(st.settings.store) / medkg_store.VERSIONS / version
    try:
        return version_cache.file_or_start(folder, item.name, write, PREPARE_WAIT_SECONDS)
    except OSError:
        return _private_copy(f"{version}-{item.name}", write)


def _private_copy(name: str, write: Callable[[Path], object]) -> Path:
    """A store folder this server may not write to: the file in a folder of this process's own."""
    global _private
    with _private_lock:  # the other threads wait for the one writing, as other processes do
        if _private is None:
            _private = tempfile.TemporaryDirectory(prefix="medkg-download-")
        path = Path(_private.name) / name
        if not path.exists():
            # renamed in only when whole: a write that fails half-way must not be served next
            version_cache.write_atomically(path, write)
        return path
