"""Smoke runs of the bench scripts at tiny sizes: each produces its figures (no timing asserted)."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

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


def test_a_reused_synthetic_home_gets_the_projects_current_tables(tmp_path: Path) -> None:
    import common

    home = common.synthetic_home(tmp_path, 20)
    lists = {p.name: p.read_bytes() for p in (home / "data" / "sources").glob("*.md")}
    # a home made before the project gained a table, or with an older copy of one
    (home / "data" / "count-splits.tsv").unlink()
    (home / "data" / "curation" / "entries.tsv").write_text("stale\n", encoding="utf-8")
    assert common.synthetic_home(tmp_path, 20) == home
    for table in (synth.REPO / "data").glob("*.tsv"):
        assert (home / "data" / table.name).read_bytes() == table.read_bytes()
    real = synth.REPO / "data" / "curation" / "entries.tsv"
    assert (home / "data" / "curation" / "entries.tsv").read_bytes() == real.read_bytes()
    # the lists themselves are reused, not generated again
    assert {p.name: p.read_bytes() for p in (home / "data" / "sources").glob("*.md")} == lists



def test_a_child_reports_its_own_peak_memory_not_its_parents() -> None:
    # a bench that built the store in its own process, then measures in a fresh child
    held = bytearray(600 * 1024 * 1024)
    held[:: 4096] = b"\1" * len(held[:: 4096])  # touch every page, so it is resident
    code = "import common; print(common.peak_rss_mb())"
    child = subprocess.run([sys.executable, "-c", code], cwd=BENCH, capture_output=True,
                           text=True, check=True)
    assert float(child.stdout.split()[-1]) < 400  # the child's own: an interpreter and imports
    import common
    assert common.peak_rss_mb() >= 600  # and this process's own peak counts what it held
    del held

def test_build_bench_prints_its_figures(tmp_path: Path) -> None:
    out = run_script("build_bench.py", "--sizes", "50", "--work", str(tmp_path),
                     "--json", str(tmp_path / "build.json"))
    assert "records/s" in out and "load ratio" in out and "plain_load" in out
    [row] = json.loads((tmp_path / "build.json").read_text())
    assert row["datasets"] == 50 and row["stored"] > 0 and row["load_ratio"] > 0
    assert row["floor"] == {}  # not asked for


def test_build_bench_loads_the_first_quads_alone_as_the_engines_floor(tmp_path: Path) -> None:
    out = run_script("build_bench.py", "--sizes", "50", "--work", str(tmp_path),
                     "--floor-per-dataset", "20", "--json", str(tmp_path / "build.json"))
    assert "bulk load of the first quads only" in out
    [row] = json.loads((tmp_path / "build.json").read_text())
    floor = row["floor"]
    assert row["quads"] > 1000 and floor["quads"] == 20 * 50
    assert 0 < floor["stored"] <= floor["quads"]
    assert floor["seconds"]["load"] > 0 and floor["seconds"]["publish"] > 0
    assert not list((tmp_path / "build-50").glob("*.nq"))  # its N-Quads files are removed


def test_build_bench_refuses_a_negative_floor_before_building(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH / "build_bench.py"), "--sizes", "50", "--work", str(tmp_path),
         "--floor-per-dataset", "-1"], capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 2
    assert "--floor-per-dataset must be 0 or more, not -1" in completed.stderr
    assert not list(tmp_path.iterdir())  # nothing generated or built


def test_validation_bench_runs_both_paths_and_they_agree(tmp_path: Path) -> None:
    out = run_script("validation_bench.py", "--sizes", "30", "--work", str(tmp_path),
                     "--batch-size", "10", "--json", str(tmp_path / "v.json"))
    assert "whole" in out and "batched" in out
    rows = json.loads((tmp_path / "v.json").read_text())
    assert {r["method"] for r in rows} == {"whole", "batched"}
    assert rows[0]["counts"] == rows[1]["counts"]



def test_sparql_validation_bench_agrees_with_pyshacl(tmp_path: Path) -> None:
    out = run_script("sparql_validation_bench.py", "--sizes", "30", "--work", str(tmp_path),
                     "--batch-size", "10", "--json", str(tmp_path / "v.json"))
    assert "datasets/s" in out and "|       30 |  sparql |" in out
    rows = {r["method"]: r for r in json.loads((tmp_path / "v.json").read_text())}
    assert set(rows) == {"sparql", "batched"}
    assert rows["sparql"]["counts"] == rows["batched"]["counts"]
    assert rows["sparql"]["quads"] > 0 and rows["sparql"]["peak_rss_mb"] > 0


def test_sparql_validation_bench_times_each_check(tmp_path: Path) -> None:
    out = run_script("sparql_validation_bench.py", "--sizes", "30", "--work", str(tmp_path),
                     "--per-check", "--json", str(tmp_path / "checks.json"))
    checks = json.loads((tmp_path / "checks.json").read_text())
    assert len(checks) > 20  # one row per compiled check of ontology/shapes.ttl
    assert any(r["check"].startswith("target: ") for r in checks)  # plans decided and timed
    assert "ChallengeAfterReleaseShape" in out and "queries" in out.splitlines()[-1]


def test_plot_draws_cost_against_size_from_the_benches_json(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    run_script("build_bench.py", "--sizes", "20", "40", "--work", str(tmp_path),
               "--json", str(tmp_path / "build.json"))
    run_script("validation_bench.py", "--sizes", "20", "40", "--work", str(tmp_path),
               "--batch-size", "10", "--json", str(tmp_path / "validation.json"))
    out = run_script("plot.py", "--build", str(tmp_path / "build.json"),
                     "--validation", str(tmp_path / "validation.json"),
                     "--out", str(tmp_path / "cost.png"))
    png = (tmp_path / "cost.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    # every series drawn, the plain bulk load taken from the build bench's own run
    for series in ("build (no validation)", "validation, whole", "validation, batched",
                   "plain bulk load + flush, same run"):
        assert series in out

def test_query_bench_times_every_example_query(tmp_path: Path) -> None:
    out = run_script("query_bench.py", "--sizes", "30", "--repeat", "1", "--work", str(tmp_path),
                     "--json", str(tmp_path / "q.json"))
    rows = json.loads((tmp_path / "q.json").read_text())["30"]
    queries = {p.stem for p in (ROOT / "data" / "example-queries").glob("*.rq")}
    assert {r["query"] for r in rows if r["where"] == "store"} == queries
    assert {r["query"] for r in rows if r["where"] == "memory"} == queries
    assert {r["query"] for r in rows if r["where"] == "endpoint"} == queries
    assert "endpoint/store" in out and "disk/memory" in out


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("oxigraph") is None, reason="oxigraph CLI not installed")
def test_http_suite_reports_every_server_and_workload(tmp_path: Path) -> None:
    out = run_script("http_suite.py", "--size", "30", "--clients", "2", "--requests", "2",
                     "--client", "python",
                     "--workloads", "repeated", "light", "pages", "pages-rdf", "--rounds", "2",
                     "--work", str(tmp_path),
                     "--json", str(tmp_path / "h.json"), timeout=600)
    result = json.loads((tmp_path / "h.json").read_text())
    assert result["client"] == "python" and result["rounds"] == 2
    servers = {x["server"] for x in result["loads"]}
    assert {"medkg", "oxigraph serve"} <= servers
    assert all(x["errors"] == 0 for x in result["loads"])
    assert {x["workload"] for x in result["loads"]} == {"repeated", "light", "pages", "pages-rdf"}
    # every server measured once per round, the servers taking turns
    runs = [(x["workload"], x["round"], x["server"]) for x in result["loads"]]
    assert len(runs) == len(set(runs)) == 4 * 2 * len(servers)
    assert [x["round"] for x in result["loads"][: 2 * len(servers)]] == sorted(
        [1, 2] * len(servers))
    assert "trivial p95" in out and "load generator: python" in out
    assert "server CPU ms/req" in out and "p99 x oxigraph" in out
    assert "median of the rounds" in out
    # The CPU column is there for every run. A few requests may cost less than one clock tick
    # (10 ms) in all, so that it is above zero is checked under the steady load of the wrk test.
    assert all(x["server_cpu_ms"] >= 0 for x in result["loads"])


WORKLOADS = ("repeated", "distinct", "light", "pages", "pages-rdf")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (apt-get install wrk)")
@pytest.mark.skipif(shutil.which("oxigraph") is None, reason="oxigraph CLI not installed")
def test_http_suite_with_wrk_measures_every_workload(tmp_path: Path) -> None:
    out = run_script("http_suite.py", "--size", "30", "--clients", "2", "--client", "wrk",
                     "--seconds", "0.5", "--servers", "medkg", "oxigraph",
                     "--workloads", *WORKLOADS, "--work", str(tmp_path),
                     "--json", str(tmp_path / "h.json"), timeout=600)
    result = json.loads((tmp_path / "h.json").read_text())
    assert result["client"].startswith("wrk ") and result["seconds_per_run"] == 0.5
    assert "load generator: wrk" in out
    for server in ("medkg", "oxigraph serve"):
        mine = {x["workload"]: x for x in result["loads"] if x["server"] == server}
        assert set(mine) == set(WORKLOADS)
        for x in mine.values():
            assert x["requests"] > 0 and x["errors"] == 0, x
            assert 0.3 < x["seconds"] < 5 and x["p50_ms"] > 0, x
        # half a second of steady load registers in the server's CPU clock ticks
        assert sum(x["server_cpu_ms"] for x in mine.values()) > 0, mine


# what bench/wrk/paths.lua's done() prints after wrk's own summary
WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:40000
  2 threads and 16 connections
  32248 requests in 1.00s, 14.61MB read
Requests/sec:  32248.52
wrk-figure requests 32250
wrk-figure duration_us 1000081
wrk-figure bytes 15318750
wrk-figure errors_connect 0
wrk-figure errors_read 1
wrk-figure errors_write 0
wrk-figure errors_status 2
wrk-figure errors_timeout 0
wrk-figure non2xx 5
wrk-figure latency_p50_us 335
wrk-figure latency_p99_us 62172
wrk-figure latency_max_us 102491
"""


