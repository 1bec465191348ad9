"""HTTP throughput and latency: medkg's production server, `oxigraph serve` and rdflib-endpoint.

    python bench/http_suite.py --size 10k [--clients 16 64] [--client wrk] [--seconds 5] [--rounds 3]
                               [--medkg-threads 8 4]

All three serve the same synthetic store (bench/validation_bench.py builds it) on loopback:
medkg (`python -m medkg_server`, 2 workers) and `oxigraph serve-read-only` open the same RocksDB
version (started by bench/http_bench.py's helpers); rdflib-endpoint (`--store Oxigraph`) loads an
N-Quads dump of it. `--medkg-threads 8 4` starts one medkg per thread count per worker
("medkg (8 threads)", "medkg (4 threads)") in place of one with the default, each taking its
turn with the other servers, so that settings are compared under the same conditions.
Workloads:
- `repeated`: the example questions (data/example-queries) round-robin: what a UI sends, and
  what medkg's result cache may answer;
- `distinct`: the same questions, each request made unique by a trailing comment (no reuse);
- `light`: a title look-up by dataset IRI, distinct each time;
- `pages`: linked-data pages (medkg /dataset/<slug> HTML; the others a DESCRIBE of the IRI);
- `pages-rdf`: the same pages with like for like: medkg's /dataset/<slug> asked for Turtle.
Load generator (`--client`, default `auto`: wrk when installed, else Python):
- `wrk` (compiled, `apt-get install wrk`): `--seconds` per run on `--clients` keep-alive
  connections, driven by bench/wrk/paths.lua with the same paths and Accept header as the Python
  client. A run sends far more requests than there are datasets, so every request but the
  `repeated` ones gets a unique tag (a trailing SPARQL comment; `?_=` on medkg's pages): the
  workloads stay distinct and medkg's result cache answers only `repeated`, as with Python.
  Its p50 / p99 come from wrk's latency histogram after wrk's own correction for coordinated
  omission (each answer slower than twice the mean interval per connection adds the samples a
  steady sender would have seen), so its tails read longer than the Python client's raw ones;
- `python`: each client a thread with one keep-alive connection sending `--requests` requests,
  so every run is bounded. It is CPU-bound (one interpreter) and caps a fast server: on light
  look-ups it gets 5-7k req/s from `oxigraph serve` where wrk gets about 30k, which flatters
  the ratios to it.
Figures: req/s, p50 / p99 ms, the ratio of req/s to `oxigraph serve`, `client CPU`, the load
generator's own CPU seconds per wall second (wrk's process, or this one for Python; near 1.0 for
Python, or 2.0 on 2 cores, means the client is the limit), and `server CPU ms/req`, the CPU
time the server's processes (workers and query processes) spent per answered request. Non-2xx
answers count as errors.
Before each measured run, every server gets an untimed run of the same workload on other pages
and questions (Python: one request per client; wrk: a short run with another tag), so first-use
costs are not in the figures.
Then, per server: a trivial ASK's p95 while 4 clients run heavy queries, and the server's peak
RSS (VmHWM of the process and its children), both measured with Python. Nothing passes or fails
on time.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import math
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from common import DEFAULT_WORK, parse_size, size_label, synthetic_home, table, write_json
from http_bench import Server, free_port, start_medkg, start_oxigraph, stop, wait_ready
from query_bench import example_queries
from validation_bench import built_store

from medkg import store as medkg_store
from medkg.namespaces import Namespaces

ACCEPT = "application/sparql-results+json"
HEAVY = """SELECT ?organ (COUNT(DISTINCT ?d) AS ?n) (COUNT(?o) AS ?m) WHERE {
  ?d a <https://w3id.org/medkg/ontology#Dataset> ; ?p ?o ; <https://w3id.org/medkg/ontology#organ> ?organ .
} GROUP BY ?organ ORDER BY DESC(?n)"""
TRIVIAL = "ASK { ?s ?p ?o }"


@dataclass(frozen=True)
class Load:
    server: str
    workload: str
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu: float
    server_cpu_ms: float  # CPU of the server's process tree during the run, per request
    round: int = 1  # with --rounds, which round of the alternating runs

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def query_path(server: Server, query: str) -> str:
    return f"{server.path}?{urllib.parse.urlencode({'query': query})}"


def workload_paths(server: Server, workload: str, slugs: list[str], queries: list[str],
                   count: int, base: str, salt: str = "") -> list[str]:
    """`count` request paths of one workload for one server (`salt` makes distinct ones new)."""
    if workload == "repeated":
        return [query_path(server, q) for q in itertools.islice(itertools.cycle(queries), count)]
    if workload == "distinct":
        return [query_path(server, f"{q}\n# {salt}{i}")
                for i, q in zip(range(count), itertools.cycle(queries))]
    slug_cycle = itertools.islice(itertools.cycle(slugs), count)
    if workload == "light":
        return [query_path(server, f"SELECT ?t WHERE {{ <{base}dataset/{s}> "
                                   f"<http://purl.org/dc/terms/title> ?t }}") for s in slug_cycle]
    if server.kind == "medkg":
        return [f"/dataset/{s}" for s in slug_cycle]
    return [query_path(server, f"DESCRIBE <{base}dataset/{s}>") for s in slug_cycle]


PAGES = ("pages", "pages-rdf")


def accept_for(server: Server, workload: str) -> str:
    """JSON results for queries; medkg's pages in HTML (or Turtle for pages-rdf); Turtle for the
    others' DESCRIBE."""
    if workload not in PAGES:
        return ACCEPT
    return "text/html" if server.kind == "medkg" and workload == "pages" else "text/turtle"


