"""The batched access-log handler writes every line once, in order, without being asked."""

from __future__ import annotations

import io
import logging
import os
import threading
import time

import pytest

from medkg_server import serving
from medkg_server.batched_log import BatchedHandler, SecondsFormatter


def _logger(handler: BatchedHandler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_lines_appear_after_the_interval_in_order() -> None:
    stream = io.StringIO()
    logger = _logger(BatchedHandler(stream, interval=0.3), "test.batched.order")
    for n in range(5):
        logger.info("line %d", n)
    assert stream.getvalue() == ""  # gathered, not yet written
    deadline = time.monotonic() + 5
    while stream.getvalue().count("\n") < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue().splitlines() == [f"line {n}" for n in range(5)]


def test_many_threads_lose_and_repeat_nothing() -> None:
    stream = io.StringIO()
    handler = BatchedHandler(stream, interval=0.01, max_lines=50)
    logger = _logger(handler, "test.batched.threads")

    def send(thread: int) -> None:
        for n in range(500):
            logger.info("%d-%d", thread, n)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(f"{t}-{n}" for t in range(8) for n in range(500))
    for t in range(8):  # each thread's lines keep their order
        mine = [line for line in lines if line.startswith(f"{t}-")]
        assert mine == [f"{t}-{n}" for n in range(500)]


def test_logging_does_not_wait_for_the_handlers_lock() -> None:
    """A request that logs never lines up behind another thread holding the handler's lock."""
    stream = io.StringIO()
    handler = BatchedHandler(stream, interval=60)
    logger = _logger(handler, "test.batched.lockfree")
    handler.acquire()  # as if another thread were inside the handler
    try:
        sender = threading.Thread(target=logger.info, args=("not held up",))
        sender.start()
        sender.join(timeout=5)
        assert not sender.is_alive()
    finally:
        handler.release()
    handler.flush()
    assert stream.getvalue() == "not held up\n"


def test_a_filter_that_refuses_a_record_keeps_it_out() -> None:
    stream = io.StringIO()
    handler = BatchedHandler(stream, interval=60)
    handler.addFilter(lambda record: "secret" not in record.getMessage())
    logger = _logger(handler, "test.batched.filtered")
    logger.info("a secret line")
    logger.info("a plain line")
    handler.flush()
    assert stream.getvalue() == "a plain line\n"


def test_a_full_batch_is_written_before_the_interval() -> None:
    stream = io.StringIO()
    logger = _logger(BatchedHandler(stream, interval=60, max_lines=10), "test.batched.full")
    for n in range(10):
        logger.info("%d", n)
    deadline = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue().splitlines() == [str(n) for n in range(10)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_writes_only_its_own_lines(tmp_path) -> None:
    path = tmp_path / "log.txt"
    with open(path, "w", encoding="utf-8") as stream:
        handler = BatchedHandler(stream, interval=60)
        logger = _logger(handler, "test.batched.fork")
        logger.info("parent before fork")
        # the parent's writer is mid-write when the worker is forked: the child must not wait
        # for a lock that no thread of its own will ever release
        handler._write_lock.acquire()
        pid = os.fork()
        if pid == 0:  # the child: log, write, leave without running the parent's cleanup
            logger.info("child")
            handler.flush()
            os._exit(0)
        deadline = time.monotonic() + 20
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                pytest.fail("the forked process hung on its parent's lock")
            time.sleep(0.01)
        handler._write_lock.release()
        handler.flush()
    assert sorted(path.read_text(encoding="utf-8").splitlines()) == ["child", "parent before fork"]


def test_lines_still_waiting_are_written_when_the_process_exits(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    server = Path(__file__).resolve().parents[2] / "server"
    script = (
        "import logging, sys\n"
        "from medkg_server.batched_log import BatchedHandler\n"
        "log = logging.getLogger('exit-test')\n"
        "log.addHandler(BatchedHandler(sys.stderr, interval=60))\n"
        "log.setLevel(logging.INFO)\n"
        "for n in range(3):\n"
        "    log.info('waiting %d', n)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(server)},
    )
    assert done.returncode == 0
    assert done.stderr.splitlines() == ["waiting 0", "waiting 1", "waiting 2"]


class _BrokenThenFine(io.StringIO):
    """A stream whose first `failures` writes fail, as a closed pipe's would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def write(self, text: str) -> int:
        if self.failures:
            self.failures -= 1
            raise BrokenPipeError("the reader went away")
        return super().write(text)


def test_a_broken_stream_loses_lines_but_says_how_many() -> None:
    stream = _BrokenThenFine(failures=1)
    handler = BatchedHandler(stream, interval=60)
    logger = _logger(handler, "test.batched.broken")
    logger.info("lost 1")
    logger.info("lost 2")
    handler.flush()  # the write fails: nothing raised to the caller
    logger.info("kept")
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert lines == ["2 log lines were dropped: the log stream did not take them", "kept"]


def test_lines_waiting_for_a_stuck_stream_are_capped() -> None:
    stream = io.StringIO()
    handler = BatchedHandler(stream, interval=60, max_lines=1000, max_waiting=5)
    logger = _logger(handler, "test.batched.capped")
    for n in range(8):
        logger.info("%d", n)
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert lines == ["3 log lines were dropped: the log stream did not take them"] + [
        str(n) for n in range(5)
    ]


@pytest.mark.parametrize("created", [1_700_000_000.123, 1_700_000_000.999, 1_700_000_001.0005])
def test_seconds_formatter_writes_what_the_standard_formatter_writes(created: float) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    plain, reusing = logging.Formatter(fmt), SecondsFormatter(fmt)
    for when in (created - 1.5, created, created + 0.25, created):  # seconds before, same, next
        record = logging.LogRecord("access", logging.INFO, "f", 1, "hi %s", ("x",), None)
        record.created, record.msecs = when, (when - int(when)) * 1000
        assert reusing.format(record) == plain.format(record)
    record.created = created
    dated = SecondsFormatter(fmt)
    assert dated.formatTime(record, "%Y") == plain.formatTime(record, "%Y")


def test_the_server_turns_off_what_log_records_would_look_up() -> None:
    saved = (logging.logThreads, logging.logProcesses, logging.logMultiprocessing, logging._srcfile)
    access = serving.access_log
    handlers, propagate = list(access.handlers), access.propagate
    try:
        serving._configure_logging()
        assert not (logging.logThreads or logging.logProcesses or logging.logMultiprocessing)
        assert logging._srcfile is None
        batched = [h for h in access.handlers if isinstance(h, BatchedHandler)]
        assert len(batched) == 1 and isinstance(batched[0].formatter, SecondsFormatter)
    finally:
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved[:3]
        logging._srcfile = saved[3]
        access.handlers[:] = handlers
        access.propagate = propagate
