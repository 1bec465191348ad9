"""The on-disk Oxigraph store, built aside and swapped in atomically.

Layout of a store folder::

    STORE/
      current -> versions/<version>     symlink, replaced in one rename
      versions/<version>/oxigraph/      the pyoxigraph database of that build
      versions/<version>/report.json    the build report of the build it comes from
      versions/<version>/version.json   small facts readers need: its quad count (unless a
                                        SPARQL Update made it), and whether a SPARQL Update
                                        or Graph Store write made it
      versions/<version>/docs/          the ontology's HTML documentation made by that build

A build writes a new version folder, and only when it is complete and valid does one
`os.replace` of the `current` link publish it. Older versions are removed once no reader can
still be using them (`_prune`). A build that fails or is killed leaves `current`
pointing at the old version; its half-written folder is removed by the next build. Readers open
`current` read-only, so a running server keeps its open version until it reopens.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox

CURRENT = "current"
VERSIONS = "versions"
DB = "oxigraph"
REPORT = "report.json"
FACTS = "version.json"
FACT_KEYS = ("quads", "updated_by_sparql")
DOCS = "docs"
KEEP_VERSIONS = 2
# An older version stays this long after the next one was published: a query that started on
# it may still be running (the server lets one run 120 s by default), and pyoxigraph reading a
# database whose files were deleted under it grows in memory until it aborts.
PRUNE_AFTER_SECONDS = 600
# Held by whoever stages a new version (a build, a SPARQL update) until it is published or
# abandoned: one writer at a time, so a staging folder without the lock is a dead one's.
WRITE_LOCK = ".write.lock"
# every quad, default graph and named graphs, counted up to a limit
COUNT_UP_TO = ("SELECT (COUNT(*) AS ?n) WHERE {{ SELECT * WHERE {{ {{ ?s ?p ?o }} UNION "
               "{{ GRAPH ?g {{ ?s ?p ?o }} }} }} LIMIT {limit} }}")
COPY_CHUNK = 2000  # quads per step of a copy into memory (about 15 ms holding the lock)
LOCK_POLL_SECONDS = 0.05  # how often a writer with a time limit tries the lock again
log = logging.getLogger(__name__)


class StoreError(Exception):
    """The store folder is missing, empty or unreadable."""


class StoreBusy(StoreError):
    """Another build or update is writing a new version of the same store."""


def current_version_dir(store_dir: Path, link: str | None = None) -> Path | None:
    """The folder of the published version, or None when nothing was ever published.

    `link`, the text of the `current` link as read earlier, names the folder instead: a reader
    that read it once answers from that version even if a build has published another since.
    """
    if link:
        target = store_dir / link
        return target if (target / DB).is_dir() else None
    current = store_dir / CURRENT
    if not current.is_symlink() and not current.exists():
        return None
    target = current.resolve()
    return target if (target / DB).is_dir() else None


def version_link(name: str) -> str:
    """The `current` link's text when version `name` is published (for `current_version_dir`)."""
    return f"{VERSIONS}/{name}"


def published_at(version_dir: Path) -> datetime:
    """When a version was staged, from its name (its folder's time changes as caches are added).

    Version names start with the UTC second they were staged (`StagedVersion`); a folder named
    otherwise falls back to its modification time.
    """
    try:
        stamp = datetime.strptime(version_dir.name[:15], "%Y%m%dT%H%M%S")
    except ValueError:
        return datetime.fromtimestamp(int(version_dir.stat().st_mtime), tz=UTC)
    return stamp.replace(tzinfo=UTC)


def current_version(store_dir: Path) -> str | None:
    """The published version's name (changes on every successful build)."""
    target = current_version_dir(store_dir)
    return target.name if target else None


def exists(store_dir: Path) -> bool:
    return current_version_dir(store_dir) is not None


def open_read_only(store_dir: Path, memory_quads: int = 0, link: str | None = None) -> ox.Store:
    """Open the published version (or the one `link` names) for reading, in memory if small.

    A version of at most `memory_quads` quads (0: none) is read once into an in-memory store:
    queries over it run several times faster than over RocksDB's files (bench/RESULTS.md,
    session 7), at about 0.4 KB of memory per quad in each reading process. Nothing writes to
    the copy; a new version is a new copy. `link`, the `current` link as read earlier, pins the
    version, so a caller that names it knows which version it opened even if a build publishes
    another meanwhile.
    """
    target = current_version_dir(store_dir, link)
    if target is None:
        raise StoreError(f"no built store at {store_dir}: run `medkg build` first")
    try:
        db = ox.Store.read_only(str(target / DB))
    except OSError as exc:
        raise StoreError(f"cannot open the store at {target}: {exc}") from None
    if memory_quads <= 0:
        return db
    count, told = _quad_count(target, db, memory_quads)
    if count > memory_quads:
        log.info("store version %s: %s quads, over the memory limit of %d: read from disk",
                 target.name, told, memory_quads)
        return db
    started = time.perf_counter()
    copy = copy_into_memory(db)
    log.info("store version %s: %s quads copied into memory in %.2f s",
             target.name, told, time.perf_counter() - started)
    return copy


