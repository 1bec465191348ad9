"""Crash safety: `medkg build` killed at random points never leaves a broken or mixed store.

Two inputs alternate: A (the project's lists) and B (the same plus one more list, so more
datasets). Each round starts a real `medkg build` process and SIGKILLs it after a random delay
of up to 1.3 times a full build (every third round: while the new version is written), so
some kills land before, some during and some after the switch. After every kill the published store must open, and what it holds must be exactly what its own
report says (the number of datasets, and the quad count of a clean build of that input).
Meanwhile a server on the same store answers every request, always from a complete version; a
final uninterrupted build is picked up by the running server without a failed request.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from reliability_config import CRASH_ROUNDS, ROOT
from reliability_figures import record
from server_harness import start_server, stop_server

from medkg import store as medkg_store

pytestmark = pytest.mark.slow
EXTRA_LIST = Path(__file__).parent / "fixtures" / "lists" / "html-in-names.md"
COUNT_DATASETS = (
    "SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE { GRAPH <https://w3id.org/medkg/graph/catalogue> "
    "{ ?d a <https://w3id.org/medkg/ontology#Dataset> } }"
)


@dataclass(frozen=True)
class Snapshot:
    """What the published store holds, and what its report says it should hold."""

    version: str
    reported_datasets: int
    datasets: int
    quads: int


def snapshot(store: Path) -> Snapshot:
    """Open the published version read-only and count it (raises if it cannot be opened)."""
    report = medkg_store.read_report(store)
    assert report is not None, "the published version has no report"
    db = medkg_store.open_read_only(store)
    datasets = int(next(iter(db.query(COUNT_DATASETS)))["n"].value)
    version = medkg_store.current_version(store)
    assert report.get("version") == version, "the report belongs to another version"
    return Snapshot(str(version), int(report["datasets"]), datasets, len(db))


class Builder:
    """Runs `medkg build` on a project home, with or without the extra list."""

    def __init__(self, home: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
            "MEDKG_HOME": str(home),
        }

    def start(self, store: Path, extra: bool) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "medkg.cli", "build", "--no-validate", "--quiet",
                "--store", str(store)]
        if extra:
            args += ["--sources", str(EXTRA_LIST)]
        return subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def run(self, store: Path, extra: bool) -> float:
        started = time.monotonic()
        process = self.start(store, extra)
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode(errors="replace")
        return time.monotonic() - started


@dataclass
class Poller:
    """A client asking the server for the dataset count over and over, recording every answer."""

    url: str
    counts: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def loop(self) -> None:
        session = requests.Session()
        for n in itertools.count():
            if self.stop.is_set():
                return
            for path, params in (("/health", {}),
                                 ("/sparql", {"query": f"{COUNT_DATASETS} # poll {n}"})):
                try:
                    answer = session.get(self.url + path, params=params, timeout=30)
                except requests.RequestException as exc:
                    self.failures.append(f"{path}: {exc}")
                    continue
                if answer.status_code != 200:
                    self.failures.append(f"{path}: {answer.status_code} {answer.text[:100]}")
                elif path == "/sparql":
                    self.counts.append(int(answer.json()["results"]["bindings"][0]["n"]["value"]))
            time.sleep(0.02)


def _wait_for_staging(store: Path, process: subprocess.Popen[bytes], old: set[Path]) -> None:
    """Return once the build has begun writing its new version (or has ended)."""
    versions = store / medkg_store.VERSIONS
    while process.poll() is None and not set(versions.glob(".staging-*")) - old:
        time.sleep(0.002)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash-home")
    shutil.copytree(ROOT / "data", folder / "data")
    shutil.copytree(ROOT / "ontology", folder / "ontology")
    return folder


@pytest.fixture(scope="module")
def poller_server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """A store built from input A and a server on it."""
    store = tmp_path_factory.mktemp("crash") / "store"
    Builder(home).run(store, extra=False)
    log = tmp_path_factory.mktemp("crash-log") / "server.log"
    server = start_server(store, log, {"MEDKG_WORKERS": "1"})
    yield store, server
    stop_server(server)


def test_killed_builds_leave_a_whole_store_and_the_server_serves_throughout(
    home: Path, poller_server: tuple, tmp_path_factory: pytest.TempPathFactory
):
    store, server = poller_server
    builder = Builder(home)
    reference = tmp_path_factory.mktemp("reference") / "store"
    build_seconds = builder.run(reference, extra=True)
    expected = {False: snapshot(store), True: snapshot(reference)}
    quads_for = {s.datasets: s.quads for s in expected.values()}
    assert expected[True].datasets > expected[False].datasets

    poller = Poller(server.url)
    thread = threading.Thread(target=poller.loop, daemon=True)
    thread.start()
    chooser = random.Random(os.environ.get("MEDKG_CRASH_SEED", "medkg"))
    survived = 0
    try:
        for round_number in range(CRASH_ROUNDS):
            extra = round_number % 2 == 0
            before = medkg_store.current_version(store)
            stale = set((store / medkg_store.VERSIONS).glob(".staging-*"))
            process = builder.start(store, extra)
            started = time.monotonic()
            if round_number % 3 == 2:  # every third round: somewhere while the store is written
                _wait_for_staging(store, process, stale)
                time.sleep(chooser.uniform(0.0, 0.3))
            else:
                time.sleep(chooser.uniform(0.2, 1.3 * build_seconds))  # some land after it ends
            delay = time.monotonic() - started
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            after = snapshot(store)  # opens, or the test fails here
            assert after.datasets == after.reported_datasets, after
            assert after.quads == quads_for[after.datasets], after
            survived += 1
            record("crash", round=round_number + 1, killed_after_s=round(delay, 2),
                   published=after.version != before, datasets=after.datasets, quads=after.quads)
        # An uninterrupted build while the server runs: the server switches to it.
        switch_to = snapshot(store).datasets != expected[True].datasets
        builder.run(store, extra=switch_to)
        wanted = expected[switch_to].datasets
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not poller.counts or poller.counts[-1] != wanted):
            time.sleep(0.1)
    finally:
        poller.stop.set()
        thread.join(30)
    assert poller.failures == []
    assert set(poller.counts) <= {expected[False].datasets, expected[True].datasets}
    assert poller.counts[-1] == wanted, "the server did not switch to the new build"
    record("crash", summary=True, rounds=CRASH_ROUNDS, survived=survived,
           server_requests=2 * len(poller.counts), server_failures=len(poller.failures),
           build_seconds=round(build_seconds, 2))
    assert survived == CRASH_ROUNDS
    leftovers = [p.name for p in (store / medkg_store.VERSIONS).iterdir()
                 if p.name.startswith(".staging-")]
    assert leftovers == []  # the last, complete build removed what killed ones left
