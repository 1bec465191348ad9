"""The query child process: opens the store read-only, runs one job at a time, serialises answers.

It runs in its own process so that the parent can kill it when a query overruns its time limit
(pyoxigraph cannot cancel a query). It never imports Flask. The parent sends a `Job` over a pipe
and gets back `("ok", Outcome)` or `(error kind, message)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pyoxigraph as ox

from medkg import store as medkg_store
from medkg.query import RESULT_FORMATS

RDF_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "trig": ox.RdfFormat.TRIG,
    "nquads": ox.RdfFormat.N_QUADS,
}
QUAD_ONLY = {"trig", "nquads"}
PARENT_CHECK_SECONDS = 1.0
READY = ("ready", None)
# Query processes yield the CPU to the web processes: on a busy machine a look-up answered inline
# (or a cached answer) should not wait behind a long aggregate. Throughput of the long queries is
# unchanged when nothing else wants the CPU.
QUERY_NICENESS = 5
SELECT_FORMATS = "a SELECT query answers in SPARQL JSON, XML, CSV or TSV"


@dataclass(frozen=True)
class Job:
    """One query or update, with everything the child needs to answer it."""

    text: str
    operation: str  # "query" or "update"
    tabular_format: str | None
    graph_format: str | None
    row_cap: int
    base_iri: str | None = None
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    prefixes: tuple[tuple[str, str], ...] = ()  # for Turtle/TriG/RDF-XML output only
    union_default_graph: bool = True  # False when the query has its own FROM / FROM NAMED
    # an update: how long to wait for another writer (a `medkg build`) before answering busy
    lock_wait: float | None = None
    # a Graph Store write: the graph it writes (an IRI without brackets), so that whether the
    # graph existed is read under the writer lock (see run_update); None for SPARQL updates
    target_graph: str | None = None
    graph_must_exist: bool = False  # a DELETE: publish nothing when the graph is not there

    def __hash__(self) -> int:
        # A job is the key of the answer cache and of in-flight queries: hashed several times
        # per request, so the hash of its fields is computed once.
        try:
            return self.__dict__["_hash"]
        except KeyError:
            value = hash(tuple(self.__dict__[f] for f in _JOB_FIELDS))
            self.__dict__["_hash"] = value
            return value

    def __getstate__(self) -> dict[str, object]:
        # string hashes differ between processes: a query process computes its own
        return {f: self.__dict__[f] for f in _JOB_FIELDS}


_JOB_FIELDS = tuple(f.name for f in fields(Job))
BUSY = "another build or update is writing the store; ask again when it has finished"


def update_job(
    text: str,
    base_iri: str,
    timeout: float,
    target_graph: str | None = None,
    graph_must_exist: bool = False,
) -> Job:
    """An update that waits for another writer at most half its time limit.

    A build holds the store's writer lock for as long as it runs; an update that waited all
    its time limit for it would be killed and answered "ran longer than its time limit", which
    is not what happened. The other half is left for the update itself.
    """
    return Job(text, "update", None, None, 0, base_iri=base_iri, lock_wait=timeout / 2,
               target_graph=target_graph, graph_must_exist=graph_must_exist)


@dataclass(frozen=True)
class Outcome:
    """A finished job: the answer's form ("solutions", "boolean", "graph", "update") and bytes."""

    form: str
    body: bytes
    format_key: str | None
    rows: int = 0
    truncated: bool = False
    version: str | None = None
    engine: str = "pool"  # where it was evaluated: "pool" (a query process) or "inline"
    # an update with a target graph: whether that graph was in the store just before it ran
    # (None otherwise). False for a job whose graph must exist means nothing was published
    # (version None).
    graph_existed: bool | None = None


class NotAcceptable(Exception):
    """The query's form has no format the client accepts."""


def child_main(conn: Connection, store_dir: str, parent_pid: int, memory_quads: int = 0) -> None:
    """Serve jobs from `conn` until the pipe closes or the parent process is gone."""
    os.nice(QUERY_NICENESS)
    state = StoreState(Path(store_dir), memory_quads)
    conn.send(READY)  # imports done: the pool may hand this process a job now
    try:
        state.current()  # open (or copy into memory) while idle, not when the first job waits
    except medkg_store.StoreError:
        pass  # nothing published yet: the first job reports it
    while True:
        if not conn.poll(PARENT_CHECK_SECONDS):
            if not _alive(parent_pid):
                return
            continue
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(answer(state, job))


