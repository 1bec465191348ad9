"""The whole graph as one file to download: gzip-compressed N-Quads, made once per store version.

The Graph Store's `/store?default` stops at the row cap and merges the named graphs; a harvester,
a mirror or a user moving to a bigger triple store wants every quad with the graph it is in (the
list behind each fact). VoID names this file as the catalogue's `void:dataDump`. It is written
the first time it is asked for and kept beside the version (version_cache.py), so every worker
serves the same bytes, with ETag, Last-Modified and byte ranges (a large download can resume).
"""

from __future__ import annotations

import gzip
import tempfile
import threading
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, send_file

from medkg import store as medkg_store
from medkg_server import version_cache
from medkg_server.replies import etag_for
from medkg_server.responses import plain_error
from medkg_server.state import ServerState, state

bp = Blueprint("downloads", __name__)
DUMP = "medkg.nq.gz"
MEDIA_TYPE = "application/n-quads"  # of the file once decompressed (VoID and DCAT say so)
COMPRESSION = "application/gzip"
_private: tempfile.TemporaryDirectory[str] | None = None
_private_lock = threading.Lock()


@bp.route(f"/download/{DUMP}", methods=["GET", "HEAD"])
def dump() -> Response:
    st = state()
    version = st.version()
    if version is None:
        return plain_error(503, "the store has not been built yet")
    name, db = st.inline.opened(version.name)
    if name != version.name:
        # a build published another version between the two reads: its dump is the one to get
        return plain_error(503, "a new version of the store was just published; ask again",
                           {"Retry-After": "1"})
    response = send_file(
        dump_file(st, name, db),
        mimetype=COMPRESSION,
        as_attachment=True,
        download_name=DUMP,
        conditional=True,
        etag=etag_for(version, "dump", DUMP),
        last_modified=version.published,
        max_age=None,
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-MedKG-Store-Version"] = version.name
    return response


def dump_file(st: ServerState, version: str, db: ox.Store) -> Path:
    """The dump of `version`, written now if no process has written it yet."""
    folder = Path(st.settings.store) / medkg_store.VERSIONS / version
    try:
        return version_cache.file_or_write(folder, DUMP, lambda path: write_dump(db, path))
    except OSError:
        return _private_copy(version, db)


def write_dump(db: ox.Store, path: Path) -> None:
    """Every quad of `db` as gzip-compressed N-Quads; the same store gives the same bytes."""
    # no file name or time in the gzip header: only the graph decides the bytes
    with open(path, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
    ) as out:
        db.dump(out, format=ox.RdfFormat.N_QUADS)


def _private_copy(version: str, db: ox.Store) -> Path:
    """A store folder this server may not write to: the dump in a folder of this process's own."""
    global _private
    with _private_lock:  # the other threads wait for the one writing, as other processes do
        if _private is None:
            _private = tempfile.TemporaryDirectory(prefix="medkg-dump-")
        path = Path(_private.name) / f"{version}-{DUMP}"
        if not path.exists():
            write_dump(db, path)
        return path