def copy_into_memory(db: ox.Store, chunk: int | None = None) -> ox.Store:
    """An in-memory store holding every quad of `db`, copied a chunk at a time.

    `bulk_extend` keeps the interpreter lock until its iterator ends: given the whole store at
    once, it stopped every other thread of a web worker for the whole copy (2.8 s at 10k
    synthetic datasets); chunks of COPY_CHUNK quads let them run in between.
    """
    size = chunk or COPY_CHUNK
    copy = ox.Store()
    quads = db.quads_for_pattern(None, None, None, None)
    while batch := list(itertools.islice(quads, size)):
        copy.bulk_extend(batch)
    return copy


def _quad_count(version_dir: Path, db: ox.Store, limit: int) -> tuple[int, str]:
    """The version's quads as recorded when it was published, else counted up to `limit` + 1.

    A SPARQL update does not record the count (a full scan took 3 of its 3.4 s at 1M datasets);
    whether a version fits in memory needs no more than `limit` + 1 quads read. The text says
    the count for the log ("more than N" when counting stopped).
    """
    recorded = version_facts(version_dir).get("quads")
    if isinstance(recorded, int):
        return recorded, str(recorded)
    # counted by the engine: reading the quads into Python took 2.9 s for 500k at 1M datasets,
    # the engine 0.14 s
    answer = db.query(COUNT_UP_TO.format(limit=limit + 1))
    counted = int(next(iter(answer))[0].value)
    return counted, f"more than {limit}" if counted > limit else str(counted)


