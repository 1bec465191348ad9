"""A small closed-loop HTTP load generator and a server memory probe, for the load tests.

Each client thread sends one request after another (picked at random from a list) until the time
is up, and records the status and latency of every answer. Anything but a 200 is a failure.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests


@dataclass(frozen=True)
class Call:
    """One request the load may send."""

    label: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    accept: str = "*/*"


@dataclass
class LoadResult:
    """What a load run measured."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.failures)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_load(base_url: str, calls: list[Call], clients: int, seconds: float) -> LoadResult:
    """Drive `base_url` with `clients` threads for `seconds`; returns every latency and failure."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(seed: int) -> None:
        chooser = random.Random(seed)
        session = requests.Session()
        while time.monotonic() < deadline:
            call = chooser.choice(calls)
            started = time.perf_counter()
            try:
                answer = session.get(base_url + call.path, params=call.params,
                                     headers={"Accept": call.accept}, timeout=60)
                ok, detail = answer.status_code == 200, f"{answer.status_code} {answer.text[:80]}"
            except requests.RequestException as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    result.latencies.append(elapsed)
                else:
                    result.failures.append(f"{call.label}: {detail}")
        session.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (web workers, query processes)."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # a query process replaced while we counted
    return total


def example_calls(folder: Path) -> list[Call]:
    """The README's example questions, as GET /sparql requests."""
    return [
        Call(f"example {path.stem}", "/sparql", {"query": path.read_text(encoding="utf-8")})
        for path in sorted(folder.glob("*.rq"))
    ]