def test_wrk_figures_are_read_from_the_lua_summary() -> None:
    import http_suite

    figures = http_suite.parse_wrk_figures(WRK_OUTPUT)
    assert figures["requests"] == 32250 and figures["duration_us"] == 1000081
    assert figures["latency_p50_us"] == 335 and figures["latency_p99_us"] == 62172
    # a read error plus every non-2xx answer; wrk's status count (> 399) is within non2xx
    assert http_suite.wrk_errors(figures) == 6
    with pytest.raises(ValueError, match="latency_p99_us"):
        http_suite.parse_wrk_figures(WRK_OUTPUT.replace("wrk-figure latency_p99_us", "x"))
    assert [http_suite.wrk_threads(n, 2) for n in (1, 2, 3, 16, 64)] == [1, 2, 1, 2, 2]


def test_the_medians_of_the_rounds_and_their_ratios_to_oxigraph_serve() -> None:
    import http_suite

    def run(server: str, number: int, rps: float, p99: float) -> dict:
        return {"server": server, "workload": "light", "clients": 64, "round": number,
                "requests": 1, "errors": 0, "rps": rps, "p50_ms": 1.0, "p99_ms": p99,
                "client_cpu": 0.5, "server_cpu_ms": 0.1}

    loads = [run("medkg", 1, 100.0, 30.0), run("oxigraph serve", 1, 400.0, 10.0),
             run("medkg", 2, 300.0, 10.0), run("oxigraph serve", 2, 200.0, 50.0),
             run("medkg", 3, 200.0, 20.0), run("oxigraph serve", 3, 300.0, 5.0)]
    rows = [line.split("|")[1:-1] for line in http_suite.medians(loads).splitlines()
            if line.startswith("|") and not line.startswith("|-")]
    lines = {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}
    # medians: medkg 200 req/s and 20 ms, oxigraph serve 300 req/s and 10 ms
    assert lines["medkg"] == ["light", "64", "3", "200", "0.667", "1", "20", "2"]
    assert lines["oxigraph serve"] == ["light", "64", "3", "300", "1", "1", "10", "1"]
    result = {"client": "wrk", "wrk_threads": 2, "seconds_per_run": 5, "rounds": 3,
              "loads": loads, "servers": {}}
    text = http_suite.report(result)
    # per run, each server against oxigraph serve in the same round: 30 / 10 ms in round 1
    first = next(line for line in text.splitlines() if line.startswith("|          medkg"))
    assert [c.strip() for c in first.split("|")[1:-1]][7:11] == ["0.25", "1", "30", "3"]
    assert "median of the rounds" in text


