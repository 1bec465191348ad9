"""Plot cost against size from the JSON the bench scripts write.

    python bench/plot.py --build out/build.json --validation out/validation.json \
        [--load out/plain-load.json] --out bench/cost.png

Left: build seconds and validation seconds (compiled SPARQL, whole-graph pyshacl, batched) against
datasets, and a plain pyoxigraph bulk load of the same quads with its flush: the one
build_bench.py timed in the same run (its rows' `plain_load` and `plain_publish`), or the rows of
--load ({"size", "seconds", "peak_rss_mb"}) when given; right: peak RSS of the runs that
measured it. Log-log axes, so a straight line of slope 1 is linear growth.
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
    else:
        series.append(("plain bulk load + flush, same run", same_run_plain_load(build), "seconds"))
    drawn = []
    for label, rows, key in series:
        if rows:
            xs = [r["size"] for r in rows]
            time_ax.plot(xs, [r[key] for r in rows], marker="o", label=label)
            if all(r.get("peak_rss_mb") is not None for r in rows):
                mem_ax.plot(xs, [r["peak_rss_mb"] for r in rows], marker="o", label=label)
            drawn.append(label)
    time_ax.set(xscale="log", yscale="log", xlabel="datasets", ylabel="seconds",
                title="time against size (2 cores)")
    mem_ax.set(xscale="log", yscale="log", xlabel="datasets", ylabel="peak RSS (MiB)",
               title="peak memory against size")
    for ax in (time_ax, mem_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}: " + "; ".join(drawn))
    return 0


def same_run_plain_load(build: list[dict]) -> list[dict]:
    """The plain bulk load and flush that build_bench.py timed beside each build.

    No memory figure: the bench process's peak is the build's own.
    """
    return [
        {"size": r["size"], "seconds": r["seconds"]["plain_load"] + r["seconds"]["plain_publish"]}
        for r in build if "plain_load" in r.get("seconds", {})
    ]


if __name__ == "__main__":
    sys.exit(main())
