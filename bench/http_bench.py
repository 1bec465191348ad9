"""HTTP benchmark: medkg's endpoint beside `oxigraph serve-read-only` on the same store.

    python bench/http_bench.py --store .medkg/store [--clients 16 64] [--requests 40]

Both servers open the same published RocksDB version read-only and listen on loopback. Every
client sends the example questions (data/example-queries/*.rq, else the server's built-in ones)
round-robin over one keep-alive connection, a fixed number of requests each, so the run is
bounded. For each server and client count it prints requests per second and p50 / p99 latency.
Repeated questions are what an endpoint serves most; medkg answers repeats from its cache.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "server")]

from medkg import store as medkg_store  # noqa: E402
from medkg.config import load_settings  # noqa: E402

BUILTIN_EXAMPLES = REPO / "server" / "medkg_server" / "static" / "examples"
ACCEPT = "application/sparql-results+json"
START_SECONDS = 60


@dataclass
class Server:
    name: str
    host: str
    port: int
    path: str
    process: subprocess.Popen
    # which server it is, whatever its name says of its settings ("medkg" for "medkg (4 threads)")
    kind: str = ""

    def __post_init__(self) -> None:
        self.kind = self.kind or self.name


@dataclass(frozen=True)
class Result:
    server: str
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def example_queries(home: Path) -> list[str]:
    folder = home / "data" / "example-queries"
    if not folder.is_dir() or not any(folder.glob("*.rq")):
        folder = BUILTIN_EXAMPLES
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.rq"))]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{name} did not start within {START_SECONDS} s")


def start_medkg(
    store: Path, workers: int, threads: int | None = None, settings: dict[str, str] | None = None
) -> Server:
    """medkg's production server on loopback; `threads` per worker, else the server's default.

    `settings`: more MEDKG_* variables (an update token, say).
    """
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "server")]),
        "MEDKG_STORE": str(store),
        "MEDKG_WORKERS": str(workers),
        **(settings or {}),
    }
    if threads is not None:
        env["MEDKG_THREADS"] = str(threads)
    process = subprocess.Popen(
        [sys.executable, "-m", "medkg_server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/health", process, "medkg")
    name = "medkg" if threads is None else f"medkg ({threads} threads)"
    return Server(name, "127.0.0.1", port, "/sparql", process, kind="medkg")


def start_oxigraph(store: Path) -> Server | None:
    binary = shutil.which("oxigraph")
    version_dir = medkg_store.current_version_dir(store)
    if binary is None or version_dir is None:
        print("oxigraph CLI not found (pip install oxigraph): medkg only", file=sys.stderr)
        return None
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "serve-read-only",
            "--location",
            str(version_dir / medkg_store.DB),
            "--bind",
            f"127.0.0.1:{port}",
            "--union-default-graph",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", process, "oxigraph")
    return Server("oxigraph serve", "127.0.0.1", port, "/query", process)


def run_load(server: Server, queries: list[str], clients: int, per_client: int) -> Result:
    """`clients` threads, each sending `per_client` requests over one keep-alive connection."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    paths = [f"{server.path}?{urllib.parse.urlencode({'query': q})}" for q in queries]

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        mine: list[float] = []
        failed = 0
        for i in range(per_client):
            path = paths[(offset + i) % len(paths)]
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Accept": ACCEPT})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    return Result(
        server.name,
        clients,
        len(latencies),
        errors[0],
        elapsed,
        statistics.median(ordered) * 1000 if ordered else 0.0,
        p99 * 1000,
    )


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


def report(results: list[Result]) -> str:
    header = ("server", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms")
    widths = (-16, 7, 8, 6, 9, 8, 8)
    cells = zip(header, widths, strict=True)
    lines = [" ".join(f"{h:<{-w}}" if w < 0 else f"{h:>{w}}" for h, w in cells)]
    for r in results:
        lines.append(
            f"{r.server:<16} {r.clients:>7} {r.requests:>8} {r.errors:>6} {r.rps:>9.1f} "
            f"{r.p50_ms:>8.1f} {r.p99_ms:>8.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", help="a built medkg store (default: the configured one)")
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--requests", type=int, default=40, help="requests per client")
    parser.add_argument("--workers", type=int, default=2, help="medkg web workers")
    args = parser.parse_args(argv)
    settings = load_settings(store=args.store)
    if not medkg_store.exists(settings.store):
        print(f"no built store at {settings.store}: run `medkg build` first", file=sys.stderr)
        return 2
    queries = example_queries(settings.home)
    servers = [start_medkg(settings.store, args.workers)]
    oxigraph = start_oxigraph(settings.store)
    if oxigraph:
        servers.append(oxigraph)
    results = []
    try:
        for server in servers:
            run_load(server, queries, 4, 4 * len(queries))  # warm-up, not reported
            for clients in args.clients:
                results.append(run_load(server, queries, clients, args.requests))
    finally:
        for server in servers:
            stop(server)
    print(f"{len(queries)} example queries; store {medkg_store.current_version(settings.store)}")
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
