"""Build throughput: parse -> RDF -> store on synthetic catalogues; the store load vs a bulk load.

    python bench/build_bench.py --sizes 1k 10k 100k [--work /tmp/medkg-bench] [--json out.json]
                                [--floor-per-dataset 20]

For each size N, bench/synth.py writes N datasets as markdown lists (reused when present), then a
fresh process runs medkg's own pipeline stage by stage, as `medkg build --no-validate` runs it,
timing each: read (`medkg.build.read_all`: parse and extract, in parallel processes for a large
input), merge, quads (generating every quad once, streamed and dropped, to time generation alone)
and store (quads generated again and streamed into medkg.store's staged version with
bulk_extend, as the build does; then flush, optimize, atomic publish). The same quads, written
untimed to an N-Quads file, are then bulk-loaded into a plain `pyoxigraph.Store` (bulk_load from
the file, flush, optimize). `load ratio` is medkg's store step over that reference (generation
included); `load ratio w/o gen` subtracts the quads stage. With `--floor-per-dataset Q`, the
first Q x datasets quads of that file are bulk-loaded the same way as well: the engine's own
time at the size the issue names (about 20 triples per dataset), with no list read. Figures:
records/s and triples/s of the whole build, seconds per stage, peak RSS of the process and of
the largest reader process, RSS after each stage. No validation (see
sparql_validation_bench.py). Nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from common import (
    DEFAULT_WORK,
    parse_size,
    peak_rss_mb,
    run_child,
    size_label,
    slope_per_100k,
    synthetic_home,
    table,
    write_json,
)

from medkg.build import BuildResult, collect_sources, make_report, read_all
from medkg.config import load_settings
from medkg.merge import load_curation, merge
from medkg.store import StagedVersion

HERE = Path(__file__).resolve()


def measure(home: Path, work: Path, floor_per_dataset: int = 0) -> dict[str, Any]:
    """Run each stage of the build on one home, as `medkg build` runs it; seconds per stage."""
    settings = load_settings(home=home, store=work / "store")
    t: dict[str, float] = {}
    rss: dict[str, float] = {}
    clock = time.perf_counter()
    sources = collect_sources(settings)
    t["setup"] = time.perf_counter() - clock

    clock = time.perf_counter()  # parse + extract, in parallel processes for a large input
    results, _ = read_all(settings, sources)
    t["read"] = time.perf_counter() - clock
    rss["after_read"] = current_rss_mb()

    clock = time.perf_counter()
    records = [r for res in results for r in res.records]
    merged = merge(records, load_curation(settings.data_dir))
    t["merge"] = time.perf_counter() - clock
    result = BuildResult(merged.datasets, make_report(results, merged.datasets, merged.refused),
                         results, settings)
    rss["after_merge"] = current_rss_mb()

    clock = time.perf_counter()  # quad generation alone, streamed and dropped
    n_quads = sum(1 for _ in result.iter_quads())
    t["quads"] = time.perf_counter() - clock

    store_dir = work / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    store_dir.mkdir(parents=True)
    clock = time.perf_counter()  # generation again, streamed into the store as the build does
    staged = StagedVersion(store_dir)
    staged.load_quads(result.iter_quads())
    t["store_load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    staged.publish({"bench": True})
    t["store_publish"] = time.perf_counter() - clock
    rss["after_store"] = current_rss_mb()

    # the reference: the same quads as an N-Quads file (written untimed), bulk-loaded by pyoxigraph
    nquads = work / "plain.nq"
    ox.serialize(result.iter_quads(), output=str(nquads), format=ox.RdfFormat.N_QUADS)
    t["plain_load"], t["plain_publish"], n_plain = plain_bulk_load(nquads, work / "plain")
    floor: dict[str, Any] = {}
    if floor_per_dataset:
        wanted = floor_per_dataset * len(merged.datasets)
        first = work / "floor.nq"
        floor["quads"] = first_lines(nquads, first, wanted)
        load, publish, floor["stored"] = plain_bulk_load(first, work / "floor")
        floor["seconds"] = {"load": load, "publish": publish}
        first.unlink()
    nquads.unlink()

    return {"datasets": len(merged.datasets), "records": len(records), "quads": n_quads,
            "stored": n_plain, "seconds": t, "rss_mb": rss, "peak_rss_mb": peak_rss_mb(),
            "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "floor": floor}


def plain_bulk_load(nquads: Path, target: Path) -> tuple[float, float, int]:
    """Seconds of pyoxigraph's bulk load of an N-Quads file, and of its flush and compaction;
    the quads stored. The store is deleted afterwards."""
    shutil.rmtree(target, ignore_errors=True)
    clock = time.perf_counter()
    plain = ox.Store(str(target))
    plain.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    load = time.perf_counter() - clock
    clock = time.perf_counter()
    plain.flush()
    plain.optimize()
    publish = time.perf_counter() - clock
    stored = len(plain)
    del plain
    shutil.rmtree(target, ignore_errors=True)
    return load, publish, stored


def first_lines(source: Path, target: Path, count: int) -> int:
    """Copy the first `count` lines of `source` (N-Quads: one quad a line); how many there were."""
    copied = 0
    with source.open("rb") as lines, target.open("wb") as out:
        for line in itertools.islice(lines, count):  # streamed: 20M lines are 4 GB
            out.write(line)
            copied += 1
    return copied


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def summarise(n: int, m: dict[str, Any]) -> dict[str, Any]:
    s = m["seconds"]
    # store_load includes generating the quads again (they stream into the store)
    build = s["setup"] + s["read"] + s["merge"] + s["store_load"] + s["store_publish"]
    medkg_store = s["store_load"] + s["store_publish"]
    plain_store = s["plain_load"] + s["plain_publish"]
    return {**m, "size": n, "build_s": build, "records_per_s": m["records"] / build,
            "triples_per_s": m["quads"] / build,
            "load_ratio": s["store_load"] / s["plain_load"],
            "load_ratio_without_generation": (s["store_load"] - s["quads"]) / s["plain_load"],
            "store_ratio": medkg_store / plain_store}


def report(rows: list[dict[str, Any]]) -> str:
    stage_names = ("setup", "read", "merge", "quads", "store_load", "store_publish",
                   "plain_load", "plain_publish")
    main = table(
        ("datasets", "records", "quads", "build s", "records/s", "triples/s", "load ratio",
         "load ratio w/o gen", "store+publish ratio", "peak RSS MB", "reader peak RSS MB"),
        [(size_label(r["size"]), r["records"], r["quads"], r["build_s"], r["records_per_s"],
          r["triples_per_s"], r["load_ratio"], r["load_ratio_without_generation"],
          r["store_ratio"], r["peak_rss_mb"], r["workers_peak_rss_mb"]) for r in rows])
    stages = table(("datasets", *stage_names),
                   [(size_label(r["size"]), *(r["seconds"][k] for k in stage_names)) for r in rows])
    sizes = [r["size"] for r in rows]
    build_slope = slope_per_100k(sizes, [r["build_s"] for r in rows])
    rss_slope = slope_per_100k(sizes, [r["peak_rss_mb"] for r in rows])
    slopes = (f"slope per 100k datasets: build {build_slope:.1f} s, peak RSS {rss_slope:.0f} MB"
              if build_slope is not None and rss_slope is not None else "")
    return f"{main}\n\nseconds per stage:\n\n{stages}\n\n{slopes}{floor_report(rows)}"


def floor_report(rows: list[dict[str, Any]]) -> str:
    """The engine alone at the nominal size, when measured: bulk load, flush and compaction."""
    measured = [r for r in rows if r.get("floor")]
    if not measured:
        return ""
    floors = table(
        ("datasets", "quads", "per dataset", "load s", "flush+compact s", "total s", "build s"),
        [(size_label(r["size"]), r["floor"]["quads"], r["floor"]["quads"] / r["datasets"],
          r["floor"]["seconds"]["load"], r["floor"]["seconds"]["publish"],
          r["floor"]["seconds"]["load"] + r["floor"]["seconds"]["publish"], r["build_s"])
         for r in measured])
    return f"\n\nplain pyoxigraph bulk load of the first quads only (no list read):\n\n{floors}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1k", "10k"])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--floor-per-dataset", type=int, default=0, metavar="Q",
                        help="also bulk-load only the first Q x datasets quads (the engine alone)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_per_dataset < 0:
        parser.error(f"--floor-per-dataset must be 0 or more, not {args.floor_per_dataset}")
    if args.child:  # one size, in a fresh process: print its figures as JSON
        n = parse_size(args.sizes[0])
        home = synthetic_home(args.work, n)
        work = args.work / f"build-{size_label(n)}"
        print(json.dumps(summarise(n, measure(home, work, args.floor_per_dataset))))
        return 0
    rows = []
    for text in args.sizes:
        n = parse_size(text)
        synthetic_home(args.work, n)
        rows.append(run_child(HERE, ["--sizes", text, "--work", str(args.work),
                                     "--floor-per-dataset", str(args.floor_per_dataset)]))
        print(f"built {size_label(n)}: {rows[-1]['build_s']:.1f} s", file=sys.stderr)
    print(report(rows))
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