def test_wrk_requests_are_made_unique_like_the_python_clients() -> None:
    import http_suite
    from http_bench import Server

    medkg = Server("medkg", "127.0.0.1", 1, "/sparql", None)  # type: ignore[arg-type]
    oxigraph = Server("oxigraph serve", "127.0.0.1", 1, "/query", None)  # type: ignore[arg-type]
    assert http_suite.unique_tag(medkg, "repeated", "") == ""
    assert http_suite.unique_tag(medkg, "pages", "warm") == "?_=warm"
    assert http_suite.unique_tag(oxigraph, "pages", "") == "%0A%23+"  # "\n# " as in distinct
    paths = http_suite.cycle_paths(oxigraph, "distinct", ["a", "b"], ["ASK {}", "ASK { ?s ?p ?o }"],
                                   "https://w3id.org/medkg/")
    assert paths == [http_suite.query_path(oxigraph, q) for q in ["ASK {}", "ASK { ?s ?p ?o }"]]


def test_python_client_light_and_page_requests_are_all_distinct() -> None:
    import http_suite
    from http_bench import Server

    medkg = Server("medkg", "127.0.0.1", 1, "/sparql", None)  # type: ignore[arg-type]
    oxigraph = Server("oxigraph serve", "127.0.0.1", 1, "/query", None)  # type: ignore[arg-type]
    base = "https://w3id.org/medkg/"
    for server in (medkg, oxigraph):
        for workload in ("light", "pages", "pages-rdf"):
            paths = http_suite.unique_paths(server, workload, ["a", "b"], ["ASK {}"], 7, base)
            assert len(set(paths)) == 7, (server.name, workload)  # 7 requests over 2 datasets
    repeated = http_suite.unique_paths(medkg, "repeated", ["a"], ["ASK {}"], 3, base)
    assert len(set(repeated)) == 1  # what a result cache answers stays repeated


