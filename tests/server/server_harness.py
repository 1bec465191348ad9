"""Helpers for the server tests: build a small store, start and stop a real server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parents[1]
try:
    import medkg_server  # noqa: F401

    import medkg  # noqa: F401  (installed with `pip install -e .`)
except ImportError:  # a plain checkout: use the source folders
    sys.path[:0] = [str(REPO / "src"), str(REPO / "server")]

from medkg import store as medkg_store  # noqa: E402
from medkg.namespaces import DCTERMS, RDF, Namespaces  # noqa: E402

DEFAULT_BASE = "https://w3id.org/medkg/"

W3C_DIR = FIXTURES / "w3c-protocol"
W3C_GRAPH = "http://kasei.us/2009/09/sparql/data/{name}.rdf"
START_SECONDS = 60


def build_store(store_dir: Path) -> None:
    """Publish mini.trig plus the W3C protocol data (each file as its own named graph)."""
    staged = medkg_store.StagedVersion(store_dir)
    staged.load_quads(ox.parse(path=str(FIXTURES / "mini.trig"), format=ox.RdfFormat.TRIG))
    for path in sorted(W3C_DIR.glob("data*.nt")):
        graph = ox.NamedNode(W3C_GRAPH.format(name=path.stem))
        triples = ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES)
        staged.load_quads(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
    staged.publish({"source": "tests/server/fixtures"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    store: Path
    process: subprocess.Popen
    log: Path

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 30):
        request = urllib.request.Request(self.url + path, headers=headers or {})
        return urllib.request.urlopen(request, timeout=timeout)


def start_server(store: Path, log: Path, env_extra: dict[str, str]) -> RunningServer:
    """Start `python -m medkg_server` (granian via medkg_server.serve) and wait for /health."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "src"), str(REPO / "server"), os.environ.get("PYTHONPATH", "")]
        ),
        "MEDKG_HOME": str(REPO),
        "MEDKG_STORE": str(store),
        "MEDKG_WORKERS": "1",
        "MEDKG_THREADS": "8",
        "MEDKG_EXECUTORS": "2",
        **env_extra,
    }
    handle = open(log, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "medkg_server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=str(REPO),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return RunningServer(url, store, process, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text(errors='replace')[-3000:]}")


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def publish_with_new_dataset(store: Path, slug: str, base: str = DEFAULT_BASE) -> str:
    """Publish a version that adds one dataset (as a Graph Store write would); its name."""
    ns = Namespaces(base)
    dataset = ox.NamedNode(f"{base}dataset/{slug}")
    graph = ox.NamedNode(ns.graph("catalogue"))
    staged = medkg_store.StagedVersion(store, from_published=True)
    a_dataset = ox.NamedNode(ns.term("Dataset"))
    staged.db.add(ox.Quad(dataset, ox.NamedNode(f"{RDF}type"), a_dataset, graph))
    title = ox.Literal(f"Zz {slug}")
    staged.db.add(ox.Quad(dataset, ox.NamedNode(f"{DCTERMS}title"), title, graph))
    return staged.publish({"quads": len(staged.db)}, compact=False).name