def run(server: Server, paths: list[str], clients: int,
        accept: str = ACCEPT) -> tuple[list[float], int, float, float]:
    """Send `paths` split over `clients` keep-alive connections; latencies, errors, wall, CPU."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    shares = [paths[i::clients] for i in range(clients)]

    def client(mine: list[str]) -> None:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=120)
        times, failed = [], 0
        for path in mine:
            clock = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Accept": accept})
                response = connection.getresponse()
                response.read()
                failed += response.status != 200
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection(server.host, server.port, timeout=120)
            times.append(time.perf_counter() - clock)
        connection.close()
        with lock:
            latencies.extend(times)
            errors[0] += failed

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    clock = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return latencies, errors[0], wall, used / wall if wall else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def load(server: Server, workload: str, clients: int, paths: list[str]) -> Load:
    before = tree_cpu_seconds(server.process.pid)
    latencies, errors, wall, cpu = run(server, paths, clients, accept_for(server, workload))
    spent = tree_cpu_seconds(server.process.pid) - before
    return Load(server.name, workload, clients, len(latencies), errors, wall,
                statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000, cpu,
                per_request_ms(spent, len(latencies)))


def per_request_ms(seconds: float, requests: int) -> float:
    return seconds * 1000 / requests if requests else 0.0


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "paths.lua"
# -t2 measured ahead of -t1 against `oxigraph serve` on this 2-core machine (bench/README.md)
WRK_THREADS = 2
# as the Python client's socket timeout: wrk's 2 s default would count slow answers as errors
WRK_TIMEOUT = "120s"
WRK_FIGURE = "wrk-figure"
WRK_FIGURES = ("requests", "duration_us", "errors_connect", "errors_read", "errors_write",
               "errors_status", "errors_timeout", "non2xx", "latency_p50_us", "latency_p99_us")


def wrk_version(binary: str) -> str:
    """'wrk 4.1.0' (wrk prints its version in the usage text, exiting 1)."""
    completed = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"\d+\.\d+\.\d+", completed.stdout + completed.stderr)
    return f"wrk {found.group(0)}" if found else "wrk"


def parse_wrk_figures(text: str) -> dict[str, float]:
    """The `wrk-figure NAME VALUE` lines bench/wrk/paths.lua's done() prints, by name.

    Other lines (wrk's own summary) are ignored; a missing figure is an error, so a script that
    stopped before done() is not read as a run with no requests.
    """
    figures = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == WRK_FIGURE:
            figures[parts[1]] = float(parts[2])
    missing = [name for name in WRK_FIGURES if name not in figures]
    if missing:
        raise ValueError(f"wrk printed no {', '.join(missing)}:\n{text[-2000:]}")
    return figures


def wrk_errors(figures: dict[str, float]) -> int:
    """Failed requests: socket errors, timeouts and every non-2xx answer.

    wrk's own `errors_status` counts only status > 399 and is part of `non2xx` (counted by the
    script's response()), so it is not added again.
    """
    kinds = ("errors_connect", "errors_read", "errors_write", "errors_timeout", "non2xx")
    return int(sum(figures[k] for k in kinds))


def wrk_threads(clients: int, preferred: int) -> int:
    """The most wrk threads, up to `preferred`, that share `clients` connections evenly.

    wrk gives each thread connections // threads, so an uneven split would open fewer.
    """
    return max(t for t in range(1, max(1, min(preferred, clients)) + 1) if clients % t == 0)


def cycle_paths(server: Server, workload: str, slugs: list[str], queries: list[str],
                base: str) -> list[str]:
    """One round of a workload's request paths, for wrk to cycle through.

    `distinct` is `repeated` plus a unique tag per request (`unique_tag`).
    """
    if workload in ("repeated", "distinct"):
        return workload_paths(server, "repeated", slugs, queries, len(queries), base)
    return workload_paths(server, workload, slugs, queries, len(slugs), base)


def unique_tag(server: Server, workload: str, salt: str) -> str:
    """What paths.lua appends, before `<thread>-<n>`, to make each request new ('' = none).

    A query gets a trailing comment, as `distinct` has in the Python client; medkg's pages (no
    query) an ignored parameter. `repeated` stays repeated: it is what a result cache answers.
    """
    if workload == "repeated":
        return ""
    if server.kind == "medkg" and workload in PAGES:
        return f"?_={salt}"
    return urllib.parse.quote_plus(f"\n# {salt}")


def run_wrk(server: Server, paths: list[str], clients: int, accept: str, seconds: float,
            tag: str, threads: int) -> tuple[dict[str, float], float]:
    """One wrk run of `seconds` over `clients` connections; its figures and its CPU per second.

    wrk takes whole seconds, so a fractional run is asked for the next whole second and
    stopped with SIGINT (wrk then stops its threads and reports as at the end of a run; wrk
    ignores a SIGINT that comes before its threads are started, and then runs the whole second).
    """
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk not installed (apt-get install wrk)")
    if any("\n" in path for path in paths):
        raise ValueError("request paths must be URL-encoded (one per line for paths.lua)")
    t = wrk_threads(clients, threads)
    with tempfile.NamedTemporaryFile("w", suffix=".paths", encoding="utf-8") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        command = [binary, f"-t{t}", f"-c{clients}", f"-d{math.ceil(seconds)}s",
                   "--timeout", WRK_TIMEOUT, "-s", str(WRK_SCRIPT),
                   f"http://{server.host}:{server.port}", "--", listing.name, accept, str(t), tag]
        clock = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        timer = threading.Timer(seconds, process.send_signal, (signal.SIGINT,))
        if seconds != math.ceil(seconds):
            timer.start()
        try:
            assert process.stdout is not None
            output = process.stdout.read()
        finally:
            timer.cancel()  # before reaping, so the signal cannot reach a reused pid
            if process.stdout is not None:
                process.stdout.close()
            # wait4, not RUSAGE_CHILDREN: this child's CPU alone, whatever else was reaped
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - clock
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{output[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return parse_wrk_figures(output), cpu / wall if wall else 0.0


def load_wrk(server: Server, workload: str, clients: int, paths: list[str], seconds: float,
             tag: str, threads: int) -> Load:
    """A measured wrk run as a `Load` (the same fields as the Python client's)."""
    before = tree_cpu_seconds(server.process.pid)
    figures, cpu = run_wrk(server, paths, clients, accept_for(server, workload), seconds, tag,
                           threads)
    spent = tree_cpu_seconds(server.process.pid) - before
    requests = int(figures["requests"])
    return Load(server.name, workload, clients, requests, wrk_errors(figures),
                figures["duration_us"] / 1e6, figures["latency_p50_us"] / 1000,
                figures["latency_p99_us"] / 1000, cpu, per_request_ms(spent, requests))


def trivial_under_heavy(server: Server, samples: int = 40) -> float:
    """p95 (ms) of a trivial ASK sent one at a time while 4 clients loop on a heavy aggregate."""
    stop_flag = threading.Event()

    def heavy(n: int) -> None:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=300)
        for i in itertools.count():
            if stop_flag.is_set():
                break
            try:
                connection.request("GET", query_path(server, f"{HEAVY}\n# {n}-{i}"),
                                   headers={"Accept": ACCEPT})
                connection.getresponse().read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(server.host, server.port, timeout=300)
        connection.close()

    threads = [threading.Thread(target=heavy, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the heavy queries start
    connection = http.client.HTTPConnection(server.host, server.port, timeout=300)
    times = []
    for i in range(samples):
        clock = time.perf_counter()
        connection.request("GET", query_path(server, f"{TRIVIAL} # {i}"), headers={"Accept": ACCEPT})
        connection.getresponse().read()
        times.append((time.perf_counter() - clock) * 1000)
        time.sleep(0.05)
    connection.close()
    stop_flag.set()
    for thread in threads:
        thread.join(timeout=120)
    return percentile(times, 0.95)


def process_tree(pid: int) -> list[int]:
    """A process and its live descendants (Linux /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue  # the process is gone
        found.append(current)
        for task in tasks:
            try:
                pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue  # a thread that ended meanwhile (servers start one per connection)
    return found


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its descendants, in MiB (Linux /proc)."""
    total = 0.0
    for current in process_tree(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process and its descendants, live or reaped (Linux).

    Each live process counts its own time and that of the children it has waited for (stat
    fields 14-17), so a query process that exits between two readings still counts once its
    parent reaps it.
    """
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def start_rdflib_endpoint(store_dir: Path, work: Path) -> Server | None:
    binary = shutil.which("rdflib-endpoint")
    if binary is None:
        print("rdflib-endpoint not installed (pip install 'rdflib-endpoint[cli]')", file=sys.stderr)
        return None
    dump = work / "dump.nq"
    if not dump.is_file():
        medkg_store.open_read_only(store_dir).dump(str(dump), format=medkg_store.ox.RdfFormat.N_QUADS)
    port = free_port()
    process = subprocess.Popen([binary, "serve", str(dump), "--host", "127.0.0.1", "--port",
                                str(port), "--store", "Oxigraph"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/?query=ASK%7B%7D", process, "rdflib-endpoint")
    return Server("rdflib-endpoint", "127.0.0.1", port, "/", process)


def dataset_slugs(store_dir: Path, limit: int) -> list[str]:
    store = medkg_store.open_read_only(store_dir)
    rows = store.query("SELECT ?d WHERE { ?d a <https://w3id.org/medkg/ontology#Dataset> } "
                       f"LIMIT {limit}", use_default_graph_as_union=True)
    return [row[0].value.rsplit("/", 1)[-1] for row in rows]


STARTERS = ("medkg", "oxigraph", "rdflib-endpoint")


@dataclass(frozen=True)
class Client:
    """The load generator of the measured runs: `wrk` (with its version) or `python`."""

    name: str
    label: str
    requests: int = 30
    seconds: float = 5.0
    threads: int = WRK_THREADS

    @property
    def wrk(self) -> bool:
        return self.name == "wrk"

    def describe(self) -> dict[str, Any]:
        """What the JSON and the report say about how the load was generated."""
        if self.wrk:
            return {"client": self.label, "wrk_threads": self.threads,
                    "seconds_per_run": self.seconds}
        return {"client": self.label, "requests_per_client": self.requests}


def choose_client(wanted: str, requests: int, seconds: float, threads: int) -> Client:
    """`auto`: wrk when it is on PATH, else the Python client (said on stderr)."""
    binary = shutil.which("wrk")
    if wanted == "wrk" and binary is None:
        raise SystemExit("wrk not installed (apt-get install wrk), or use --client python")
    if wanted == "python" or binary is None:
        if wanted == "auto":
            print("wrk not installed: the Python client, which is CPU-bound and caps fast "
                  "servers (apt-get install wrk)", file=sys.stderr)
        return Client("python", "python", requests=requests)
    return Client("wrk", wrk_version(binary), seconds=seconds, threads=threads)


def settle(server: Server, quick: float = 0.2, patience: float = 900.0) -> float:
    """Wait until a trivial query answers within `quick` seconds; the seconds waited.

    A timed wrk run stops sending at its deadline, but a server that cannot cancel (rdflib-endpoint
    keeps evaluating every heavy query it has accepted) would spend the next run on the last
    one's backlog."""
    started = time.perf_counter()
    for n in itertools.count():
        clock = time.perf_counter()
        connection = http.client.HTTPConnection(server.host, server.port, timeout=patience)
        try:
            connection.request("GET", query_path(server, f"ASK {{ ?s ?p ?o }} # settle {n}"),
                               headers={"Accept": ACCEPT})
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        if time.perf_counter() - clock < quick or time.perf_counter() - started > patience:
            return time.perf_counter() - started
        time.sleep(0.5)
    return 0.0


def measure_one(server: Server, workload: str, n: int, client: Client, slugs: list[str],
                queries: list[str], base: str) -> Load:
    """An untimed warm-up on other pages and questions, then the measured run."""
    accept = accept_for(server, workload)
    if client.wrk:
        settle(server)
        # untimed: a short run on the reversed slugs with another tag, so first-use costs
        # (templates, caches, pool growth) are paid before the clock starts
        warm = cycle_paths(server, workload, slugs[::-1], queries, base)
        run_wrk(server, warm, n, accept, min(1.0, client.seconds),
                unique_tag(server, workload, "warm"), client.threads)
        settle(server)
        paths = cycle_paths(server, workload, slugs, queries, base)
        if workload == "repeated":
            # each measured question answered once, however long it takes: at 10k a heavy
            # question outlasts the 1 s warm-up, and one first-use miss of seconds in the
            # measured run becomes a p99 of seconds after wrk's coordinated-omission correction
            run(server, paths, min(n, len(paths)), accept)
            settle(server)
        return load_wrk(server, workload, n, paths, client.seconds,
                        unique_tag(server, workload, ""), client.threads)
    # untimed: one request per client, other pages and questions than the measured ones, so
    # first-use costs (templates, caches, pool growth) are paid before the clock starts, for
    # every server alike
    run(server, workload_paths(server, workload, slugs[::-1], queries, n, base, "warm"), n, accept)
    return load(server, workload, n,
                unique_paths(server, workload, slugs, queries, n * client.requests, base))


def unique_paths(server: Server, workload: str, slugs: list[str], queries: list[str],
                 count: int, base: str) -> list[str]:
    """`workload_paths` for the Python client, each light or page request tagged as wrk's are.

    Without the tag, more requests than datasets would ask for the same look-ups and pages
    again, and medkg's result cache would answer the repeats.
    """
    paths = workload_paths(server, workload, slugs, queries, count, base)
    if workload in ("repeated", "distinct"):
        return paths  # repeated on purpose; distinct tagged already
    tag = unique_tag(server, workload, "")
    return [f"{path}{tag}{i}" for i, path in enumerate(paths)]


def measure(store_dir: Path, work: Path, clients: list[int], client: Client,
            workloads: list[str], names: tuple[str, ...] = STARTERS,
            rounds: int = 1, medkg_threads: tuple[int, ...] = ()) -> dict[str, Any]:
    """Every workload at every client count on every server, the servers taking turns.

    The servers run side by side and each measured run of one server is followed by the same
    run on the next, `rounds` times over, so that the runs compared with each other happen
    under the same conditions of the machine (its other load, its clock). `medkg_threads` starts
    one medkg per thread count instead of one with the default, to compare them the same way.
    """
    base = Namespaces("https://w3id.org/medkg/").base
    queries = list(example_queries().values())
    slugs = dataset_slugs(store_dir, 2000)
    servers: list[Server] = []
    loads: list[Load] = []
    extra: dict[str, dict[str, float]] = {}
    try:
        medkgs = [lambda t=t: start_medkg(store_dir, 2, t) for t in medkg_threads] or [
            lambda: start_medkg(store_dir, 2)]
        starters = {"medkg": medkgs,
                    "oxigraph": [lambda: start_oxigraph(store_dir)],
                    "rdflib-endpoint": [lambda: start_rdflib_endpoint(store_dir, work)]}
        for name in names:
            for start in starters[name]:
                server = start()
                if server:
                    servers.append(server)
        for server in servers:
            load(server, "warm-up", 4, workload_paths(server, "repeated", slugs, queries, 40, base))
            if server.kind == "medkg":
                # steady state: each worker's per-version figures (facet index, VoID statistics)
                # are built in the background at start; these pages wait for them (a first
                # index that takes longer than 10 s answers 503 meanwhile)
                deadline = time.monotonic() + 1800
                while run(server, ["/stats", "/void"] * 8, 8, "text/html,text/turtle")[1]:
                    assert time.monotonic() < deadline, "medkg's pages did not become ready"
                    time.sleep(1)
        for workload in workloads:
            for n in clients:
                for number in range(1, rounds + 1):
                    for server in servers:
                        measured = replace(
                            measure_one(server, workload, n, client, slugs, queries, base),
                            round=number)
                        loads.append(measured)
                        print(f"{server.name} {workload} {n} (round {number}): "
                              f"{measured.rps:.0f} req/s", file=sys.stderr)
        for server in servers:
            extra[server.name] = {"trivial_p95_ms_under_4_heavy": trivial_under_heavy(server),
                                  "peak_rss_mb": peak_rss_mb(server.process.pid)}
    finally:
        for server in servers:
            stop(server)
    return {**client.describe(), "rounds": rounds,
            "loads": [{**vars(x), "rps": x.rps} for x in loads], "servers": extra}


REFERENCE = "oxigraph serve"


def report(result: dict[str, Any]) -> str:
    loads = result["loads"]
    ref = {(x["workload"], x["clients"], x.get("round", 1)): x for x in loads
           if x["server"] == REFERENCE}

    def against(x: dict[str, Any], field: str) -> float | str:
        mine = ref.get((x["workload"], x["clients"], x.get("round", 1)))
        return x[field] / mine[field] if mine and mine[field] else "-"

    rows = [(x["server"], x["workload"], x["clients"], x.get("round", 1), x["requests"],
             x["errors"], x["rps"], against(x, "rps"), x["p50_ms"], x["p99_ms"],
             against(x, "p99_ms"), x["client_cpu"], x["server_cpu_ms"]) for x in loads]
    main = table(("server", "workload", "clients", "round", "requests", "errors", "req/s",
                  "x oxigraph", "p50 ms", "p99 ms", "p99 x oxigraph", "client CPU",
                  "server CPU ms/req"), rows)
    extra = table(("server", "trivial p95 ms under 4 heavy", "peak RSS MB"),
                  [(name, v["trivial_p95_ms_under_4_heavy"], v["peak_rss_mb"])
                   for name, v in result["servers"].items()])
    parts = [client_line(result), main]
    if result.get("rounds", 1) > 1:
        parts.append(medians(loads))
    return "\n\n".join([*parts, extra])


def medians(loads: list[dict[str, Any]]) -> str:
    """Per server, workload and client count: the median of the rounds, and its ratios."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for x in loads:
        groups.setdefault((x["server"], x["workload"], x["clients"]), []).append(x)

    def median(key: tuple[str, str, int], field: str) -> float:
        return statistics.median(x[field] for x in groups[key])

    rows = []
    for (server, workload, n), runs in groups.items():
        key, ref_key = (server, workload, n), (REFERENCE, workload, n)
        has_ref = ref_key in groups
        rps, p99 = median(key, "rps"), median(key, "p99_ms")
        rows.append((server, workload, n, len(runs), rps,
                     rps / median(ref_key, "rps") if has_ref else "-",
                     median(key, "p50_ms"), p99,
                     p99 / median(ref_key, "p99_ms") if has_ref else "-"))
    return "median of the rounds\n\n" + table(
        ("server", "workload", "clients", "rounds", "req/s", "x oxigraph", "p50 ms", "p99 ms",
         "p99 x oxigraph"), rows)


def client_line(result: dict[str, Any]) -> str:
    """Which load generator produced the figures, and how long each run was."""
    if "seconds_per_run" in result:
        return (f"load generator: {result['client']} ({result['wrk_threads']} threads, "
                f"{result['seconds_per_run']:g} s per run)")
    return (f"load generator: {result.get('client', 'python')} "
            f"({result.get('requests_per_client', '?')} requests per client)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="10k")
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (auto: wrk when installed, else Python)")
    parser.add_argument("--requests", type=int, default=30,
                        help="requests per client (Python client)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="seconds per measured run (wrk; fractions allowed)")
    parser.add_argument("--wrk-threads", type=int, default=WRK_THREADS,
                        help=f"wrk threads (default {WRK_THREADS}; fewer when clients are fewer)")
    parser.add_argument("--workloads", nargs="+",
                        default=["repeated", "distinct", "light", "pages", "pages-rdf"])
    parser.add_argument("--servers", nargs="+", choices=STARTERS, default=list(STARTERS),
                        help="which servers to measure (ratios need oxigraph)")
    parser.add_argument("--medkg-threads", type=int, nargs="+", default=[],
                        help="run one medkg per thread count per worker (MEDKG_THREADS), "
                             "alternating with the other servers, instead of one with the default")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each run this many times, the servers taking turns, and "
                             "add a table of the medians (tails vary from run to run)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if any(t < 1 for t in args.medkg_threads):
        parser.error("--medkg-threads must be positive")
    if len(set(args.medkg_threads)) < len(args.medkg_threads):
        # two servers of one name would be counted as one in the tables
        parser.error("--medkg-threads names each thread count once")
    client = choose_client(args.client, args.requests, args.seconds, args.wrk_threads)
    n = parse_size(args.size)
    home = synthetic_home(args.work, n)
    store_dir = built_store(home)
    result = measure(store_dir, home, args.clients, client, args.workloads, tuple(args.servers),
                     args.rounds, tuple(args.medkg_threads))
    result["size"] = n
    print(f"{size_label(n)} datasets, {os.cpu_count()} cores")
    print(report(result))
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