def test_a_medkg_named_for_its_threads_gets_medkgs_pages_and_setting(monkeypatch) -> None:
    import http_bench
    import http_suite
    from http_bench import Server

    started: list[dict[str, str]] = []

    def popen(command, env, **kwargs):  # type: ignore[no-untyped-def]
        started.append(env)
        return None

    monkeypatch.setattr(http_bench.subprocess, "Popen", popen)
    monkeypatch.setattr(http_bench, "wait_ready", lambda *args: None)
    four = http_bench.start_medkg(Path("store"), 2, 4)
    default = http_bench.start_medkg(Path("store"), 2)
    assert (four.name, four.kind) == ("medkg (4 threads)", "medkg")
    assert started[0]["MEDKG_THREADS"] == "4" and started[0]["MEDKG_WORKERS"] == "2"
    assert default.name == "medkg"
    assert started[1].get("MEDKG_THREADS") == http_bench.os.environ.get("MEDKG_THREADS")
    # medkg's own pages and Accept, whatever the name says
    base = "https://w3id.org/medkg/"
    assert http_suite.workload_paths(four, "pages", ["a"], [], 1, base) == ["/dataset/a"]
    assert http_suite.accept_for(four, "pages") == "text/html"
    assert http_suite.unique_tag(four, "pages", "x") == "?_=x"
    oxigraph = Server("oxigraph serve", "127.0.0.1", 1, "/query", None)  # type: ignore[arg-type]
    assert oxigraph.kind == "oxigraph serve"
    assert http_suite.accept_for(oxigraph, "pages") == "text/turtle"


