"""SHACL validation as SPARQL over the store against the batched pyshacl path: time and peak memory.

    python bench/sparql_validation_bench.py --sizes 1k 10k 100k [--pyshacl-up-to 10k] [--json out.json]
    python bench/sparql_validation_bench.py --sizes 1M --store /tmp/medkg-bench/store-1M
    python bench/sparql_validation_bench.py --sizes 100k --per-check [--json checks.json]

For each size N, the synthetic home of bench/synth.py is built into a store (`medkg build`
without validation; reused when present). Then, each in a fresh process so peak RSS is its own:
- `sparql`: medkg.sparql_validation.validate_store_sparql over the store;
- `batched`: medkg.batch_validation.validate_store (pyshacl in batches, --workers processes;
  peak RSS is the parent's plus the largest worker's); skipped above --pyshacl-up-to, where it
  takes minutes (about 420 s per 100k datasets).
Figures: seconds, datasets/s, peak RSS, issue counts (both paths must agree), slope per 100k.

`--per-check` instead times each compiled check of the `sparql` path alone, one after another
on one thread, and prints them slowest first: whether each target is small (which decides a
check's plan) is settled and timed once beforehand, so a check's seconds are its own query and
the filtering of its rows. Checks sharing a query are timed each (validate_store_sparql runs it
once for all of them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    DEFAULT_WORK,
    parse_size,
    synthetic_home,
    table,
    timed_validation,
    validation_report,
    variants_per_size,
    write_json,
)

from medkg import store as medkg_store
from medkg.batch_validation import DEFAULT_BATCH_SIZE, validate_store
from medkg.build import build
from medkg.config import load_settings
from medkg.ontology import shapes_graph
from medkg.sparql_validation import (
    JOIN_BELOW,
    CompiledCheck,
    FocusCache,
    compile_shapes,
    run_check,
    validate_store_sparql,
)

HERE = Path(__file__).resolve()
METHODS = ("sparql", "batched")


def built_store(home: Path, store: Path | None = None) -> Path:
    """The home's store (or the given one), built without validation the first time."""
    settings = load_settings(home=home, store=store or home / "store")
    if not medkg_store.exists(settings.store):
        build(settings, run_validation=False)
    return settings.store


def measure(home: Path, method: str, batch_size: int, workers: int,
            store: Path | None = None) -> dict[str, Any]:
    """Validate the home's store once with one method; its figures."""
    settings = load_settings(home=home, store=built_store(home, store))
    store = medkg_store.open_read_only(settings.store)
    if method == "sparql":
        figures = timed_validation(store, lambda db: validate_store_sparql(db, settings))
    else:
        figures = timed_validation(store, lambda db: validate_store(db, settings,
                                                                   batch_size=batch_size,
                                                                   workers=workers))
    return {"method": method, **figures}


def check_label(check: CompiledCheck) -> str:
    """Shape, path and what the check tests, short enough for a table cell."""
    shape = check.shape.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    path = check.path.rsplit("#", 1)[-1].rsplit("/", 1)[-1] if check.path else "-"
    tests = ",".join(name for name, _messages in check.components) or check.kind
    return f"{shape} {path} {tests}"


def per_check(home: Path, store_dir: Path | None = None) -> list[dict[str, Any]]:
    """Seconds of deciding each target's plan (small or not), then of every check, run alone."""
    settings = load_settings(home=home, store=built_store(home, store_dir))
    store = medkg_store.open_read_only(settings.store)
    checks, _fallback = compile_shapes(shapes_graph(settings), store)
    focus = FocusCache(store, JOIN_BELOW)
    rows = []
    # targets first, so a check's time does not include a decision another check shares
    for target in dict.fromkeys(c.target for c in checks if c.target is not None):
        clock = time.perf_counter()
        small = focus.is_small(target)
        rows.append({"check": "target: " + " ".join(target.split("WHERE", 1)[-1].split())[:58],
                     "seconds": time.perf_counter() - clock,
                     "issues": "small" if small else f">= {JOIN_BELOW}"})
    for check in checks:
        clock = time.perf_counter()
        issues = sum(1 for _ in run_check(store, check, focus))
        rows.append({"check": check_label(check), "seconds": time.perf_counter() - clock,
                     "issues": issues})
    return rows


def per_check_report(rows: list[dict[str, Any]]) -> str:
    """Checks slowest first, with their share of the total (focus rows give node counts)."""
    total = sum(r["seconds"] for r in rows)
    ordered = sorted(rows, key=lambda r: -r["seconds"])
    lines = [table(("check", "seconds", "share", "issues (targets: plan)"),
                   [(r["check"], r["seconds"], f"{100 * r['seconds'] / total:.1f} %", r["issues"])
                    for r in ordered])]
    lines.append(f"total {total:.1f} s over {len(rows)} queries")
    return "\n".join(lines)


def report(rows: list[dict[str, Any]]) -> str:
    """The table of all runs and, per method, the slope per 100k datasets."""
    return validation_report(rows, METHODS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1k", "10k"])
    parser.add_argument("--pyshacl-up-to", default="10k",
                        help="largest size for the batched pyshacl path")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--store", type=Path,
                        help="validate this store (built from the size's home when missing); one size")
    parser.add_argument("--per-check", action="store_true",
                        help="time each compiled check alone (one size) instead")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.per_check:
        rows = per_check(synthetic_home(args.work, parse_size(args.sizes[0])), args.store)
        print(per_check_report(rows))
        write_json(args.json, rows)
        return 0
    if args.child:
        n = parse_size(args.sizes[0])
        figures = measure(synthetic_home(args.work, n), args.child, args.batch_size, args.workers,
                          args.store)
        print(json.dumps({**figures, "size": n}))
        return 0
    def methods(n: int) -> tuple[str, ...]:
        return METHODS if n <= parse_size(args.pyshacl_up_to) else ("sparql",)

    store_args = ["--store", str(args.store)] if args.store else []
    rows = variants_per_size(HERE, args.sizes, args.work, methods,
                             lambda home: built_store(home, args.store),
                             ["--batch-size", str(args.batch_size),
                              "--workers", str(args.workers), *store_args])
    print(report(rows))
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
