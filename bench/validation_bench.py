"""SHACL validation time and peak memory against size: pyshacl on the whole graph vs batches.

    python bench/validation_bench.py --sizes 1k 10k 100k [--whole-up-to 10k] [--json out.json]

For each size N, the synthetic home of bench/synth.py is built into a store (medkg build, no
validation; reused when present). Then, each in a fresh process so peak RSS is its own:
- `whole`: medkg.validation.validate_graph, pyshacl over one rdflib graph of the union (what
  `medkg build` runs today); skipped above --whole-up-to, where it takes minutes and gigabytes;
- `batched`: medkg.batch_validation.validate_store over the store, --batch-size datasets per batch
  in --workers processes (peak RSS is the parent's plus the largest worker's).
Figures: seconds, datasets/s, peak RSS, issue counts (the two paths must agree), slope per 100k.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common import (DEFAULT_WORK, parse_size, synthetic_home, timed_validation,
                    validation_report, variants_per_size, write_json)

from medkg import store as medkg_store
from medkg.batch_validation import DEFAULT_BATCH_SIZE, validate_store
from medkg.build import build
from medkg.config import load_settings
from medkg.graph import quads_to_rdflib
from medkg.validation import validate_graph

HERE = Path(__file__).resolve()


def built_store(home: Path) -> Path:
    """The home's store, built without validation the first time."""
    settings = load_settings(home=home, store=home / "store")
    if not medkg_store.exists(settings.store):
        build(settings, run_validation=False)
    return settings.store


def measure(home: Path, method: str, batch_size: int, workers: int) -> dict[str, Any]:
    settings = load_settings(home=home, store=built_store(home))
    store = medkg_store.open_read_only(settings.store)
    if method == "whole":
        figures = timed_validation(store, lambda db: validate_graph(quads_to_rdflib(list(db)),
                                                                    settings))
    else:
        figures = timed_validation(store, lambda db: validate_store(db, settings,
                                                                   batch_size=batch_size,
                                                                   workers=workers))
    return {"method": method, **figures}


def report(rows: list[dict[str, Any]]) -> str:
    """The table of all runs and, per method, the slope per 100k datasets."""
    return validation_report(rows, ("whole", "batched"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1k", "10k"])
    parser.add_argument("--whole-up-to", default="10k", help="largest size for whole-graph pyshacl")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=("whole", "batched"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n = parse_size(args.sizes[0])
        figures = measure(synthetic_home(args.work, n), args.child, args.batch_size, args.workers)
        print(json.dumps({**figures, "size": n}))
        return 0
    def methods(n: int) -> list[str]:
        return ["whole", "batched"] if n <= parse_size(args.whole_up_to) else ["batched"]

    rows = variants_per_size(HERE, args.sizes, args.work, methods, built_store,
                             ["--batch-size", str(args.batch_size),
                              "--workers", str(args.workers)])
    print(report(rows))
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