@pytest.mark.slow
def test_http_suite_compares_thread_counts_turn_by_turn(tmp_path: Path) -> None:
    run_script("http_suite.py", "--size", "30", "--clients", "2", "--requests", "2",
               "--client", "python", "--servers", "medkg", "--medkg-threads", "2", "3",
               "--workloads", "light", "pages", "--work", str(tmp_path),
               "--json", str(tmp_path / "h.json"), timeout=600)
    result = json.loads((tmp_path / "h.json").read_text())
    names = ["medkg (2 threads)", "medkg (3 threads)"]
    assert [x["server"] for x in result["loads"]] == names * 2  # taking turns, per workload
    assert all(x["errors"] == 0 for x in result["loads"])
    assert sorted(result["servers"]) == names


class Recorder(http.server.BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 server side that records each request and answers 404 to /missing."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Accept", "")))
        status = 404 if self.path.startswith("/missing") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: wrk sends thousands


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # wrk resets its connections when it stops


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (apt-get install wrk)")
def test_paths_lua_sends_the_listed_paths_tagged_with_the_accept_header() -> None:
    import http_suite
    from http_bench import Server

    long_path = "/q?query=" + "x" * 12_000  # long paths are read whole from the list
    paths = ["/a", long_path, "/b", "/missing"]
    Recorder.seen = []
    server = QuietServer(("127.0.0.1", 0), Recorder)
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    try:
        port = server.server_address[1]
        target = Server("test", "127.0.0.1", port, "/", None)  # type: ignore[arg-type]
        figures, cpu = http_suite.run_wrk(target, paths, 4, "text/x-test", 0.5, "%0A%23+t", 2)
    finally:
        server.shutdown()
        server.server_close()
    seen = list(Recorder.seen)
    assert figures["requests"] > 0 and 0.3 < figures["duration_us"] / 1e6 < 2 and cpu > 0
    assert figures["non2xx"] > 0 and http_suite.wrk_errors(figures) == figures["non2xx"]
    assert {accept for _, accept in seen} == {"text/x-test"}
    assert len({path for path, _ in seen}) == len(seen)  # every request unique
    assert {path.rsplit("%0A%23+t", 1)[0] for path, _ in seen} == set(paths)
    # each thread goes round the list from its own offset, thread 0 from the first path and
    # thread 1 from half-way; tag `<thread>-<n>` is its n-th request() (wrk calls thread 0's
    # once before the run to check it, and does not send that one)
    offsets = {"0": 0, "1": 2}
    for path, _ in seen:
        listed, tag = path.rsplit("%0A%23+t", 1)
        thread, n = tag.split("-")
        assert paths.index(listed) == (offsets[thread] + int(n) - 1) % len(paths), tag


