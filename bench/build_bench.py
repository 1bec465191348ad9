"""Build throughput: parse -> RDF -> store on synthetic catalogues, and the store load vs a bulk load.

    python bench/build_bench.py --sizes 1k 10k 100k [--work /tmp/medkg-bench] [--json out.json]

For each size N, bench/synth.py writes N datasets as markdown lists (reused when present), then a
fresh process runs medkg's own pipeline stage by stage, timing each: parse (markdown-it), extract
(cells -> records, vocabulary matching), merge, quads (records -> pyoxigraph quads, plus the
ontology and vocabularies) and store (medkg.store: bulk_extend of the quads, flush, optimize,
atomic publish). The same quads, serialised to N-Quads beforehand, are then bulk-loaded into a
plain `pyoxigraph.Store` (bulk_load, flush, optimize): `load ratio` is medkg's store step over
that reference, in the same process. Figures: records/s and triples/s of the whole build, seconds
per stage, peak RSS. No validation (see validation_bench.py). Nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from common import (DEFAULT_WORK, parse_size, peak_rss_mb, run_child, size_label, slope_per_100k,
                    synthetic_home, table, write_json)

import pyoxigraph as ox

from medkg.build import collect_sources
from medkg.config import load_settings
from medkg.extract import extract, load_rules
from medkg.graph import dataset_quads, rdflib_to_quads
from medkg.markdown import parse_document
from medkg.merge import load_curation, merge
from medkg.namespaces import Namespaces
from medkg.ontology import ontology_graph, vocabulary_graph
from medkg.sources import read_source
from medkg.store import StagedVersion
from medkg.vocabulary import build_vocabulary

HERE = Path(__file__).resolve()


def measure(home: Path, work: Path) -> dict[str, Any]:
    """Run each stage of the build on one home; seconds per stage and counts."""
    settings = load_settings(home=home, store=work / "store")
    ns = Namespaces(settings.base)
    t: dict[str, float] = {}
    clock = time.perf_counter()
    vocab = build_vocabulary(vocabulary_graph(settings), ns)
    rules = load_rules(settings.data_dir)
    sources = collect_sources(settings)
    t["setup"] = time.perf_counter() - clock

    texts, docs = [], []
    clock = time.perf_counter()
    for source in sources:
        text = read_source(source)
        texts.append(text)
        docs.append(parse_document(text.text))
    t["parse"] = time.perf_counter() - clock

    clock = time.perf_counter()
    records = [r for source, doc in zip(sources, docs, strict=True)
               for r in extract(source, doc, vocab, rules, ns)[0]]
    t["extract"] = time.perf_counter() - clock
    del docs

    clock = time.perf_counter()
    merged = merge(records, load_curation(settings.data_dir))
    t["merge"] = time.perf_counter() - clock

    clock = time.perf_counter()
    quads = list(dataset_quads(ns, merged.datasets, texts))
    quads.extend(rdflib_to_quads(ontology_graph(settings), ns.graph("ontology")))
    quads.extend(rdflib_to_quads(vocabulary_graph(settings), ns.graph("vocabulary")))
    t["quads"] = time.perf_counter() - clock

    nquads = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)  # reference input, not timed

    store_dir = work / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    store_dir.mkdir(parents=True)
    clock = time.perf_counter()
    staged = StagedVersion(store_dir)
    staged.load_quads(quads)
    t["store_load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    staged.publish({"bench": True})
    t["store_publish"] = time.perf_counter() - clock

    plain_dir = work / "plain"
    shutil.rmtree(plain_dir, ignore_errors=True)
    clock = time.perf_counter()
    plain = ox.Store(str(plain_dir))
    plain.bulk_load(nquads, format=ox.RdfFormat.N_QUADS)
    t["plain_load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    plain.flush()
    plain.optimize()
    t["plain_publish"] = time.perf_counter() - clock
    n_plain = len(plain)
    del plain
    shutil.rmtree(plain_dir, ignore_errors=True)

    return {"datasets": len(merged.datasets), "records": len(records), "quads": len(quads),
            "stored": n_plain, "seconds": t, "peak_rss_mb": peak_rss_mb()}


def summarise(n: int, m: dict[str, Any]) -> dict[str, Any]:
    s = m["seconds"]
    build = s["setup"] + s["parse"] + s["extract"] + s["merge"] + s["quads"] + s["store_load"] + s["store_publish"]
    medkg_store = s["store_load"] + s["store_publish"]
    plain_store = s["plain_load"] + s["plain_publish"]
    return {**m, "size": n, "build_s": build, "records_per_s": m["records"] / build,
            "triples_per_s": m["quads"] / build,
            "load_ratio": s["store_load"] / s["plain_load"],
            "store_ratio": medkg_store / plain_store}


def report(rows: list[dict[str, Any]]) -> str:
    stage_names = ("setup", "parse", "extract", "merge", "quads", "store_load", "store_publish",
                   "plain_load", "plain_publish")
    main = table(
        ("datasets", "records", "quads", "build s", "records/s", "triples/s", "load ratio",
         "store+publish ratio", "peak RSS MB"),
        [(size_label(r["size"]), r["records"], r["quads"], r["build_s"], r["records_per_s"],
          r["triples_per_s"], r["load_ratio"], r["store_ratio"], r["peak_rss_mb"]) for r in rows])
    stages = table(("datasets", *stage_names),
                   [(size_label(r["size"]), *(r["seconds"][k] for k in stage_names)) for r in rows])
    sizes = [r["size"] for r in rows]
    build_slope = slope_per_100k(sizes, [r["build_s"] for r in rows])
    rss_slope = slope_per_100k(sizes, [r["peak_rss_mb"] for r in rows])
    slopes = (f"slope per 100k datasets: build {build_slope:.1f} s, peak RSS {rss_slope:.0f} MB"
              if build_slope is not None and rss_slope is not None else "")
    return f"{main}\n\nseconds per stage:\n\n{stages}\n\n{slopes}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1k", "10k"])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one size, in a fresh process: print its figures as JSON
        n = parse_size(args.sizes[0])
        home = synthetic_home(args.work, n)
        print(json.dumps(summarise(n, measure(home, args.work / f"build-{size_label(n)}"))))
        return 0
    rows = []
    for text in args.sizes:
        n = parse_size(text)
        synthetic_home(args.work, n)
        rows.append(run_child(HERE, ["--sizes", text, "--work", str(args.work)]))
        print(f"built {size_label(n)}: {rows[-1]['build_s']:.1f} s", file=sys.stderr)
    print(report(rows))
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
