"""Queries whose cost is provably small, answered in the web process without the query pool.

The query pool (executor.py) exists because pyoxigraph cannot cancel a query: a query that may
run long goes to a child process that can be killed at its time limit. That safety costs a pipe
round trip and two serialisations per request, which dominates the cost of a look-up that the
engine answers in a fraction of a millisecond. So a query is answered here, in the request's own
thread, only when its work is bounded *before* it runs:

- it is a plain basic graph pattern (triple patterns with `.`, `;`, `,` and `a`), as SELECT,
  ASK or DESCRIBE of constant IRIs, with at most DISTINCT / LIMIT / OFFSET around it: no FILTER,
  OPTIONAL, UNION, GRAPH, SERVICE, paths, sub-queries, aggregates or ORDER BY;
- and either it is one triple pattern with no repeated variable, read lazily up to a LIMIT (or
  to the first match for ASK), so every row read is a row answered;
- or it is such a pattern with a constant subject or object and no LIMIT (a look-up): it runs
  here with ROW_BUDGET as its row cap, and an answer cut there goes to the pool instead;
- or every pattern has a constant subject or object, and the product of the patterns' match
  counts (each counted with an index look-up, up to a cap) stays under a budget. Any join order
  touches at most that product of rows, so the answer's cost is bounded by it.

A query of one triple pattern among these is read straight from the store's index, without the
engine (lookup.py). Anything else, and anything the reader (query_shape.py) does not
understand, goes to the pool as before.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from itertools import islice
from math import prod
from pathlib import Path

import pyoxigraph as ox

from medkg import store as medkg_store
from medkg.store import StoreError
from medkg_server import lookup
from medkg_server.executor import JobFailed
from medkg_server.query_shape import Pattern, Shape, Unsupported, Var, read_shape
from medkg_server.worker import Job, NotAcceptable, Outcome, StoreState, answer

ROW_BUDGET = 10_000  # rows a bounded query may touch in all (product of pattern counts)


def is_bounded(shape: Shape, store: ox.Store) -> bool:
    """True when evaluating the query touches at most ROW_BUDGET rows (see the module text)."""
    if shape.form == "DESCRIBE":
        return not shape.patterns and all(
            _count(store, (iri, Var("p"), Var("o"))) <= ROW_BUDGET for iri in shape.described
        )
    if not shape.patterns:
        return True
    if len(shape.patterns) == 1 and _streams(shape):
        return True
    counts = []
    for pattern in shape.patterns:
        if isinstance(pattern[0], Var) and isinstance(pattern[2], Var):
            return False  # no index look-up bounds it
        counts.append(_count(store, pattern))
        if prod(counts) > ROW_BUDGET:
            return False
    return True


def _streams(shape: Shape) -> bool:
    """One pattern, no repeated variable: each row read is a row answered, so a LIMIT bounds it."""
    if not shape.answers_as_read():
        return False
    if shape.form == "ASK":
        return True
    return shape.limit is not None and shape.limit + shape.offset <= ROW_BUDGET


def streams_to_budget(shape: Shape) -> bool:
    """A look-up by one pattern with no LIMIT: evaluated here with ROW_BUDGET as its row cap.

    One pattern with a constant subject or object and no repeated variable yields each row as
    it reads it, so stopping the answer after ROW_BUDGET rows stops the work there too. An
    answer that reaches the budget is incomplete and goes to the pool; one that does not is
    the whole answer, found without counting the pattern's matches first (that count was a
    third of the cost of proving a look-up cheap).
    """
    if shape.form != "SELECT" or len(shape.patterns) != 1 or shape.limit is not None:
        return False
    subject, _, obj = shape.patterns[0]
    if isinstance(subject, Var) and isinstance(obj, Var):
        return False  # likely a scan: is_bounded refuses it without reading
    return shape.answers_as_read() and shape.offset <= ROW_BUDGET


def _count(store: ox.Store, pattern: Pattern, cap: int = ROW_BUDGET) -> int:
    """Matches of one pattern in any graph, counted up to cap + 1."""
    s, p, o = (None if isinstance(t, Var) else t for t in pattern)
    if isinstance(s, ox.Literal) or isinstance(p, ox.Literal):
        return 0  # a literal never matches there (the query will answer nothing)
    return len(list(islice(store.quads_for_pattern(s, p, o, None), cap + 1)))


class InlineRunner:
    """Answers bounded queries in the calling thread from this process's own read-only store."""

    def __init__(self, store_dir: Path, memory_quads: int = 0) -> None:
        self.state = StoreState(store_dir, memory_quads)
        self._lock = threading.Lock()
        self._stand_in: tuple[str, ox.Store] | None = None
        self._stand_in_lock = threading.Lock()

    def store(self, version: str | None = None) -> ox.Store:
        """The open store (of `version` when given and already open: see StoreState.current)."""
        return self.opened(version)[1]

    def opened(self, version: str | None = None) -> tuple[str | None, ox.Store]:
        """The open store with the name of its version (see StoreState.opened).

        A version already open is returned without the lock: while another thread opens a new
        version, a request pinned to the open one goes on with it. A request for the version
        being opened does not wait either: copying it into memory takes 1.5 s at 10k
        datasets, so meanwhile it reads that version from its files (`is_stand_in`).
        """
        found = self.state.already_open(version)
        if found is not None:
            return version, found
        if version is not None and not self._lock.acquire(blocking=False):
            return version, self._stand_in_for(version)
        if version is None:
            self._lock.acquire()
        try:  # one reopen when a new version is published, not one per thread
            opened = self.state.opened(version)
        finally:
            self._lock.release()
        with self._stand_in_lock:
            self._stand_in = None  # the version is open: what stood in for it can go
        return opened

    def is_stand_in(self, store: ox.Store) -> bool:
        """True when `store` was read from its files while its version was being opened."""
        held = self._stand_in
        return held is not None and held[1] is store

    def _stand_in_for(self, version: str) -> ox.Store:
        """`version` read from its own files, opened once while another thread opens it."""
        with self._stand_in_lock:
            held = self._stand_in
            if held is None or held[0] != version:
                link = medkg_store.version_link(version)
                held = self._stand_in = (
                    version, medkg_store.open_read_only(self.state.store_dir, 0, link)
                )
            return held[1]

    def answer(self, job: Job, version: str | None = None) -> Outcome | None:
        """The answer of `job` when it is provably cheap, evaluated here; None: ask the pool."""
        plan = self._plan(job, version)
        if plan is None:
            return None
        cap, shape = plan
        outcome = None
        if lookup.answers(shape):
            outcome = self._look_up(shape, job, cap, version)
        if outcome is None:
            outcome = self.run(job if cap >= job.row_cap else replace(job, row_cap=cap), version)
        if outcome.truncated and cap < job.row_cap:
            return None  # cut short at the budget: the pool answers it whole
        return outcome

    def accepts(self, job: Job, version: str | None = None) -> bool:
        """True when `job` may run here: a bounded query over the default (union) dataset."""
        return self._plan(job, version) is not None

    def _plan(self, job: Job, version: str | None) -> tuple[int, Shape] | None:
        """The row cap `job` may run here with and its shape as read, or None if not here.

        The cap is the job's own, or ROW_BUDGET for a look-up (see `streams_to_budget`).
        """
        if job.operation != "query" or not job.union_default_graph:
            return None
        if job.default_graphs is not None or job.named_graphs is not None:
            return None
        try:
            store = self.store(version)
        except StoreError:
            return None  # the pool reports it in its own words
        try:
            shape = read_shape(job.text)
        except Unsupported:
            return None
        if streams_to_budget(shape):
            return min(job.row_cap, ROW_BUDGET), shape
        return (job.row_cap, shape) if is_bounded(shape, store) else None

    def _look_up(self, shape: Shape, job: Job, cap: int, version: str | None) -> Outcome | None:
        """A one-pattern SELECT read from the index (lookup.py); None when it needs the engine."""
        try:
            name, store = self.opened(version)
            return lookup.answer(store, shape, job, cap, name)
        except NotAcceptable as exc:
            raise JobFailed("not_acceptable", str(exc)) from None
        except (StoreError, lookup.Unwritable):
            return None  # the engine answers it, or reports the store's error in its words

    def run(self, job: Job, version: str | None = None) -> Outcome:
        """Evaluate `job` (just `accepts`-ed); engine errors become JobFailed as from the pool."""
        status, payload = answer(self.state, job, "inline", version, self.opened)
        if status != "ok":
            raise JobFailed(status, str(payload))
        assert isinstance(payload, Outcome)
        return payload
