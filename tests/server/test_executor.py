"""The query pool: children come from a fork server, answer jobs, and die with their owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from medkg_server.executor import Executor, QueryTimeout
from medkg_server.worker import PARENT_CHECK_SECONDS, Job

REPO = Path(__file__).resolve().parents[2]
COUNT = Job("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "query", "json", None, 10)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a child that exited but was not reaped yet is a zombie: gone for our purpose
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True  # reaped between the signal and the read


@pytest.mark.skipif(sys.platform != "linux", reason="the fork server and /proc are Linux's")
def test_children_are_forked_and_answer(built_store: Path) -> None:
    executor = Executor(built_store, 1)
    try:
        assert executor._context.get_start_method() == "forkserver"
        first = executor.run(COUNT, 30)
        assert b'"n"' in first.body
        assert executor.run(COUNT, 30).body == first.body
    finally:
        executor.close()


@pytest.mark.skipif(sys.platform != "linux", reason="the fork server and /proc are Linux's")
def test_children_exit_when_their_owner_is_killed(built_store: Path) -> None:
    owner_code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from medkg_server.executor import Executor, QueryTimeout
        from medkg_server.worker import Job
        if __name__ == "__main__":
            executor = Executor(Path({str(built_store)!r}), 2)
            executor.start()
            executor.run(Job("ASK {{}}", "query", "json", None, 1), 30)
            children = executor._idle.take_all()  # held: a dropped child's pipe closes
            for child in children:
                print(child.process.pid, flush=True)
            print("ready", flush=True)
            time.sleep(600)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "server")])}
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stdout=subprocess.PIPE,
                             text=True, env=env)
    assert owner.stdout is not None
    pids = []
    for line in owner.stdout:
        if line.strip() == "ready":
            break
        pids.append(int(line))
    assert len(pids) == 2
    time.sleep(PARENT_CHECK_SECONDS * 2.5)  # idle children keep checking on their owner
    assert not any(_gone(pid) for pid in pids), "idle query processes left a living owner"
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(_gone(pid) for pid in pids):
        time.sleep(0.1)
    assert all(_gone(pid) for pid in pids), "query processes outlived the process that owns them"


def test_spare_children_stay_through_a_pause_and_a_timer_stops_them_after_idling(
    built_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medkg_server import executor as pool

    monkeypatch.setattr(pool, "IDLE_SECONDS", 2.0)
    executor = Executor(built_store, 1)
    try:
        executor.start()
        executor._grow()  # what a burst does when every child is busy: a spare starts
        deadline = time.monotonic() + 30
        while len(executor._idle) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert executor._total == 2 and len(executor._idle) == 2
        executor.run(COUNT, 30)  # a job just after the burst: the spare is kept, not stopped
        assert executor._total == 2
        bottom = executor._idle._children[0].process.pid  # the longest idle
        deadline = time.monotonic() + 10
        while executor._total > 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # no job runs meanwhile: the timer stops it past IDLE_SECONDS
        assert executor._total == 1 and len(executor._idle) == 1
        deadline = time.monotonic() + 10
        while not _gone(bottom) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(bottom)
        assert executor.run(COUNT, 30).rows == 1  # the pool still answers
    finally:
        executor.close()



@pytest.mark.skipif(sys.platform != "linux", reason="the fork server and /proc are Linux's")
@pytest.mark.parametrize(("bad_limit", "error"), [(float("nan"), ValueError), (-1.0, QueryTimeout)])
def test_a_child_whose_answer_was_not_read_never_serves_the_next_job(
    built_store: Path, bad_limit: float, error: type[Exception]
) -> None:
    executor = Executor(built_store, 1)
    # a join over every subject's statements (a quarter of a second): its answer cannot be
    # back before the parent looks with no time left, which an instant one sometimes was
    first = Job('SELECT ?a (COUNT(*) AS ?n) WHERE { BIND("A" AS ?a) ?s ?p ?o . ?s ?q ?v } '
                "GROUP BY ?a", "query", "json", None, 10)
    second = Job('SELECT ?b WHERE { BIND("B" AS ?b) FILTER(true) }', "query", "json", None, 10)
    try:
        executor.run(COUNT, 30)  # the pool is up
        # a limit the pipe cannot wait on fails after the job was sent (NaN: ValueError), or
        # gives up at once (-1: a time-limit error) with the child still working
        with pytest.raises(error):
            executor.run(first, bad_limit)
        answer = executor.run(second, 30)
        assert b'"b"' in answer.body and b'"B"' in answer.body
        assert b'"A"' not in answer.body
    finally:
        executor.close()
