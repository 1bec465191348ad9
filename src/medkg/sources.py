"""The source manifest (data/manifest.toml) and reading each source's text.

A source is a markdown list: a file under data/, a file or folder given with `--sources`, or an
http(s) URL fetched with a time limit and a size cap (the retrieval time is kept as provenance).
"""

from __future__ import annotations

import hashlib
import re
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from medkg.namespaces import slugify

URL_TIMEOUT = 20.0
URL_MAX_BYTES = 5 * 1024 * 1024
MARKDOWN_SUFFIXES = (".md", ".markdown", ".txt")
# C0 controls but tab, line feed and carriage return, and DEL: not allowed in XML 1.0 text
CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The fields a manifest [[source]] may have (data/manifest.toml's header explains each)
MANIFEST_KEYS = frozenset({"id", "title", "path", "origin", "license", "sha256", "received",
                           "format", "columns", "scope"})
FORMATS = ("auto", "tables", "headings")


class SourceError(Exception):
    """A source is missing, unreadable or badly described in the manifest."""


@dataclass
class Source:
    """One list of datasets and what we know of where it came from."""

    id: str
    title: str
    path: str
    origin: str = ""
    license: str = "unknown"
    sha256: str | None = None
    received: str | None = None
    format: str = "auto"
    columns: dict[str, str] = field(default_factory=dict)
    scope: dict[str, str] = field(default_factory=dict)
    location: Path | None = None  # resolved local file, None for URLs

    @property
    def is_url(self) -> bool:
        return self.path.startswith(("http://", "https://"))

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SourceText:
    source: Source
    text: str
    sha256: str
    retrieved: str  # ISO timestamp: when this build read (or fetched) the list


def load_manifest(path: Path) -> list[Source]:
    """Parse data/manifest.toml into sources, checking ids are unique and files exist."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError(f"{path}: cannot read manifest: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"{path}: not valid TOML: {exc}") from None
    sources: list[Source] = []
    seen: set[str] = set()
    unknown_tables = sorted(set(raw) - {"source"})
    if unknown_tables:
        raise SourceError(f"{path}: unknown table(s) {', '.join(unknown_tables)}; "
                          "lists are [[source]] entries")
    for index, entry in enumerate(raw.get("source", []), start=1):
        where = f"{path}: [[source]] #{index}"
        for key in ("id", "title", "path"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise SourceError(f"{where}: field '{key}' is required")
        unknown = sorted(set(entry) - MANIFEST_KEYS)
        if unknown:
            # a misspelt key (lisence) would otherwise be dropped without a word
            raise SourceError(f"{where} ('{entry['id']}'): unknown field(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(MANIFEST_KEYS))}")
        if entry.get("format", "auto") not in FORMATS:
            raise SourceError(f"{where} ('{entry['id']}'): format = {entry['format']!r} is not "
                              f"one of {', '.join(FORMATS)}")
        if entry["id"] in seen:
            raise SourceError(f"{where}: duplicate id '{entry['id']}'")
        seen.add(entry["id"])
        source = Source(
            id=entry["id"],
            title=entry["title"],
            path=entry["path"],
            origin=entry.get("origin", ""),
            license=entry.get("license", "unknown"),
            sha256=entry.get("sha256"),
            received=entry.get("received"),
            format=entry.get("format", "auto"),
            columns={k.lower(): v for k, v in entry.get("columns", {}).items()},
            scope=dict(entry.get("scope", {})),
        )
        if not source.is_url:
            source.location = (path.parent / source.path).resolve()
        sources.append(source)
    return sources


def extra_sources(paths: list[str | Path], taken: set[str]) -> list[Source]:
    """Sources for files, folders or URLs given on the command line (folders: every markdown file)."""
    found: list[Source] = []
    for item in paths:
        if isinstance(item, str) and item.startswith(("http://", "https://")):
            found.append(_extra(item, None, taken))
            continue
        given = Path(item)
        if given.is_dir():
            files = sorted(p for p in given.iterdir() if p.suffix.lower() in MARKDOWN_SUFFIXES)
            if not files:
                raise SourceError(f"{given}: no markdown list in this folder "
                                  f"({', '.join(MARKDOWN_SUFFIXES)})")
        elif given.is_file():
            files = [given]
        else:
            raise SourceError(f"{given}: no such file or folder")
        found.extend(_extra(str(f), f.resolve(), taken) for f in files)
    return found


def _extra(path: str, location: Path | None, taken: set[str]) -> Source:
    stem = location.stem if location else path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    base_id = slugify(stem)
    source_id, n = base_id, 2
    while source_id in taken:
        source_id, n = f"{base_id}-{n}", n + 1
    taken.add(source_id)
    return Source(id=source_id, title=stem, path=path, origin=f"given with --sources: {path}",
                  location=location)


def read_source(source: Source) -> SourceText:
    """Read a source's markdown (decoded as UTF-8), fetching URLs with a time limit and size cap."""
    retrieved = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if source.is_url:
        data = fetch_url(source.path)
    else:
        assert source.location is not None
        try:
            data = source.location.read_bytes()
        except OSError as exc:
            raise SourceError(f"{source.location}: cannot read: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{source.path}: not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise SourceError(f"{source.path}: binary content (NUL byte), not a markdown list")
    # other control characters are spaces: RDF/XML and SPARQL XML answers cannot carry them
    return SourceText(source, CONTROL.sub(" ", text), digest, retrieved)


def fetch_url(url: str, timeout: float | None = None, max_bytes: int | None = None) -> bytes:
    """GET a raw markdown list over http(s); refuses redirects to other schemes and big bodies."""
    timeout = timeout or URL_TIMEOUT
    max_bytes = max_bytes or URL_MAX_BYTES
    request = urllib.request.Request(url, headers={"User-Agent": "medkg (markdown list ingest)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked by caller)
            if not response.geturl().startswith(("http://", "https://")):
                raise SourceError(f"{url}: redirected off http(s)")
            data = response.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(f"{url}: cannot fetch: {exc}") from None
    if len(data) > max_bytes:
        raise SourceError(f"{url}: larger than {max_bytes} bytes")
    return data
