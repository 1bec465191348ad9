"""Helpers shared by the bench scripts: synthetic homes, child processes, peak memory, tables.

Every measurement that reports memory runs in a fresh child process (`run_child`), so the peak
resident set size it reports is that step's own and not left over from an earlier, larger step.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "server"), str(REPO / "bench")]

import synth  # noqa: E402

DEFAULT_WORK = Path("/tmp/medkg-bench")


def parse_size(text: str) -> int:
    """'1k' -> 1000, '1M' -> 1000000, '2500' -> 2500."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def synthetic_home(work: Path, n: int) -> Path:
    """A synthetic project home with n datasets under `work`, generated once and reused."""
    home = work / f"synth-{size_label(n)}"
    if not (home / "data" / "manifest.toml").is_file():
        synth.generate(home, n)
    else:
        synth.copy_tables(home / "data")  # the lists are reused; the tables follow the project
    return home


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB: its own, not its parent's.

    Linux's `ru_maxrss` survives `exec`: a child started by a process that once held 2 GB
    (a bench that built the store first) reports at least 2 GB however little it uses. The
    kernel's `VmHWM` belongs to the process's own memory since it started, so it is read
    where it exists.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_child(script: Path, args: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Run `script --child ARGS` in a fresh Python and return the JSON object it prints last."""
    completed = subprocess.run(
        [sys.executable, str(script), "--child", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table, numbers right-aligned and floats given 3 significant figures."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in text_rows:
        lines.append("| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def slope_per_100k(sizes: Sequence[int], values: Sequence[float]) -> float | None:
    """Least-squares slope of value against size, per 100k datasets (None with < 2 points)."""
    if len(sizes) < 2:
        return None
    mean_x = sum(sizes) / len(sizes)
    mean_y = sum(values) / len(values)
    var = sum((x - mean_x) ** 2 for x in sizes)
    if var == 0:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(sizes, values, strict=True))
    return cov / var * 100_000


def machine() -> dict[str, str]:
    """nproc, memory, CPU model and library versions, for the head of a results file."""
    import os

    import pyoxigraph
    import pyshacl
    import rdflib

    cpu = "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "memory": mem, "cpu": cpu,
            "python": platform.python_version(), "pyoxigraph": pyoxigraph.__version__,
            "pyshacl": pyshacl.__version__, "rdflib": rdflib.__version__}


def size_parser(doc: str | None, repeat: int | None = None) -> argparse.ArgumentParser:
    """Arguments every per-size script shares: --sizes, --work, --json, --child, --repeat."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1k", "10k"])
    if repeat is not None:
        parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser


def each_size_in_a_child(script: Path, sizes: Sequence[str], work: Path, extra: Sequence[str],
                         prepare: Callable[[Path], Any]) -> dict[str, Any]:
    """Per size: `prepare` its synthetic home here, then measure it in a fresh `script --child`."""
    results = {}
    for text in sizes:
        n = parse_size(text)
        prepare(synthetic_home(work, n))
        results[size_label(n)] = run_child(script, ["--sizes", text, "--work", str(work), *extra])
        print(f"measured {size_label(n)}", file=sys.stderr)
    return results


def variants_per_size(script: Path, sizes: Sequence[str], work: Path,
                      variants: Callable[[int], Sequence[str]], prepare: Callable[[Path], Any],
                      extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per size: `prepare` its synthetic home here, then measure each of `variants(size)` (a
    method, a format) in a fresh `script --child VARIANT`; the rows in that order."""
    rows = []
    for text in sizes:
        n = parse_size(text)
        prepare(synthetic_home(work, n))
        for variant in variants(n):
            rows.append(run_child(script, [variant, "--sizes", text, "--work", str(work), *extra]))
            print(f"{size_label(n)} {variant}: {rows[-1]['seconds']:.1f} s", file=sys.stderr)
    return rows


def repeated_per_size(argv: list[str] | None, doc: str | None, script: Path, repeat: int,
                      prepare: Callable[[Path], Path],
                      measure: Callable[[Path, Path, int], dict[str, Any]],
                      report: Callable[[dict[str, Any]], str]) -> int:
    """The `main` of a script that measures each size's built store --repeat times.

    Each size is prepared here (`prepare` builds the synthetic store and returns it) and
    measured in a fresh `script --child`, which calls `measure(store, work, repeat)`; the
    parent prints `report` of every size's figures and writes them with --json.
    """
    args = size_parser(doc, repeat=repeat).parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    if args.child:
        store = prepare(synthetic_home(args.work, parse_size(args.sizes[0])))
        print(json.dumps(measure(store, args.work, args.repeat)))
        return 0
    results = each_size_in_a_child(script, args.sizes, args.work,
                                   ["--repeat", str(args.repeat)], prepare)
    print(report(results))
    write_json(args.json, results)
    return 0


def write_json(path: Path | None, payload: Any) -> None:
    """Save a script's figures for bench/plot.py (and RESULTS.md) when --json is given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def timed_validation(store: Any, validate: Any) -> dict[str, Any]:
    """Run `validate(store)` once: seconds, peak RSS (this process and its children), counts."""
    clock = time.perf_counter()
    result = validate(store)
    seconds = time.perf_counter() - clock
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb() + children, "quads": len(store),
            "counts": result.counts}


def validation_report(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> str:
    """The table of validation runs and, per method, the slope per 100k datasets."""
    lines = [table(("datasets", "method", "quads", "seconds", "datasets/s", "peak RSS MB",
                    "violations", "warnings", "infos"),
                   [(size_label(r["size"]), r["method"], r["quads"], r["seconds"],
                     r["size"] / r["seconds"], r["peak_rss_mb"], r["counts"]["Violation"],
                     r["counts"]["Warning"], r["counts"]["Info"]) for r in rows])]
    lines += slope_lines(rows, "method", methods)
    return "\n".join(lines)


def slope_lines(rows: Sequence[dict[str, Any]], key: str, names: Sequence[str]) -> list[str]:
    """Per name (the rows' `key`), the slope per 100k datasets of seconds and peak RSS."""
    lines = []
    for name in names:
        mine = [r for r in rows if r[key] == name]
        sizes = [r["size"] for r in mine]
        t = slope_per_100k(sizes, [r["seconds"] for r in mine])
        m = slope_per_100k(sizes, [r["peak_rss_mb"] for r in mine])
        if t is not None and m is not None:
            lines.append(f"{name}: slope per 100k datasets {t:.1f} s, {m:.0f} MB")
    return lines
