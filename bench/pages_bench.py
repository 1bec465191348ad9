"""Latency of the browse (facet) and statistics pages against size, and the cost of their index.

    python bench/pages_bench.py --sizes 1k 10k 100k [--repeat 7] [--json out.json]
    python bench/pages_bench.py --store /tmp/medkg-bench/store-1M   (a store built elsewhere)

For each size, on the synthetic store of bench/validation_bench.py (built once, reused), in a
fresh process:
- `store open s`: opening the store version as a worker does, which copies a version of at most
  `MEDKG_MEMORY_QUADS` quads (500,000 by default: the 1k and 10k stores) into memory;
- `index build s` / `index MB`: building the facet index from the open store, as the first server
  worker does once per store version (medkg_server/facet_index.py), and the memory it added;
- `index load s`: reading the saved index, as the other workers and later restarts do;
- per page, p50 / p95 in ms of the Flask application rendering it with the answer cache off (every
  request renders; the HTTP server and the network are left out): the statistics page, browse with no
  selection, with the commonest organ, with that organ and the commonest modality, with a search
  word, and the third page of the organ selection.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    each_size_in_a_child,
    parse_size,
    peak_rss_mb,
    run_child,
    size_parser,
    synthetic_home,
    table,
    write_json,
)
from validation_bench import built_store

from medkg import store as medkg_store
from medkg_server import catalogue, facet_index
from medkg_server.app import create_app

HERE = Path(__file__).resolve()


def pages(index: facet_index.CatalogueIndex) -> dict[str, str]:
    """The page URLs measured: selections taken from the data, so they match something."""
    top = index.facet_counts("organ", None)[0]
    organ = top.value
    modality = index.facet_counts("modality", index.mask({"organ": organ}))[0].value
    word = index.titles[len(index.titles) // 2].split()[0]
    # page 3 where the selection has that many (a small catalogue has fewer: its last page)
    later = max(1, min(3, -(-top.count // catalogue.PAGE_SIZE)))
    return {
        "stats": "/stats",
        "browse": "/browse",
        "browse organ": f"/browse?organ={organ}",
        "browse organ+modality": f"/browse?organ={organ}&modality={modality}",
        "browse search": f"/browse?q={word}",
        "browse organ page 3": f"/browse?organ={organ}&page={later}",
    }


def measure(store_dir: Path, repeat: int) -> dict[str, Any]:
    folder = medkg_store.current_version_dir(store_dir)
    assert folder is not None
    (folder / facet_index.INDEX_FILE).unlink(missing_ok=True)
    app = create_app({"STORE": str(store_dir), "CACHE_ENTRIES": 0, "EXECUTORS": 1})
    st = app.extensions["medkg"]
    version = st.version()
    assert version is not None
    clock = time.perf_counter()
    st.version_store(version.name)  # opened first, so the index's figures are the index's own
    open_s = time.perf_counter() - clock
    before = peak_rss_mb()
    clock = time.perf_counter()
    index = catalogue.index_for(st, version.name)  # builds and saves it
    build_s = time.perf_counter() - clock
    index_mb = peak_rss_mb() - before
    clock = time.perf_counter()
    facet_index.load(folder / facet_index.INDEX_FILE)
    load_s = time.perf_counter() - clock
    client = app.test_client()
    rows = []
    for name, url in pages(index).items():
        times = []
        for i in range(repeat + 1):
            clock = time.perf_counter()
            response = client.get(url, headers={"Accept": "text/html"})
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
            if i:  # the first request is a warm-up
                times.append((time.perf_counter() - clock) * 1000)
        rows.append({"page": name, "p50": statistics.median(times),
                     "p95": sorted(times)[min(len(times) - 1, int(0.95 * len(times)))]})
    return {"datasets": index.size, "store_open_s": open_s, "index_build_s": build_s,
            "index_load_s": load_s, "index_mb": index_mb, "peak_rss_mb": peak_rss_mb(),
            "pages": rows}


def report(results: dict[str, dict[str, Any]]) -> str:
    head = table(("size", "datasets", "store open s", "index build s", "index load s", "index MB",
                  "peak RSS MB"),
                 [(size, r["datasets"], r["store_open_s"], r["index_build_s"], r["index_load_s"],
                   r["index_mb"], r["peak_rss_mb"]) for size, r in results.items()])
    sizes = list(results)
    names = [p["page"] for p in next(iter(results.values()))["pages"]]
    cells = {(size, p["page"]): p for size, r in results.items() for p in r["pages"]}
    pages_table = table(("page", *[f"{s} p50 / p95 ms" for s in sizes]),
                        [(name, *[f"{cells[s, name]['p50']:.1f} / {cells[s, name]['p95']:.1f}"
                                  for s in sizes]) for name in names])
    return f"{head}\n\n{pages_table}"


def main(argv: list[str] | None = None) -> int:
    parser = size_parser(__doc__, repeat=7)
    parser.add_argument("--store", type=Path,
                        help="measure this built store instead of the synthetic sizes")
    args = parser.parse_args(argv)
    if args.child:
        store = args.store or built_store(synthetic_home(args.work, parse_size(args.sizes[0])))
        print(json.dumps(measure(store, args.repeat)))
        return 0
    if args.store:
        results = {args.store.name: run_child(HERE, ["--store", str(args.store),
                                                     "--repeat", str(args.repeat)])}
    else:
        results = each_size_in_a_child(HERE, args.sizes, args.work,
                                       ["--repeat", str(args.repeat)], built_store)
    print(report(results))
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
