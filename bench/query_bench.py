"""Latency of the README's example questions against size: on the store, and through the endpoint.

    python bench/query_bench.py --sizes 1k 10k 100k [--repeat 7] [--json out.json]

For each size, the synthetic store of bench/validation_bench.py (built once, reused) is queried
with every data/example-queries/*.rq:
- `store`: pyoxigraph `Store.query` on the read-only store on disk, default graph as the union
  (what the endpoint runs), the answer fully consumed;
- `memory`: the same on a copy of the store in memory (what the endpoint's processes read when
  the store has at most MEDKG_MEMORY_QUADS quads, 500k by default);
- `endpoint`: GET /sparql of medkg's production server (granian, started on loopback, default
  settings), JSON results, one request at a time; every request's text differs by a trailing
  comment so the result cache never answers (engine plus web layer, no reuse).
Figures: p50 / p95 in ms per query and size, the disk/memory ratio and the endpoint/store ratio
of the p50s.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from common import (REPO, each_size_in_a_child, parse_size, size_parser, synthetic_home,
                    table, write_json)
from http_bench import start_medkg, stop
from validation_bench import built_store

import pyoxigraph as ox

from medkg import store as medkg_store

HERE = Path(__file__).resolve()
QUERIES = REPO / "data" / "example-queries"


def example_queries() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(QUERIES.glob("*.rq"))}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def consume(result: Any) -> int:
    if isinstance(result, bool):
        return 1
    return sum(1 for _ in result)


def time_store(store: ox.Store, query: str, repeat: int) -> list[float]:
    consume(store.query(query, use_default_graph_as_union=True))  # warm-up
    times = []
    for _ in range(repeat):
        clock = time.perf_counter()
        consume(store.query(query, use_default_graph_as_union=True))
        times.append((time.perf_counter() - clock) * 1000)
    return times


def time_endpoint(host: str, port: int, query: str, repeat: int, salt: int) -> list[float]:
    connection = http.client.HTTPConnection(host, port, timeout=300)
    times = []
    for i in range(repeat + 1):
        text = f"{query}\n# run {salt}-{i}"  # a new text each time: the cache cannot answer
        path = "/sparql?" + urllib.parse.urlencode({"query": text})
        clock = time.perf_counter()
        connection.request("GET", path, headers={"Accept": "application/sparql-results+json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"endpoint answered {response.status} for {query[:60]!r}")
        if i:  # the first request is a warm-up
            times.append((time.perf_counter() - clock) * 1000)
    connection.close()
    return times


def time_each(store: ox.Store, where: str, queries: dict[str, str],
              repeat: int) -> list[dict[str, Any]]:
    rows = []
    for name, query in queries.items():
        times = time_store(store, query, repeat)
        rows.append({"query": name, "where": where, "p50": statistics.median(times),
                     "p95": percentile(times, 0.95)})
    return rows


def measure(home: Path, repeat: int) -> list[dict[str, Any]]:
    store_dir = built_store(home)
    queries = example_queries()
    rows = []
    on_disk = medkg_store.open_read_only(store_dir)
    rows += time_each(on_disk, "store", queries, repeat)
    in_memory = ox.Store()  # copied after the disk runs, so its memory weighs on nothing there
    in_memory.bulk_extend(on_disk.quads_for_pattern(None, None, None, None))
    del on_disk
    rows += time_each(in_memory, "memory", queries, repeat)
    del in_memory
    server = start_medkg(store_dir, workers=2)
    try:
        for n, (name, query) in enumerate(queries.items()):
            times = time_endpoint(server.host, server.port, query, repeat, n)
            rows.append({"query": name, "where": "endpoint", "p50": statistics.median(times),
                         "p95": percentile(times, 0.95)})
    finally:
        stop(server)
    return rows


def report(results: dict[str, list[dict[str, Any]]]) -> str:
    out = []
    for size, rows in results.items():
        by = {(r["query"], r["where"]): r for r in rows}
        names = sorted({r["query"] for r in rows})
        out.append(f"{size} datasets (ms):\n")
        out.append(table(("query", "store p50", "store p95", "memory p50", "disk/memory",
                          "endpoint p50", "endpoint p95", "endpoint/store"),
                         [(q, by[q, "store"]["p50"], by[q, "store"]["p95"], by[q, "memory"]["p50"],
                           by[q, "store"]["p50"] / max(by[q, "memory"]["p50"], 1e-6),
                           by[q, "endpoint"]["p50"], by[q, "endpoint"]["p95"],
                           by[q, "endpoint"]["p50"] / max(by[q, "store"]["p50"], 1e-6))
                          for q in names]))
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = size_parser(__doc__, repeat=7)
    args = parser.parse_args(argv)
    if args.child:
        home = synthetic_home(args.work, parse_size(args.sizes[0]))
        print(json.dumps({"rows": measure(home, args.repeat)}))
        return 0
    measured = each_size_in_a_child(HERE, args.sizes, args.work, ["--repeat", str(args.repeat)],
                                    built_store)
    results = {size: figures["rows"] for size, figures in measured.items()}
    print(report(results))
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