class Backlogged(http.server.BaseHTTPRequestHandler):
    """Answers slowly until `slow` requests have come, then at once (a server with a backlog)."""

    protocol_version = "HTTP/1.1"
    slow: ClassVar[int] = 0
    count: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).count += 1
        if self.count <= self.slow:
            time.sleep(0.3)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_settle_waits_until_a_trivial_query_is_quick() -> None:
    import http_suite
    from http_bench import Server

    Backlogged.slow, Backlogged.count = 3, 0
    server = QuietServer(("127.0.0.1", 0), Backlogged)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = Server("test", "127.0.0.1", server.server_address[1], "/q", None)  # type: ignore[arg-type]
        waited = http_suite.settle(target, quick=0.2, patience=30)
    finally:
        server.shutdown()
        server.server_close()
    assert Backlogged.count == 4  # three slow answers, then the quick one
    assert waited >= 3 * 0.3


def test_pages_bench_times_each_page_and_the_index(tmp_path: Path) -> None:
    out = run_script("pages_bench.py", "--sizes", "60", "--repeat", "2", "--work", str(tmp_path),
                     "--json", str(tmp_path / "pages.json"))
    assert "store open s" in out and "index build s" in out and "browse organ+modality" in out
    result = json.loads((tmp_path / "pages.json").read_text())["60"]
    assert result["datasets"] == 60 and result["index_build_s"] > 0 and result["store_open_s"] > 0
    assert {p["page"] for p in result["pages"]} >= {"stats", "browse", "browse search"}
    assert all(p["p50"] > 0 for p in result["pages"])


def test_update_bench_times_updates_and_the_reference_and_leaves_the_store(tmp_path: Path) -> None:
    out = run_script("update_bench.py", "--sizes", "40", "--repeat", "2", "--work", str(tmp_path),
                     "--json", str(tmp_path / "update.json"))
    assert "x reference" in out and "|   40 |" in out
    figures = json.loads((tmp_path / "update.json").read_text())["40"]
    assert figures["updates"] == 2 and figures["quads"] > 0
    assert figures["update_s"] > 0 and figures["reference_s"] > 0 and figures["open_s"] > 0
    assert "open s" in out
    # the measured copy is thrown away; the synthetic store it came from was not written to
    assert not list(tmp_path.glob("update-*"))
    from medkg import store as medkg_store
    assert len(medkg_store.open_read_only(tmp_path / "synth-40" / "store")) == figures["quads"]


def test_after_write_bench_writes_pages_and_memory_and_leaves_the_store(tmp_path: Path) -> None:
    out = run_script("after_write_bench.py", "--sizes", "40", "--repeat", "2",
                     "--work", str(tmp_path), "--json", str(tmp_path / "after.json"), timeout=600)
    assert "browse after s" in out and "MB per write" in out and "|   40 |" in out
    figures = json.loads((tmp_path / "after.json").read_text())["40"]
    assert figures["writes"] == 2 and len(figures["worker_mb"]) == 3
    assert figures["write_s"] > 0 and figures["browse_after_s"] > 0 and figures["page_after_s"] > 0
    assert figures["browse_ready_s"] > 0 and 0 <= figures["stale"] <= 2 and figures["page_s"] > 0
    assert all(mb > 0 for mb in figures["worker_mb"])
    assert not list(tmp_path.glob("after-write-*"))  # the scratch copy is thrown away


def test_server_cpu_counts_the_whole_process_tree() -> None:
    """A child's CPU counts towards its parent's tree: the query processes are children."""
    import http_suite

    code = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    parent = subprocess.Popen(
        [sys.executable, "-c",
         f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {code!r}]); "
         "time.sleep(3)"]
    )
    try:
        time.sleep(1.5)
        tree = http_suite.process_tree(parent.pid)
        assert len(tree) == 2 and tree[0] == parent.pid
        assert http_suite.tree_cpu_seconds(parent.pid) >= 0.25  # the child's busy loop
    finally:
        parent.kill()
        parent.wait()


