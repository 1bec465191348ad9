"""Export time and peak memory against size, per format.

    python bench/export_bench.py --sizes 1k 10k 100k [--formats csv croissant schemaorg dcat nt]
                                 [--json out.json]

`--formats` takes medkg's export formats, and `dcat-jsonld` for the DCAT catalogue as JSON-LD.

For each size N, the synthetic store of bench/validation_bench.py (built once, reused) is
exported with `medkg.export.export`, each format in a fresh process so that its peak RSS is its
own. The output goes under --work and is removed after it is measured.
Figures: seconds, datasets/s, peak RSS, the output's size (MB, files), and per format the slope
per 100k datasets of seconds and peak RSS. An export that held the whole catalogue in memory
shows a memory slope; one that reads a dataset at a time shows almost none.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from common import (DEFAULT_WORK, parse_size, peak_rss_mb, size_label, slope_lines,
                    synthetic_home, table, variants_per_size, write_json)
from validation_bench import built_store

from medkg.config import load_settings
from medkg.export import FORMATS, export

HERE = Path(__file__).resolve()
DEFAULT_FORMATS = ("csv", "croissant", "schemaorg", "dcat", "nt")
# what the bench calls a format -> medkg's format and the output's suffix
BENCH_FORMATS = {**{fmt: (fmt, "") for fmt in FORMATS}, "dcat-jsonld": ("dcat", ".jsonld")}


def measure(home: Path, name: str, work: Path) -> dict[str, Any]:
    """Export the home's store as the bench format `name` once; time, peak memory and what was
    written."""
    settings = load_settings(home=home, store=built_store(home))
    fmt, suffix = BENCH_FORMATS[name]
    out = work / f"export-{home.name}-{name}{suffix}"
    clock = time.perf_counter()
    written = export(settings, fmt, out, quiet=True)
    seconds = time.perf_counter() - clock
    files = [p for p in written.rglob("*") if p.is_file()] if written.is_dir() else [written]
    size_mb = sum(p.stat().st_size for p in files) / 2**20
    if written.is_dir():
        shutil.rmtree(written)
    else:
        written.unlink()
    return {"format": name, "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
            "output_mb": size_mb, "files": len(files)}


def report(rows: list[dict[str, Any]]) -> str:
    lines = [table(("size", "format", "seconds", "datasets/s", "peak RSS MB", "output MB",
                    "files"),
                   [(size_label(r["size"]), r["format"], r["seconds"], r["size"] / r["seconds"],
                     r["peak_rss_mb"], r["output_mb"], r["files"]) for r in rows])]
    lines += slope_lines(rows, "format", list(dict.fromkeys(r["format"] for r in rows)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1k", "10k"])
    parser.add_argument("--formats", nargs="+", default=list(DEFAULT_FORMATS),
                        choices=list(BENCH_FORMATS))
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=list(BENCH_FORMATS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n = parse_size(args.sizes[0])
        figures = measure(synthetic_home(args.work, n), args.child, args.work)
        print(json.dumps({**figures, "size": n}))
        return 0
    rows = variants_per_size(HERE, args.sizes, args.work, lambda n: args.formats, built_store)
    print(report(rows))
    write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
