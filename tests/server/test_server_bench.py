"""Smoke run of bench/http_bench.py with tiny bounds: both servers answer and rows are reported."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_http_bench_reports_medkg_and_oxigraph(built_store):
    command = [
        sys.executable,
        str(REPO / "bench" / "http_bench.py"),
        "--store",
        str(built_store),
        "--clients",
        "2",
        "--requests",
        "3",
        "--workers",
        "1",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines()]
    medkg = [r for r in rows if r and r[0] == "medkg"]
    assert medkg and medkg[0][1:4] == ["2", "6", "0"]  # clients, requests, errors
    if shutil.which("oxigraph"):
        oxigraph = [r for r in rows if r[:2] == ["oxigraph", "serve"]]
        assert oxigraph and oxigraph[0][2:5] == ["2", "6", "0"]
