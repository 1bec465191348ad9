"""The browse page right after a write, and a worker's memory over many writes, against size.

    python bench/after_write_bench.py --sizes 10k 100k [--repeat 6] [--json out.json]

Every write publishes a new store version, whose facet index (and, for a small store, in-memory
copy) each worker prepares again (server/README.md). For each size, on a scratch copy of the
synthetic store of bench/validation_bench.py (update_bench.scratch_copy; the source is left
unchanged), medkg's production server runs with one worker and updates on. Once it has
prepared the store, --repeat times:
- a Graph Store PUT of one triple into a graph of its own (`write s`, median);
- at once, a dataset page (`page after s`, median: it reads the new version, which the worker
  may still be copying into memory), then a browse page (`browse after s`, median; `stale`
  counts those that answered with the previous version's index, saying so, rather than wait
  for the new one);
- then, once the new version is prepared, the same page again (`browse ready s`, the reference
  of the same run) and a dataset page, as a visitor would (`page s`, median: it reads the
  new version's store, for a small store a copy in memory);
- and the worker's resident memory (`worker MB first / last`, and `MB per write`, the slope
  over the writes).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from common import repeated_per_size, table
from http_bench import Server, start_medkg, stop
from http_suite import process_tree
from update_bench import scratch_copy
from validation_bench import built_store

from medkg.config import DEFAULT_BASE

HERE = Path(__file__).resolve()
TOKEN = "bench-token"
GRAPH = "https://example.org/bench/after-write"
READY_SECONDS = 1800.0  # the longest a new version may take to be prepared (1M: minutes)


def request(server: Server, path: str, body: bytes | None = None) -> tuple[float, bytes]:
    """Seconds to answer `path` (a PUT when there is a body) and the answer."""
    url = f"http://{server.host}:{server.port}{path}"
    headers = {"Accept": "application/json"}
    if body is not None:
        headers.update({"Content-Type": "application/n-triples",
                        "Authorization": f"Bearer {TOKEN}"})
    ask = urllib.request.Request(url, data=body, method="PUT" if body else "GET", headers=headers)
    clock = time.perf_counter()
    with urllib.request.urlopen(ask, timeout=READY_SECONDS) as answer:
        data = answer.read()
    return time.perf_counter() - clock, data


def browse(server: Server, tag: str) -> tuple[float, dict[str, Any]]:
    """A browse page as JSON, distinct by `tag` so that no cached answer is reused."""
    seconds, data = request(server, f"/browse?format=json&_={tag}")
    return seconds, json.loads(data)


def ready(server: Server, tag: str) -> float:
    """Wait until browse counts with the published version; then time one more page."""
    deadline = time.monotonic() + READY_SECONDS
    n = 0
    while not counts_with_the_published_version(server, f"{tag}-wait{n}"):
        assert time.monotonic() < deadline, "the new version was not indexed in time"
        n += 1
        time.sleep(0.5)
    return browse(server, f"{tag}-ready")[0]


def counts_with_the_published_version(server: Server, tag: str) -> bool:
    """False while browse counts with an older index, or answers 503 (a first index)."""
    try:
        return not browse(server, tag)[1].get("index_stale", False)
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise
        return False


def worker_mb(server: Server) -> float:
    """The resident memory of the server's largest process (its worker), in MiB."""
    largest = 0
    for pid in process_tree(server.process.pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]))
        except OSError:
            continue
    return largest / 1024


def slope(values: list[float]) -> float:
    """Least-squares growth per step."""
    if len(values) < 2:
        return 0.0
    xs = range(len(values))
    mx, my = statistics.mean(xs), statistics.mean(values)
    return sum((x - mx) * (y - my) for x, y in zip(xs, values)) / sum((x - mx) ** 2 for x in xs)


def measure(source: Path, work: Path, repeat: int) -> dict[str, Any]:
    scratch = scratch_copy(source, work / f"after-write-{source.parent.name}")
    server = start_medkg(scratch, workers=1, settings={"MEDKG_UPDATE_TOKEN": TOKEN})
    try:
        ready(server, "start")
        first_dataset = browse(server, "first")[1]["datasets"][0]["iri"].removeprefix(DEFAULT_BASE)
        request(server, f"/{first_dataset}")
        memory = [worker_mb(server)]
        writes, after, at_ready, pages, pages_after, stale = [], [], [], [], [], 0
        for n in range(1, repeat + 1):
            triple = f'<{GRAPH}/s> <{GRAPH}/p> "{n}" .\n'.encode()
            writes.append(request(server, f"/store?graph={GRAPH}", triple)[0])
            pages_after.append(request(server, f"/{first_dataset}?_=after{n}")[0])
            seconds, page = browse(server, f"after{n}")
            after.append(seconds)
            stale += bool(page.get("index_stale", False))  # older servers: never
            at_ready.append(ready(server, f"w{n}"))
            pages.append(request(server, f"/{first_dataset}?_=w{n}")[0])
            time.sleep(2.5)  # past the worker's 2 s look for a new version, and its clean-up
            memory.append(worker_mb(server))
    finally:
        stop(server)
        shutil.rmtree(scratch, ignore_errors=True)
    after_s, ready_s = statistics.median(after), statistics.median(at_ready)
    return {"writes": repeat, "write_s": statistics.median(writes), "browse_after_s": after_s,
            "browse_ready_s": ready_s, "ratio": after_s / ready_s, "stale": stale,
            "page_s": statistics.median(pages), "page_after_s": statistics.median(pages_after),
            "worker_mb": memory, "mb_per_write": slope(memory[1:])}


def report(results: dict[str, dict[str, Any]]) -> str:
    return table(("size", "writes", "write s", "page after s", "browse after s",
                  "browse ready s", "x ready", "stale", "page s", "worker MB first / last",
                  "MB per write"),
                 [(size, r["writes"], r["write_s"], r.get("page_after_s", ""),
                   r["browse_after_s"], r["browse_ready_s"], r["ratio"], r["stale"], r["page_s"],
                   f"{r['worker_mb'][0]:.0f} / {r['worker_mb'][-1]:.0f}", r["mb_per_write"])
                  for size, r in results.items()])


def main(argv: list[str] | None = None) -> int:
    return repeated_per_size(argv, __doc__, HERE, 6, built_store, measure, report)


if __name__ == "__main__":
    sys.exit(main())
