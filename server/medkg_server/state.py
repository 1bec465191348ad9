"""The per-process server state: settings, the query pool, the answer cache, the store version."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import pyoxigraph as ox
from flask import current_app, has_request_context, request

from medkg import store as medkg_store
from medkg.namespaces import Namespaces
from medkg_server.cache import LRUCache, VersionMemo
from medkg_server.executor import Executor, ExecutorError, QueryTimeout
from medkg_server.fastpath import PUBLISHED
from medkg_server.inline import InlineRunner
from medkg_server.settings import ServerSettings
from medkg_server.worker import Job, Outcome, link_path, published_link

EXTENSION = "medkg"
T = TypeVar("T")
FEDERATED = re.compile(r"\bSERVICE\b", re.IGNORECASE)


@dataclass(frozen=True)
class StoreVersion:
    """The published store version and when it was published (for ETag / Last-Modified)."""

    name: str
    published: datetime


@dataclass(frozen=True)
class Derived(Generic[T]):
    """A value derived from a store version, and the version it was derived from.

    `stale`: not the version asked for, whose value is still being computed (see
    `ServerState.derived`); an answer built on it must not be kept as that version's.
    """

    value: T
    version: str
    stale: bool


# How long a page waits for the first value of its kind a process computes (see `Preparing`).
FIRST_WAIT_SECONDS = 10.0


class Preparing(Exception):
    """A version's derived value is still being computed and no older one can answer for it.

    The first version a process serves at a million datasets takes minutes to index; a page
    answers 503 with Retry-After rather than hold the client that long.
    """

    def __init__(self, kind: str, version: str, seconds: float) -> None:
        super().__init__(
            f"the {kind} of store version {version} is being prepared ({seconds:.0f} s so "
            "far); ask again shortly"
        )
        self.kind = kind
        self.version = version
        self.seconds = seconds


@dataclass
class ServerState:
    """What every request handler of one process shares."""

    settings: ServerSettings
    executor: Executor
    inline: InlineRunner
    cache: LRUCache[Outcome]
    ns: Namespaces
    memo: VersionMemo = field(default_factory=VersionMemo)
    _jobs: dict[Any, Future[Any]] = field(default_factory=dict)
    _since: dict[Any, float] = field(default_factory=dict)  # when each of _jobs started
    # set when a write made here published a version (serving._keep_warm waits on it)
    written: threading.Event = field(default_factory=threading.Event)
    _flights: dict[Any, _Flight] = field(default_factory=dict)
    _versions: dict[str, StoreVersion] = field(default_factory=dict)
    _flights_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._link_path = link_path(Path(self.settings.store))

    @classmethod
    def create(cls, settings: ServerSettings) -> ServerState:
        return cls(
            settings=settings,
            executor=Executor(settings.store, settings.executors, settings.memory_quads),
            inline=InlineRunner(settings.store, settings.memory_quads),
            cache=LRUCache(settings.cache_entries, settings.cache_max_bytes),
            ns=Namespaces(settings.base),
        )

    def version(self, link: str | None = None) -> StoreVersion | None:
        """The version now published, or None when the store has never been built.

        `link` is where the `current` link pointed when the request came in, if already read;
        inside a request, the fast path's reading of it is used (fastpath.PUBLISHED), so the
        answer comes from the version its cache key names, and the link is read once.
        """
        if link is None and has_request_context():
            link = request.environ.get(PUBLISHED)
        link = link or published_link(self._link_path)
        known = self._versions.get(link) if link else None
        if known is not None:
            return known
        target = medkg_store.current_version_dir(Path(self.settings.store), link)
        if target is None:
            return None
        found = StoreVersion(target.name, medkg_store.published_at(target))
        if link:
            self._versions[link] = found  # version folders are never reused under a new build
        return found

    def version_store(self, version: str) -> tuple[Path, ox.Store]:
        """The folder and open store of `version`, published or replaced (while it is kept)."""
        store_dir = Path(self.settings.store)
        link = medkg_store.version_link(version)
        folder = medkg_store.current_version_dir(store_dir, link)
        if folder is None:
            raise medkg_store.StoreError(f"store version {version} is no longer kept")
        name, store = self.inline.opened(version)
        if name != version:  # published over meanwhile: read that version from its own files
            store = medkg_store.open_read_only(store_dir, 0, link)
        return folder, store

    def derived(
        self,
        version: str,
        kind: str,
        compute: Callable[[], T],
        wait: float | None = None,
        settles: bool = False,
        first_wait: float | None = None,
    ) -> Derived[T]:
        """What `compute` derives from `version` (an index, statistics): once per version.

        Computed in a thread of its own, once however many requests ask meanwhile, and kept
        while `version` is the published one. With `wait`, a request waits that long at most
        and then gets the newest value another version gave, if any (`Derived.stale`): a
        new version's figures take minutes at a million datasets. With no such value, it waits
        for the computation, at most `first_wait` seconds if given, then raises `Preparing`.
        A value that `settles` lets every other version's values go once kept (the largest,
        kept last, should).
        """
        found = self.memo.get(version, kind)
        if found is not None:
            return Derived(found, version, False)

        def keep() -> T:
            value = compute()
            published = self.version()  # in this thread, no request: as the link says now
            if published is not None and published.name == version:
                self.memo.put(version, kind, value)
                if settles:
                    self.memo.settle(version)
            return value

        future = self.started((kind, version), keep)
        older = None if wait is None else self.memo.newest(kind, other_than=version)
        if older is None:
            try:
                return Derived(future.result(timeout=first_wait), version, False)
            except FutureTimeout:
                raise Preparing(kind, version, self._running_for((kind, version))) from None
        try:
            return Derived(future.result(timeout=wait), version, False)
        except FutureTimeout:
            return Derived(older[1], older[0], True)

    def _running_for(self, key: Hashable) -> float:
        """Seconds since the computation of `key` started (0 once it is over)."""
        with self._flights_lock:
            since = self._since.get(key)
        return 0.0 if since is None else time.monotonic() - since

    def started(self, key: Hashable, compute: Callable[[], T]) -> Future[T]:
        """The computation of `key` under way in this process, or a new one started in a thread.

        For what takes seconds to minutes once per version (the facet index at a million
        datasets): requests that need it wait on the one future, or go on without it.
        """
        with self._flights_lock:
            future = self._jobs.get(key)
            if future is not None:
                return future
            future = self._jobs[key] = Future()
            self._since[key] = time.monotonic()

        def work() -> None:
            try:
                future.set_result(compute())
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
            finally:
                with self._flights_lock:
                    self._jobs.pop(key, None)
                    self._since.pop(key, None)

        threading.Thread(target=work, daemon=True, name=f"medkg-{key[0]}").start()
        return future

    def run(self, job: Job, version: str, timeout: float | None = None) -> Outcome:
        """Run a query job through the cache, then here or in the pool; updates bypass the cache.

        A query whose cost is bounded runs in this thread (inline.py) and is not kept: the fast
        path keeps a GET's whole answer (fastpath.py), and keeping it here too cost as much as
        evaluating it again. Other identical queries that arrive while one is in the pool wait
        for that one's answer instead of running again (the first comers of a popular question
        all miss the cache).
        """
        limit = timeout or self.settings.query_timeout
        if job.operation == "update":
            outcome = self.executor.run(job, limit)
            self.written.set()  # this process's warm-up prepares the new version at once
            return outcome
        if is_federated(job.text):
            # federated answers depend on data we do not version
            return self.executor.run(job, limit)
        key = (version, job)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        # cheap by construction: evaluating it again costs less than waiting on a flight
        outcome = self.inline.answer(job, version)
        if outcome is not None:
            return outcome
        with self._flights_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        assert flight is not None
        if not leader:
            return flight.wait(limit)
        try:
            outcome = self.executor.run(job, limit)
        except ExecutorError as exc:
            flight.fail(exc)
            raise
        finally:
            with self._flights_lock:
                self._flights.pop(key, None)
        self.cache.put(key, outcome, len(outcome.body))
        flight.succeed(outcome)
        return outcome


def is_federated(text: str) -> bool:
    """True when a query may call out with SERVICE (conservative: the word anywhere counts)."""
    # The engine's keywords are ASCII: a plain substring test spares most queries the regex.
    return "service" in text.lower() and FEDERATED.search(text) is not None


class _Flight:
    """One evaluation in progress that other requests for the same query can wait on."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._outcome: Outcome | None = None
        self._error: ExecutorError | None = None

    def succeed(self, outcome: Outcome) -> None:
        self._outcome = outcome
        self._done.set()

    def fail(self, error: ExecutorError) -> None:
        self._error = error
        self._done.set()

    def wait(self, timeout: float) -> Outcome:
        if not self._done.wait(timeout):
            raise QueryTimeout(f"the query ran longer than its time limit of {timeout:g} s")
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome


def state() -> ServerState:
    """The state of the running application."""
    return current_app.extensions[EXTENSION]
