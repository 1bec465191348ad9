"""A small pool of killable query processes, so every query has a time limit that holds.

pyoxigraph has no cancellation: a query runs until it is done. Each pool member is a child
process (see worker.py) that opens the store read-only. The parent hands a job to an idle child
and waits at most the time limit; past it, the child is killed, a fresh one is started in the
background, and the caller gets `QueryTimeout`. Other children keep serving meanwhile.

When every child is busy (slow queries), the pool grows by up to `size` extra children, so a
slow query does not make a quick one wait. A new child joins the pool only once it says it is
ready: the waiting request takes whichever child frees first, never waits on a cold start. Idle
children are reused last-in first-out, so the busiest stay warm (their store caches filled) and
the spare ones sink to the bottom; a spare child stops once it has sat idle for IDLE_SECONDS
(checked when a job ends, and by a timer, so a server that goes quiet gives back the memory).
Stopping a spare as soon as it is free made the pool shrink and grow again between the bursts of
steady load, and every new child starts with cold caches.

Children are forked from a fork server ("forkserver" start method), a small process started once
that has imported the worker module and nothing else: forking the web process itself, which
holds RocksDB handles and the HTTP server's threads, would be unsafe, and starting each child
from a fresh interpreter ("spawn") costs about half a second of CPU, which a pool that grows
under load pays again and again. A forked child is ready in about 10 ms, then opens the store
while it waits for its first job (copying a small store into memory: MEDKG_MEMORY_QUADS). Each
child also exits by itself when its parent is gone.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from medkg_server.worker import READY, Job, Outcome, child_main

log = logging.getLogger("medkg_server.executor")
JOIN_SECONDS = 2.0
START_SECONDS = 60.0  # longest a new child may take to import and open the store
GRACE_SECONDS = 0.05  # how long to wait for an idle child before starting an extra one
IDLE_SECONDS = 30.0  # how long a child beyond the pool's size may sit idle before it stops


class ExecutorError(Exception):
    """A job could not be run to completion; the message is safe to show a client."""


class QueryTimeout(ExecutorError):
    """The job overran its time limit and its process was killed."""


class ExecutorBusy(ExecutorError):
    """No query process became free within the time limit."""


class JobFailed(ExecutorError):
    """The engine refused or failed the job; `kind` says how (syntax, evaluation, store, ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class _Child:
    process: BaseProcess
    conn: Connection
    idle_since: float = 0.0


class _IdleStack:
    """Idle children, most recently used on top; the longest idle at the bottom."""

    def __init__(self) -> None:
        self._children: list[_Child] = []
        self._ready = threading.Condition()

    def put(self, child: _Child) -> None:
        child.idle_since = time.monotonic()
        with self._ready:
            self._children.append(child)
            self._ready.notify()

    def get(self, timeout: float) -> _Child | None:
        """The most recently idle child, waiting up to `timeout` seconds for one; else None."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._children, timeout):
                return None
            return self._children.pop()

    def take_stale(self, older_than: float, at_most: int) -> list[_Child]:
        """Remove up to `at_most` children idle since before `older_than` (longest idle first)."""
        with self._ready:
            stale = []
            while len(stale) < at_most and self._children:
                if self._children[0].idle_since >= older_than:
                    break
                stale.append(self._children.pop(0))
            return stale

    def take_all(self) -> list[_Child]:
        with self._ready:
            children, self._children = self._children, []
            return children

    def __len__(self) -> int:
        return len(self._children)


class Executor:
    """A fixed number of query processes for one store, shared by the threads of one process."""

    def __init__(self, store_dir: Path, size: int, memory_quads: int = 0) -> None:
        self.store_dir = store_dir
        self.size = size
        self.memory_quads = memory_quads
        self._idle = _IdleStack()
        self._context = _start_context()
        self._started = False
        self._start_lock = threading.Lock()
        self._owner_pid = 0
        self._count_lock = threading.Lock()
        self._total = 0
        self._closed = threading.Event()

    def start(self) -> None:
        """Start the children (once per process; a forked copy starts its own)."""
        with self._start_lock:
            if self._started and self._owner_pid == os.getpid():
                return
            self._idle = _IdleStack()
            children = [self._spawn() for _ in range(self.size)]
            for child in children:
                if self._await_ready(child):
                    self._idle.put(child)
                else:
                    threading.Thread(target=self._add_child, daemon=True).start()
            self._total = self.size
            self._started, self._owner_pid = True, os.getpid()
            self._closed.clear()
            threading.Thread(target=self._reap_while_open, daemon=True,
                             name="medkg-pool-reaper").start()

    def run(self, job: Job, timeout: float) -> Outcome:
        """Run `job` in a child, waiting at most `timeout` seconds in all."""
        self.start()
        deadline = time.monotonic() + timeout
        child = self._acquire(timeout)
        answered = False
        try:
            child.conn.send(job)
            if not child.conn.poll(max(deadline - time.monotonic(), 0.0)):
                raise QueryTimeout(f"the query ran longer than its time limit of {timeout:g} s")
            status, payload = child.conn.recv()
            answered = True
        except (EOFError, OSError, BrokenPipeError):
            raise ExecutorError("the query process stopped unexpectedly; try again") from None
        finally:
            # Only a child whose answer was read goes back: one left with a job under way (a
            # time limit, or any error after the send) would hand that job's answer to the
            # next caller.
            if answered:
                self._release(child)
            else:
                self._replace(child)
        if status != "ok":
            raise JobFailed(status, str(payload))
        assert isinstance(payload, Outcome)
        return payload

    def close(self) -> None:
        """Stop every idle child (busy ones are stopped by their own callers or exit alone)."""
        self._closed.set()
        for child in self._idle.take_all():
            _kill(child)

    def _acquire(self, timeout: float) -> _Child:
        """An idle child, or the first to become ready; when none is left idle, a spare starts
        in the background (under the ceiling) so the next request need not wait for one."""
        child = self._idle.get(min(GRACE_SECONDS, timeout))
        if child is None or not self._idle:
            self._grow()
        if child is None:
            child = self._idle.get(timeout)
        if child is None:
            raise ExecutorBusy(
                f"all query processes stayed busy for {timeout:g} s; try again later"
            )
        return child

    def _grow(self) -> None:
        """Start one more child in the background, unless the pool is at twice its size."""
        with self._count_lock:
            if self._total >= 2 * self.size:
                return
            self._total += 1
        threading.Thread(target=self._add_child, daemon=True).start()

    def _release(self, child: _Child) -> None:
        """Return a child to the pool, and stop spares that have sat idle for IDLE_SECONDS."""
        self._idle.put(child)
        self._reap()

    def _reap_while_open(self) -> None:
        """Stop idle spares every half IDLE_SECONDS until the pool closes."""
        while not self._closed.wait(IDLE_SECONDS / 2):
            self._reap()

    def _reap(self) -> None:
        """Stop the spares (children beyond the pool's size) idle for IDLE_SECONDS or more."""
        with self._count_lock:
            spares = self._total - self.size
            stale = self._idle.take_stale(time.monotonic() - IDLE_SECONDS, spares)
            self._total -= len(stale)
        for old in stale:
            _kill(old)

    def _spawn(self) -> _Child:
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=child_main,
            args=(child_conn, str(self.store_dir), os.getpid(), self.memory_quads),
            daemon=True,
            name="medkg-query",
        )
        process.start()
        child_conn.close()
        return _Child(process, parent_conn)

    def _await_ready(self, child: _Child) -> bool:
        """Wait for a new child's ready message; False (and the child killed) if none came."""
        try:
            if child.conn.poll(START_SECONDS) and child.conn.recv() == READY:
                return True
        except (EOFError, OSError):
            pass
        log.error("query process %s did not start", child.process.pid)
        _kill(child)
        return False

    def _add_child(self) -> None:
        """Start a child and put it in the pool once ready (runs off the request thread)."""
        try:
            child = self._spawn()
        except OSError:
            child = None
        if child is None or not self._await_ready(child):
            with self._count_lock:
                self._total -= 1
            return
        self._idle.put(child)

    def _replace(self, child: _Child) -> None:
        """Kill a child and, unless it was surplus, start its successor off the request thread."""
        _kill(child)
        with self._count_lock:
            surplus = self._total > self.size
            if surplus:
                self._total -= 1
        log.warning("killed query process %s", child.process.pid)
        if not surplus:
            threading.Thread(target=self._add_child, daemon=True).start()


def _start_context() -> mp.context.BaseContext:
    """The fork server where the platform has one (Linux, macOS), else fresh interpreters."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["medkg_server.worker"])
    return context


def _kill(child: _Child) -> None:
    child.process.kill()
    child.process.join(JOIN_SECONDS)
    child.conn.close()
