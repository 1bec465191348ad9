"""Smoke runs of the bench scripts at tiny sizes: each produces its figures (no timing asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import synth  # noqa: E402


def run_script(name: str, *args: str, timeout: float = 300) -> str:
    completed = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True,
                               text=True, timeout=timeout, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_synth_writes_lists_the_pipeline_reads(tmp_path: Path) -> None:
    from medkg.build import assemble
    from medkg.config import load_settings

    rows = synth.generate(tmp_path / "home", 40)
    assert rows == 40 + 4  # every tenth dataset is listed twice
    result = assemble(load_settings(home=tmp_path / "home", store=tmp_path / "store"))
    assert result.report["datasets"] == 40
    assert result.report["datasets_in_several_lists"] == 4
    assert result.report["mapping"]["percent"] > 90  # the cells use real vocabulary labels


def test_synth_is_deterministic(tmp_path: Path) -> None:
    synth.generate(tmp_path / "a", 30, seed=3)
    synth.generate(tmp_path / "b", 30, seed=3)
    for path in (tmp_path / "a" / "data" / "sources").glob("*.md"):
        assert path.read_bytes() == (tmp_path / "b" / "data" / "sources" / path.name).read_bytes()


def test_build_bench_prints_its_figures(tmp_path: Path) -> None:
    out = run_script("build_bench.py", "--sizes", "50", "--work", str(tmp_path),
                     "--json", str(tmp_path / "build.json"))
    assert "records/s" in out and "load ratio" in out and "plain_load" in out
    [row] = json.loads((tmp_path / "build.json").read_text())
    assert row["datasets"] == 50 and row["stored"] > 0 and row["load_ratio"] > 0


def test_validation_bench_runs_both_paths_and_they_agree(tmp_path: Path) -> None:
    out = run_script("validation_bench.py", "--sizes", "30", "--work", str(tmp_path),
                     "--batch-size", "10", "--json", str(tmp_path / "v.json"))
    assert "whole" in out and "batched" in out
    rows = json.loads((tmp_path / "v.json").read_text())
    assert {r["method"] for r in rows} == {"whole", "batched"}
    assert rows[0]["counts"] == rows[1]["counts"]


def test_query_bench_times_every_example_query(tmp_path: Path) -> None:
    out = run_script("query_bench.py", "--sizes", "30", "--repeat", "1", "--work", str(tmp_path),
                     "--json", str(tmp_path / "q.json"))
    rows = json.loads((tmp_path / "q.json").read_text())["30"]
    queries = {p.stem for p in (ROOT / "data" / "example-queries").glob("*.rq")}
    assert {r["query"] for r in rows if r["where"] == "store"} == queries
    assert {r["query"] for r in rows if r["where"] == "endpoint"} == queries
    assert "endpoint/store" in out


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("oxigraph") is None, reason="oxigraph CLI not installed")
def test_http_suite_reports_every_server_and_workload(tmp_path: Path) -> None:
    out = run_script("http_suite.py", "--size", "30", "--clients", "2", "--requests", "2",
                     "--workloads", "repeated", "light", "pages", "pages-rdf",
                     "--work", str(tmp_path),
                     "--json", str(tmp_path / "h.json"), timeout=600)
    result = json.loads((tmp_path / "h.json").read_text())
    servers = {x["server"] for x in result["loads"]}
    assert {"medkg", "oxigraph serve"} <= servers
    assert all(x["errors"] == 0 for x in result["loads"])
    assert {x["workload"] for x in result["loads"]} == {"repeated", "light", "pages", "pages-rdf"}
    assert "trivial p95" in out


def test_pages_bench_times_each_page_and_the_index(tmp_path: Path) -> None:
    out = run_script("pages_bench.py", "--sizes", "60", "--repeat", "2", "--work", str(tmp_path),
                     "--json", str(tmp_path / "pages.json"))
    assert "index build s" in out and "browse organ+modality" in out
    result = json.loads((tmp_path / "pages.json").read_text())["60"]
    assert result["datasets"] == 60 and result["index_build_s"] > 0
    assert {p["page"] for p in result["pages"]} >= {"stats", "browse", "browse search"}
    assert all(p["p50"] > 0 for p in result["pages"])
