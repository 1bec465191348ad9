"""Plot cost against size from the JSON the bench scripts write.

    python bench/plot.py --build out/build.json --validation out/validation.json \
        [--load out/plain-load.json] --out bench/cost.png

Left: build seconds and validation seconds (compiled SPARQL, whole-graph pyshacl, batched) against
datasets, and a plain pyoxigraph bulk load of the same quads when --load gives it (rows of
{"size", "seconds", "peak_rss_mb"}); right: peak RSS of the same runs. Log-log axes, so a
straight line of slope 1 is linear growth.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, required=True)
    parser.add_argument("--validation", type=Path, required=True)
    parser.add_argument("--load", type=Path, help="plain bulk-load figures, for comparison")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("cost.png"))
    args = parser.parse_args(argv)
    build = json.loads(args.build.read_text())
    validation = json.loads(args.validation.read_text())
    fig, (time_ax, mem_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = [("build (no validation)", build, "build_s")]
    for method in ("sparql", "whole", "batched"):
        series.append((f"validation, {method}", [r for r in validation if r["method"] == method],
                       "seconds"))
    if args.load:
        series.append(("plain bulk load", json.loads(args.load.read_text()), "seconds"))
    for label, rows, key in series:
        if rows:
            xs = [r["size"] for r in rows]
            time_ax.plot(xs, [r[key] for r in rows], marker="o", label=label)
            mem_ax.plot(xs, [r["peak_rss_mb"] for r in rows], marker="o", label=label)
    time_ax.set(xscale="log", yscale="log", xlabel="datasets", ylabel="seconds",
                title="time against size (2 cores)")
    mem_ax.set(xscale="log", yscale="log", xlabel="datasets", ylabel="peak RSS (MiB)",
               title="peak memory against size")
    for ax in (time_ax, mem_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