def _alive(pid: int) -> bool:
    """True while process `pid` exists (the pool's owner: a fork server is the parent of record)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def answer(
    state: StoreState,
    job: Job,
    engine: str = "pool",
    version: str | None = None,
    opened: Callable[[str | None], tuple[str | None, ox.Store]] | None = None,
) -> tuple[str, object]:
    """Run one job against the state's store: ("ok", Outcome) or (error kind, message).

    `version`, when the caller has just read the published version, picks the store by it;
    `opened` opens it in the caller's way (default: `state.opened`).
    """
    try:
        if job.operation == "update":
            return "ok", run_update(state.store_dir, job)
        name, db = (opened or state.opened)(version)
        return "ok", run_query(db, job, name, engine)
    except SyntaxError as exc:
        return "syntax", str(exc)
    except NotAcceptable as exc:
        return "not_acceptable", str(exc)
    except medkg_store.StoreBusy:
        return "busy", BUSY  # its own message names the store's folder, not the client's business
    except medkg_store.StoreError as exc:
        return "store", str(exc)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        # pyoxigraph raises OSError for evaluation failures (e.g. SERVICE) and ValueError for
        # bad arguments; the message is the engine's own, never a stack trace.
        return "evaluation", str(exc)


class StoreState:
    """The open read-only store, reopened when a new version is published.

    A version of at most `memory_quads` quads is read from a copy in memory (see
    `medkg.store.open_read_only`).
    """

    def __init__(self, store_dir: Path, memory_quads: int = 0) -> None:
        self.store_dir = store_dir
        self.memory_quads = memory_quads
        self._link_path = link_path(store_dir)
        # (link, version name, store) in one tuple, so a thread never sees a version paired
        # with another version's store while a reopen is under way
        self._opened: tuple[str | None, str | None, ox.Store] | None = None

    @property
    def version(self) -> str | None:
        opened = self._opened
        return opened[1] if opened else None

    def already_open(self, version: str | None) -> ox.Store | None:
        """The store of `version` if it is the one open now (reads no link, opens nothing)."""
        opened = self._opened
        if opened is not None and version is not None and version == opened[1]:
            return opened[2]
        return None

    def current(self, version: str | None = None) -> ox.Store:
        """The store of the published version, reopened when a build has published another."""
        return self.opened(version)[1]

    def opened(self, version: str | None = None) -> tuple[str | None, ox.Store]:
        """The published version's name and its open store.

        A caller that has just read the published version passes its name: when that is the
        store already open, the link is not read again (a system call per look-up saved).
        """
        found = self.already_open(version)
        if found is not None:
            return version, found
        opened = self._opened
        # One readlink per job: a build publishes by replacing the link, never the folder.
        link = published_link(self._link_path)
        if opened is None or link != opened[0]:
            # the version the link names, not whatever is published once the (maybe slow) open
            # is done: a store and its version name always belong together
            store = medkg_store.open_read_only(self.store_dir, self.memory_quads, link)
            folder = medkg_store.current_version_dir(self.store_dir, link)
            opened = self._opened = (link, folder.name if folder else None, store)
        return opened[1], opened[2]


def link_path(store_dir: Path) -> str:
    """The path of the store's `current` link, as a string for `published_link`."""
    return os.fspath(store_dir / medkg_store.CURRENT)


def published_link(link: str) -> str | None:
    """Where the store's `current` link (see `link_path`) points.

    It changes exactly when a version is published. Read several times per request, so the
    path is built once by the caller (building it each time cost a tenth of a light request).
    """
    try:
        return os.readlink(link)
    except OSError:
        return None


def _graphs(names: tuple[str, ...] | None) -> list[ox.NamedNode] | None:
    return None if names is None else [ox.NamedNode(n) for n in names]


def run_query(
    db: ox.Store, job: Job, version: str | None = None, engine: str = "pool"
) -> Outcome:
    """Evaluate a query and serialise at most `job.row_cap` rows or triples."""
    kwargs: dict[str, object] = {"base_iri": job.base_iri}
    if job.default_graphs is None and job.named_graphs is None:
        kwargs["use_default_graph_as_union"] = job.union_default_graph
    else:
        # Protocol dataset parameters replace FROM / FROM NAMED (SPARQL 1.1 Protocol 2.1.4).
        # A missing half means "no graphs" there, except that an empty default graph stays empty.
        kwargs["default_graph"] = _graphs(job.default_graphs) or []
        kwargs["named_graphs"] = _graphs(job.named_graphs) or []
    result = db.query(job.text, **kwargs)
    if isinstance(result, ox.QueryBoolean):
        return _boolean(result, job, version, engine)
    if isinstance(result, ox.QuerySolutions):
        return _solutions(result, job, version, engine)
    return _triples(result, job, version, engine)


def _boolean(result: ox.QueryBoolean, job: Job, version: str | None, engine: str) -> Outcome:
    if job.tabular_format is None:
        raise NotAcceptable("an ASK query answers in SPARQL JSON, XML, CSV or TSV")
    body = result.serialize(format=RESULT_FORMATS[job.tabular_format])
    return Outcome("boolean", body, job.tabular_format, 1, False, version, engine)


def _solutions(
    result: ox.QuerySolutions, job: Job, version: str | None, engine: str
) -> Outcome:
    """Rows pass through TSV (one row per line) so the capped rows can be re-serialised."""
    if job.tabular_format is None:
        raise NotAcceptable(SELECT_FORMATS)
    sink = CappedLines(job.row_cap + 1)  # the header line, then the rows
    tsv, lines, truncated = sink.fill(
        lambda out: result.serialize(out, format=ox.QueryResultsFormat.TSV)
    )
    if job.tabular_format == "tsv":
        body = tsv
    else:
        capped = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
        body = capped.serialize(format=RESULT_FORMATS[job.tabular_format])
    rows = max(lines - 1, 0)
    return Outcome("solutions", body, job.tabular_format, rows, truncated, version, engine)


