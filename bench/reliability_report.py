"""Run the reliability suites at full length and write bench/RELIABILITY.md with their figures.

    python bench/reliability_report.py [--load-seconds 60] [--clients 64] [--crash-rounds 20]
                                       [--fuzz-examples 500] [--schema-examples 40] [--out FILE]
                                       [--select EXPR]

The suites are the tests in tests/reliability/ (one source for what is checked): this script runs
them with pytest, longer bounds set through MEDKG_* environment variables, and a figures file
that the tests append to (tests/reliability/reliability_figures.py). It then renders the figures
as tables. The run stays on loopback; the exit code is pytest's. `--select` passes a pytest `-k`
expression, to rerun one suite; the sections of suites that did not run say so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medkg_server.settings import DEFAULTS

REPO = Path(__file__).resolve().parents[1]
SUITES = REPO / "tests" / "reliability"
DEFAULT_OUT = REPO / "bench" / "RELIABILITY.md"


def run_suites(args: argparse.Namespace, figures: Path, work: Path) -> tuple[int, str, float]:
    """Run pytest over tests/reliability with the long bounds: (exit code, tail, seconds)."""
    env = {
        **os.environ,
        "MEDKG_RELIABILITY_FIGURES": str(figures),
        "MEDKG_LOAD_SECONDS": str(args.load_seconds),
        "MEDKG_LOAD_CLIENTS": str(args.clients),
        "MEDKG_CRASH_ROUNDS": str(args.crash_rounds),
        "MEDKG_FUZZ_EXAMPLES": str(args.fuzz_examples),
        "MEDKG_SCHEMA_EXAMPLES": str(args.schema_examples),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "server"),
                                       os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "pytest", str(SUITES), "-q", "-p", "no:cacheprovider",
               "-W", "ignore::DeprecationWarning", f"--basetemp={work / 'pytest'}"]
    if args.select:
        command += ["-k", args.select]
    started = time.monotonic()
    run = subprocess.run(
        command,
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )
    tail = "\n".join(run.stdout.strip().splitlines()[-15:])
    return run.returncode, tail, time.monotonic() - started


def read_figures(path: Path) -> dict[str, list[dict[str, Any]]]:
    suites: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            suites[entry.pop("suite")].append(entry)
    return suites


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def load_section(entries: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    runs = [e for e in entries if "requests" in e]
    if runs:
        lines += _table(
            ["clients", "seconds", "requests held", "failed", "req/s", "p50 ms", "p99 ms",
             "RSS start MB", "RSS end MB"],
            [[r["clients"], r["seconds"], r["requests"], r["failures"], r["per_second"],
              r["p50_ms"], r["p99_ms"], r["rss_start_mb"], r["rss_end_mb"]] for r in runs],
        )
    for entry in entries:
        if "slowest_ms" in entry:
            lines += ["", (f"While two pathological queries ran, the slowest /health plus simple "
                          f"query round trip took {entry['slowest_ms']} ms.")]
    lines += ["", ("Requests: the README's example questions, HTML and Turtle pages of every "
                  "dataset, organ, modality and challenge, /browse, /stats, /void, /health; "
                  f"production settings ({DEFAULTS['WORKERS']} workers x "
                  f"{DEFAULTS['THREADS']} threads, {DEFAULTS['EXECUTORS']} query processes each, "
                  "30 s limit). "
                  "RSS: the server's whole process tree."), ""]
    return lines


def hostile_section(entries: list[dict[str, Any]]) -> list[str]:
    stopped = sum(1 for e in entries if e["expect"] in ("timeout", "truncated", "too_large",
                                                          "refused"))
    lines = [(f"{stopped} of {len(entries)} stopped as expected (time limit 2 s; a pass needs an "
             "answer within the limit plus one second and a normal query to succeed afterwards)."),
             ""]
    lines += _table(["query", "expected", "status", "seconds"],
                    [[e["name"], e["expect"], e["status"], e["seconds"]] for e in entries])
    return lines + [""]


def ssrf_section(entries: list[dict[str, Any]]) -> list[str]:
    lines = _table(["attempts", "kind", "refused or local-only", "fetches recorded"],
                   [[e["attempts"], e["kind"], e["refused"], e["fetched"]] for e in entries])
    total = sum(e["attempts"] for e in entries)
    fetched = sum(e["fetched"] for e in entries)
    return lines + ["", (f"{total} attempts, {fetched} outbound requests recorded by the "
                        "loopback listener; no canary content in any answer."), ""]


def crash_section(entries: list[dict[str, Any]]) -> list[str]:
    rounds = [e for e in entries if "round" in e]
    summary = next((e for e in entries if e.get("summary")), {})
    lines: list[str] = []
    if summary:
        lines += [(f"{summary['survived']} of {summary['rounds']} SIGKILLed builds left a store "
                  f"that opens and matches its report; the server answered "
                  f"{summary['server_requests']} requests meanwhile with "
                  f"{summary['server_failures']} failures and switched to the final build. "
                  f"A full build takes {summary['build_seconds']} s."), ""]
    lines += _table(["round", "killed after s", "new version published", "datasets", "quads"],
                    [[r["round"], r["killed_after_s"], r["published"], r["datasets"], r["quads"]]
                     for r in rounds])
    return lines + [""]


SECTIONS: list[tuple[str, str, Callable[[list[dict[str, Any]]], list[str]]]] = [
    ("load", "Load", load_section),
    ("hostile", "Hostile queries", hostile_section),
    ("ssrf", "SSRF and updates without the token", ssrf_section),
    ("crash", "Crash safety", crash_section),
]


def render(figures: dict[str, list[dict[str, Any]]], args: argparse.Namespace, code: int,
           tail: str, seconds: float) -> str:
    lines = [
        "# medkg reliability report",
        "",
        (f"Produced by `python bench/reliability_report.py` on {time.strftime('%Y-%m-%d')} "
        f"({platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores); the suites are tests/reliability/ run with longer bounds "
        f"(load {args.load_seconds} s x {args.clients} clients, {args.crash_rounds} crash rounds, "
        f"{args.fuzz_examples} fuzz examples per property, {args.schema_examples} schemathesis "
        f"examples per operation). pytest exit code {code}, {seconds:.0f} s in all."),
        "",
    ]
    for suite, title, section in SECTIONS:
        lines += [f"## {title}", ""]
        if figures.get(suite):
            lines += section(figures[suite])
        else:
            lines += [f"Not run in this report (selection: `{args.select}`).", ""]
    lines += ["## Also checked", "",
              ("- hostile input files (XXE, entity bombs, remote JSON-LD contexts, deep or huge "
              "JSON-LD, malformed Turtle and markdown) give exit code 1/2 with the file named, no "
              "network access, no canary content (test_input_files.py);"),
              ("- escaped markup, 404 for traversal and odd characters, 413 for oversized bodies "
              "(test_web.py);"),
              (f"- the markdown reader over {args.fuzz_examples} generated documents per property "
              "(test_fuzz_markdown.py);"),
              ("- schemathesis against /openapi.json: no 5xx, answers match the description "
              "(test_openapi.py)."),
              "", "pytest summary:", "", "```", tail, "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--crash-rounds", type=int, default=20)
    parser.add_argument("--fuzz-examples", type=int, default=500)
    parser.add_argument("--schema-examples", type=int, default=40)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--select", metavar="EXPR", help="pytest -k expression: run only these")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="medkg-reliability-") as work:
        figures_file = Path(work) / "figures.jsonl"
        code, tail, seconds = run_suites(args, figures_file, Path(work))
        figures = read_figures(figures_file)
    args.out.write_text(render(figures, args, code, tail, seconds), encoding="utf-8")
    print(f"wrote {args.out} (pytest exit code {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