def test_repeated_questions_are_each_answered_once_before_the_clock(monkeypatch) -> None:
    import http_suite
    from http_bench import Server

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(http_suite, "settle", lambda server: 0.0)
    monkeypatch.setattr(http_suite, "run_wrk",
                        lambda server, paths, *args: calls.append(("warm-up", paths)))
    monkeypatch.setattr(http_suite, "run",
                        lambda server, paths, clients, accept: calls.append(("once", paths)))
    monkeypatch.setattr(http_suite, "load_wrk",
                        lambda server, workload, n, paths, *args: calls.append(("measured", paths)))
    medkg = Server("medkg", "127.0.0.1", 1, "/sparql", None)  # type: ignore[arg-type]
    client = http_suite.Client("wrk", "wrk", seconds=1.0)
    questions = ["ASK {}", "ASK { ?s ?p ?o }"]
    for workload in ("repeated", "distinct"):
        calls.clear()
        http_suite.measure_one(medkg, workload, 2, client, ["a"], questions,
                               "https://w3id.org/medkg/")
        kinds = [kind for kind, _ in calls]
        if workload == "repeated":
            assert kinds == ["warm-up", "once", "measured"] and calls[1][1] == calls[2][1]
        else:  # every distinct request is new: nothing to answer ahead
            assert kinds == ["warm-up", "measured"]


@pytest.mark.parametrize("threads", [["0"], ["4", "4"]])
def test_thread_counts_that_cannot_be_compared_are_refused_before_the_store_is_built(
    monkeypatch, threads: list[str]
) -> None:
    import http_suite

    def build(*args: object) -> None:
        raise AssertionError("the arguments are checked before any store is made")

    monkeypatch.setattr(http_suite, "synthetic_home", build)
    monkeypatch.setattr(http_suite, "choose_client", lambda *args: None)
    with pytest.raises(SystemExit) as refused:
        http_suite.main(["--size", "1k", "--medkg-threads", *threads])
    assert refused.value.code == 2  # argparse's usage error


def test_export_bench_exports_each_format_at_each_size(tmp_path: Path) -> None:
    formats = ["csv", "dcat", "croissant", "dcat-jsonld"]
    out = run_script("export_bench.py", "--sizes", "20", "40", "--formats", *formats,
                     "--work", str(tmp_path), "--json", str(tmp_path / "e.json"))
    assert "peak RSS MB" in out and "csv: slope per 100k datasets" in out
    rows = json.loads((tmp_path / "e.json").read_text())
    assert [(r["size"], r["format"]) for r in rows] == [(n, f) for n in (20, 40) for f in formats]
    assert all(r["seconds"] > 0 and r["peak_rss_mb"] > 0 and r["output_mb"] > 0 for r in rows)
    assert [r["files"] for r in rows if r["format"] == "croissant"] == [20, 40]  # one per dataset
    assert not list(tmp_path.glob("export-*"))  # what was measured is removed


def test_reliability_report_runs_the_selected_suite_and_renders_its_figures(
        tmp_path: Path) -> None:
    report = tmp_path / "RELIABILITY.md"
    out = run_script("reliability_report.py", "--select", "test_ssrf", "--load-seconds", "1",
                     "--clients", "2", "--crash-rounds", "1", "--fuzz-examples", "5",
                     "--schema-examples", "1", "--out", str(report), timeout=600)
    assert "pytest exit code 0" in out
    text = report.read_text(encoding="utf-8")
    ssrf = text.split("## SSRF and updates without the token")[1].split("## Crash safety")[0]
    rows = [line for line in ssrf.splitlines() if line.startswith("| ") and "attempts" not in line]
    assert len(rows) == 4  # one row per kind of attempt the SSRF suite makes
    assert all(line.split("|")[4].strip() == "0" for line in rows)  # no fetch recorded
    for title in ("Load", "Hostile queries", "Crash safety"):
        section = text.split(f"## {title}")[1].split("## ")[0]
        assert "Not run in this report (selection: `test_ssrf`)" in section
    assert "4 passed" in text  # pytest's own summary of the selected suite