def version_facts(version_dir: Path) -> dict[str, Any]:
    """The small facts of a version (FACT_KEYS) from its version.json: {} when unreadable.

    Versions published before version.json existed carry the same keys in report.json.
    """
    for name in (FACTS, REPORT):
        try:
            facts = json.loads((version_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not there, or not written by medkg: try the next, else count
        if isinstance(facts, dict):
            return {key: facts[key] for key in FACT_KEYS if key in facts}
    return {}


def read_report(store_dir: Path) -> dict[str, Any] | None:
    """The published version's build report, with the version's own facts (quads, ...) on top.

    After a SPARQL Update or Graph Store write the report is the last build's, unchanged; the
    facts say what changed since: `updated_by_sparql`, and the new quad count when the write
    knew it (a Graph Store write does; a SPARQL update does not count, so the report's count,
    no longer true, is left out).
    """
    target = current_version_dir(store_dir)
    if target is None or not (target / REPORT).is_file():
        return None
    report = json.loads((target / REPORT).read_text(encoding="utf-8"))
    facts = version_facts(target)
    if facts.get("updated_by_sparql") and "quads" not in facts:
        report.pop("quads", None)
    return {**report, **facts}


class StagedVersion:
    """A version being built beside the published one; publish() swaps it in."""

    def __init__(
        self, store_dir: Path, wait: bool | float = False, from_published: bool = False
    ) -> None:
        """Stage a new version; `wait` for another writer to finish, else raise StoreBusy.

        `wait` True waits as long as it takes; a number of seconds waits at most that long.
        `from_published` starts the new version as a copy of the published one (empty when
        none is), for a change to it rather than a rebuild.
        """
        self.store_dir = store_dir
        versions = store_dir / VERSIONS
        versions.mkdir(parents=True, exist_ok=True)
        self._lock = _write_lock(store_dir, wait)
        _remove_abandoned(store_dir)  # safe under the lock: no other writer is alive
        now = time.time_ns()
        # sortable by time (nanoseconds break ties within a second), unique across machines
        second = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
        name = f"{second}.{now % 10**9:09d}-{uuid.uuid4().hex[:6]}"
        self.dir = versions / f".staging-{name}"
        self.name = name
        self.source: Path | None = None  # the published version this one starts as a copy of
        try:
            self.dir.mkdir()
            published = current_version_dir(store_dir) if from_published else None
            self.source = published
            if published is not None:
                _copy_database(published / DB, self.dir / DB)
                if (published / DOCS).is_dir():  # the ontology did not change with the data
                    shutil.copytree(published / DOCS, self.dir / DOCS)
            self.db = ox.Store(str(self.dir / DB))
        except BaseException:
            self.abandon()
            raise

    def load_quads(self, quads: Iterable[ox.Quad]) -> None:
        self.db.bulk_extend(quads)

    def load_nquads(self, data: bytes) -> None:
        self.db.bulk_load(data, format=ox.RdfFormat.N_QUADS)

    def publish(self, report: dict[str, Any], compact: bool = True) -> Path:
        """Flush, write the report and atomically point `current` at this version.

        `compact` rewrites the database into its most compact form first: worth it for a new
        build, not for a small change to a copy of the published version, where it would
        rewrite every file (2.4 s at 100k datasets) and RocksDB's own background compactions
        keep the files few.
        """
        self._close(compact)
        (self.dir / REPORT).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        final = self._swap_in({key: report[key] for key in FACT_KEYS if key in report})
        shutil.copyfile(final / REPORT, self.store_dir / REPORT)
        self._done()
        return final

    def publish_change(self, quads: int | None) -> Path:
        """Publish this copy of the published version after a change (SPARQL Update, Graph Store).

        The build report comes along unchanged, linked rather than rewritten: at 1M datasets
        it is 176 MB of listed rows, and reading and rewriting it took 5 of a write's 9 s.
        The change is told by the version's facts: `updated_by_sparql`, and `quads` unless
        None (not known without a full scan).
        """
        self._close(compact=False)
        if self.source is not None and (self.source / REPORT).is_file():
            try:
                os.link(self.source / REPORT, self.dir / REPORT)
            except OSError:  # a file system without hard links
                shutil.copyfile(self.source / REPORT, self.dir / REPORT)
        facts: dict[str, Any] = {"updated_by_sparql": True}
        if quads is not None:
            facts["quads"] = quads
        final = self._swap_in(facts)
        self._done()
        return final

    def _close(self, compact: bool) -> None:
        self.db.flush()
        if compact:
            self.db.optimize()
        del self.db

    def _swap_in(self, facts: dict[str, Any]) -> Path:
        """Write the version's facts, name its folder and point `current` at it (one rename)."""
        # written last, just before the link moves: _superseded_at reads its time
        (self.dir / FACTS).write_text(json.dumps(facts), encoding="utf-8")
        final = self.dir.parent / self.name
        os.rename(self.dir, final)
        tmp_link = self.store_dir / f".{CURRENT}.{self.name}"
        os.symlink(version_link(self.name), tmp_link)
        os.replace(tmp_link, self.store_dir / CURRENT)
        _fsync_dir(self.store_dir)
        return final

    def _done(self) -> None:
        _prune(self.store_dir)
        self._lock.close()

    def abandon(self) -> None:
        if hasattr(self, "db"):
            del self.db
        shutil.rmtree(self.dir, ignore_errors=True)
        self._lock.close()


def _copy_database(source: Path, target: Path) -> None:
    """Copy the published database at `source` to `target`: linked if possible, else reloaded.

    A RocksDB checkpoint hard-links the published files, not copying them (they are never
    changed once written), so it takes milliseconds at any size where a dump and reload took
    36 s at 100k datasets. RocksDB copies the files itself where links are unsupported (EXDEV,
    ENOTSUP), but fails where they are not permitted (EPERM: vfat, exFAT, some FUSE and SMB
    mounts); there the quads are loaded into a new database instead, as before checkpoints.
    """
    try:
        published = ox.Store.read_only(str(source))
    except OSError as exc:
        raise StoreError(f"cannot open the store at {source.parent}: {exc}") from None
    try:
        published.backup(str(target))
        return
    except OSError as exc:
        # RocksDB has removed its partial checkpoint
        log.warning("cannot link the files of %s (%s): copying its quads instead", source, exc)
    copy = ox.Store(str(target))
    copy.bulk_extend(published.quads_for_pattern(None, None, None, None))
    copy.flush()
    del copy  # closed, for the staged version to open


def _write_lock(store_dir: Path, wait: bool | float) -> Any:
    """The store's writer lock, held while the returned file stays open (see StagedVersion)."""
    lock = open(store_dir / WRITE_LOCK, "a+", encoding="utf-8")
    try:
        if wait is True:
            fcntl.flock(lock, fcntl.LOCK_EX)
        else:
            _lock_within(lock, float(wait))
    except BlockingIOError:
        lock.close()
        raise StoreBusy(
            f"another build or update is writing to {store_dir}; try again when it has finished"
        ) from None
    except BaseException:
        lock.close()
        raise
    return lock


def _lock_within(lock: Any, seconds: float) -> None:
    """Take `lock` within `seconds` (0: now), else raise BlockingIOError."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_POLL_SECONDS)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_abandoned(store_dir: Path) -> None:
    """Delete staging folders and stray links left by builds that died."""
    for stale in (store_dir / VERSIONS).glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for link in store_dir.glob(f".{CURRENT}.*"):
        link.unlink(missing_ok=True)


def _prune(store_dir: Path) -> None:
    """Remove old versions that no reader can still be using.

    Kept: the newest KEEP_VERSIONS, and every version whose successor was published less than
    PRUNE_AFTER_SECONDS ago (updates publish versions a fraction of a second apart).
    """
    current = current_version_dir(store_dir)
    versions = sorted(
        (p for p in (store_dir / VERSIONS).iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    now = time.time()
    for old, successor in zip(versions[:-KEEP_VERSIONS], versions[1:]):
        if current is not None and old.resolve() == current:
            continue
        if now - _superseded_at(successor) >= PRUNE_AFTER_SECONDS:
            shutil.rmtree(old, ignore_errors=True)


def _superseded_at(successor: Path) -> float:
    """When the version before `successor` stopped being current: when `successor` was published.

    Its facts file is written once, just before the `current` link moves to it (its report may
    be a link to an older version's); versions from before facts files have only the report.
    """
    for name in (FACTS, REPORT):
        try:
            return (successor / name).stat().st_mtime
        except OSError:
            continue
    return published_at(successor).timestamp()