def _triples(result: ox.QueryTriples, job: Job, version: str | None, engine: str) -> Outcome:
    """Triples pass through N-Triples (one per line), capped, then into the wanted format."""
    if job.graph_format is None:
        raise NotAcceptable("a CONSTRUCT or DESCRIBE query answers in an RDF format")
    sink = CappedLines(job.row_cap)
    ntriples, count, truncated = sink.fill(
        lambda out: result.serialize(out, format=ox.RdfFormat.N_TRIPLES)
    )
    if job.graph_format == "ntriples":
        body = ntriples
    else:
        triples = list(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES))
        body = graph_body(triples, job.graph_format, dict(job.prefixes))
    return Outcome("graph", body, job.graph_format, count, truncated, version, engine)


def _quads_after(
    staged: medkg_store.StagedVersion, graph: str | None, before: int | None
) -> int | None:
    """The changed version's quad count, when it is known without counting every quad.

    A Graph Store write changes one graph only: the published count, less that graph's quads
    before, plus its quads now. A SPARQL update may change any graph: None, since a full scan
    was 3 of its 3.4 s at 1M datasets, and readers only ask whether a version fits in memory.
    """
    published = medkg_store.version_facts(staged.source).get("quads") if staged.source else None
    if graph is None or before is None or not isinstance(published, int):
        return None
    return published - before + _graph_size(staged.db, graph)


def _graph_size(db: ox.Store, graph: str) -> int:
    return sum(1 for _ in db.quads_for_pattern(None, None, None, ox.NamedNode(graph)))


def graph_body(triples: list[ox.Triple], format_key: str, prefixes: dict[str, str]) -> bytes:
    """A CONSTRUCT or DESCRIBE answer in an RDF format (for TriG and N-Quads, the default graph)."""
    items: list[ox.Triple] | list[ox.Quad] = triples
    if format_key in QUAD_ONLY:
        items = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples]
    return serialize_rdf(items, format_key, prefixes)


class _Full(Exception):
    """Raised inside the engine's serialiser to stop it once the cap is reached."""


class CappedLines:
    """A file-like sink that keeps the first `cap` lines the engine writes and stops it there.

    The engine serialises in native code, far faster than building Python terms row by row;
    raising from `write` ends the evaluation as soon as the answer is known to be truncated.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.lines = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.lines += data.count(b"\n")
        if self.lines > self.cap:
            raise _Full
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the parts are joined at the end."""

    def fill(self, serialize: Callable[[CappedLines], None]) -> tuple[bytes, int, bool]:
        """Run `serialize` into this sink: (the first `cap` lines, how many, whether cut)."""
        try:
            serialize(self)
        except _Full:
            pass
        data = b"".join(self.parts)
        if self.lines <= self.cap:
            return data, self.lines, False
        end = -1
        for _ in range(self.cap):
            end = data.index(b"\n", end + 1)
        return data[: end + 1], self.cap, True


def serialize_rdf(items: list, format_key: str, prefixes: dict[str, str] | None = None) -> bytes:
    """Serialise triples or quads; prefixes only for the formats that use them."""
    fmt = RDF_FORMATS[format_key]
    if format_key in ("turtle", "trig", "rdfxml") and prefixes:
        return ox.serialize(items, format=fmt, prefixes=prefixes)
    return ox.serialize(items, format=fmt)


def run_update(store_dir: Path, job: Job) -> Outcome:
    """Apply an update by publishing a new store version: copy, update the copy, swap it in.

    The published store is opened read-only by every reader, so an update never writes to it in
    place; a file lock serialises concurrent updates so none is lost.
    """
    store_dir.mkdir(parents=True, exist_ok=True)
    # waits for the store's writer lock (at most job.lock_wait): concurrent updates (and a
    # build) follow one another
    staged = medkg_store.StagedVersion(
        store_dir, wait=True if job.lock_wait is None else job.lock_wait, from_published=True
    )
    try:
        # Read under the lock, from the copy of the latest version: of two writers that race
        # to create (or drop) one graph, only the first finds it absent (or present).
        existed: bool | None = None
        before: int | None = None
        if job.target_graph is not None:
            existed = staged.db.contains_named_graph(ox.NamedNode(job.target_graph))
            before = _graph_size(staged.db, job.target_graph)
        if existed is False and job.graph_must_exist:
            staged.abandon()  # the published version stays
            return Outcome("update", b"", None, graph_existed=False)
        staged.db.update(job.text, base_iri=job.base_iri)
        # readers decide from the count, when known, whether to copy the version into memory
        final = staged.publish_change(quads=_quads_after(staged, job.target_graph, before))
    except BaseException:
        staged.abandon()
        raise
    return Outcome("update", b"", None, version=final.name, graph_existed=existed)
