"""A log handler that writes its lines in batches, for the access log of a busy server.

Writing one line per request to stderr cost a quarter of the throughput of light look-ups
(bench/RESULTS.md): the write releases the interpreter lock, so every request paid for another
thread switch as well as a system call. This handler formats each record at once, keeps the
line in memory and lets a background thread write what has gathered every `interval` seconds
(sooner once `max_lines` wait). Lines keep their order; a process that exits normally writes
what is left (logging's own shutdown flushes every handler). A process that is killed loses at
most the last interval's lines. If the stream stops taking lines (a closed or stuck stderr), at
most `max_waiting` lines wait in memory; the rest are counted, and the count is logged once the
stream takes lines again, so the server never grows without bound or fails a request over it.

A line is handed over without the handler's lock (appending to a deque is atomic): with that
lock, requests lined up behind whichever thread held it, and each wait released the interpreter
lock, so a request that logged could then wait for every other thread's turn at the interpreter.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from typing import TextIO


class BatchedHandler(logging.Handler):
    """Like logging.StreamHandler, but writes from a background thread in batches."""

    def __init__(
        self,
        stream: TextIO,
        interval: float = 0.25,
        max_lines: int = 2000,
        max_waiting: int = 100_000,
    ) -> None:
        super().__init__()
        self.stream = stream
        self.interval = interval
        self.max_lines = max_lines
        self.max_waiting = max_waiting
        self._lines: deque[str] = deque()
        self._lost = 0
        self._lost_lock = threading.Lock()  # taken only when lines are being dropped
        self._wake = threading.Event()
        self._write_lock = threading.Lock()  # batches reach the stream in the order taken
        self._start_lock = threading.Lock()
        self._writing = False
        # A forked worker inherits the parent's unwritten lines (the parent writes those) and
        # locks that the parent's writer thread may hold, but not the thread itself.
        os.register_at_fork(after_in_child=self._forget_parent)

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        """Filter and emit `record` without taking the handler's lock (see the module's note)."""
        passed = self.filter(record)
        if passed:
            self.emit(passed if isinstance(passed, logging.LogRecord) else record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        if not self._writing:
            self._start_writer()
        if len(self._lines) >= self.max_waiting:
            with self._lost_lock:
                self._lost += 1
            return
        try:
            self._lines.append(self.format(record))
        except (TypeError, ValueError):  # a record whose arguments do not fit its message
            self.handleError(record)
            return
        if len(self._lines) >= self.max_lines:
            self._wake.set()

    def flush(self) -> None:
        """Write every line gathered so far."""
        with self._write_lock:
            taken = self._lines
            lines = [taken.popleft() for _ in range(len(taken))]
            with self._lost_lock:
                lost, self._lost = self._lost, 0
            if lost:
                lines.insert(0, self._lost_line(lost))
            if not lines:
                return
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # the stream is closed or broken: count, go on
                with self._lost_lock:
                    self._lost += len(lines) - (1 if lost else 0) + lost

    def _start_writer(self) -> None:
        with self._start_lock:
            if not self._writing:
                self._writing = True
                threading.Thread(target=self._write_forever, daemon=True, name="medkg-log").start()

    def _lost_line(self, count: int) -> str:
        message = f"{count} log lines were dropped: the log stream did not take them"
        fields = {"name": __name__, "levelno": logging.WARNING, "levelname": "WARNING"}
        return self.format(logging.makeLogRecord({**fields, "msg": message}))

    def _forget_parent(self) -> None:
        self._lines = deque()
        self._lost = 0
        self._lost_lock = threading.Lock()
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._writing = False  # this process starts its own writer on its first line

    def _write_forever(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()


class SecondsFormatter(logging.Formatter):
    """A Formatter whose default timestamps reuse the date and time text within one second.

    `time.strftime` was half the cost of formatting an access-log line; on a busy server
    thousands of lines share each second, so only the milliseconds are formatted per line.
    """

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        known, text = self._second  # one tuple: threads never see half an update
        if known != second:
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, text)
        return self.default_msec_format % (text, record.msecs)
