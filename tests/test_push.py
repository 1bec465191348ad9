"""Push the fixture graph into a real `oxigraph serve` on loopback, twice, and compare."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import rdflib

from medkg.config import Settings, load_settings
from medkg.push import GSP, UPDATE, PushError, push
from medkg.store import StagedVersion

FIXTURE = Path(__file__).parent / "export" / "fixtures" / "catalogue.trig"
BASE = "https://w3id.org/medkg/"
FOREIGN = "http://example.org/someone-elses-graph"


@dataclass(frozen=True)
class Server:
    url: str

    def update(self, text: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/update", data=text.encode(), method="POST",
            headers={"Content-Type": "application/sparql-update"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def dataset(self) -> rdflib.Dataset:
        """Everything the server holds, read back through its /store endpoint."""
        request = urllib.request.Request(f"{self.url}/store", headers={"Accept": "application/n-quads"})
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read().decode("utf-8")
        dataset = rdflib.Dataset()
        dataset.parse(data=data, format="nquads")
        return dataset


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    for _ in range(100):  # bounded: about 10 s
        if process.poll() is not None:
            raise RuntimeError(f"oxigraph serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/query", timeout=1) as response:
                response.read()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError("oxigraph serve did not start")


@pytest.fixture()
def oxigraph_server(tmp_path: Path) -> Iterator[Server]:
    """A fresh read-write `oxigraph serve` on a free loopback port, stopped afterwards."""
    if shutil.which("oxigraph") is None:
        pytest.skip("the oxigraph CLI (PyPI package oxigraph) is not installed")
    port = _free_port()
    process = subprocess.Popen(
        ["oxigraph", "serve", "--location", str(tmp_path / "target"), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield Server(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture()
def fixture_settings(tmp_path: Path) -> Settings:
    """Settings whose store is built from the export fixture."""
    dataset = rdflib.Dataset()
    dataset.parse(FIXTURE, format="trig")
    staged = StagedVersion(tmp_path / "store")
    staged.load_nquads(dataset.serialize(format="nquads", encoding="utf-8"))
    staged.publish({})
    return load_settings(store=tmp_path / "store", home=Path(__file__).resolve().parents[1])


def _medkg_graphs(dataset: rdflib.Dataset) -> dict[str, set]:
    return {
        str(g.identifier): set(g)
        for g in dataset.graphs()
        if str(g.identifier).startswith(f"{BASE}graph/") and len(g)
    }


def _expected() -> dict[str, set]:
    dataset = rdflib.Dataset()
    dataset.parse(FIXTURE, format="trig")
    return _medkg_graphs(dataset)


def _foreign(server: Server) -> set:
    return set(server.dataset().graph(rdflib.URIRef(FOREIGN)))


def test_push_twice_through_the_graph_store_protocol(oxigraph_server: Server, fixture_settings: Settings) -> None:
    oxigraph_server.update(f'INSERT DATA {{ GRAPH <{FOREIGN}> {{ <http://example.org/a> <http://example.org/b> "kept" }} }}')
    before = _foreign(oxigraph_server)
    report = push(fixture_settings, f"{oxigraph_server.url}/store", batch_triples=7, quiet=True)
    assert report.methods == {GSP}
    assert _medkg_graphs(oxigraph_server.dataset()) == _expected()
    first = oxigraph_server.dataset()
    # someone edits a medkg graph on the target; the next push puts it back
    oxigraph_server.update(f'INSERT DATA {{ GRAPH <{BASE}graph/catalogue> {{ <http://example.org/x> <http://example.org/y> "stale" }} }}')
    again = push(fixture_settings, f"{oxigraph_server.url}/store", batch_triples=7, quiet=True)
    assert again.triples == report.triples
    assert len(oxigraph_server.dataset()) == len(first)
    assert _medkg_graphs(oxigraph_server.dataset()) == _expected()
    assert _foreign(oxigraph_server) == before and len(before) == 1


def test_push_falls_back_to_sparql_update(oxigraph_server: Server, fixture_settings: Settings) -> None:
    oxigraph_server.update(f'INSERT DATA {{ GRAPH <{FOREIGN}> {{ <http://example.org/a> <http://example.org/b> "kept" }} }}')
    for _ in range(2):
        report = push(fixture_settings, f"{oxigraph_server.url}/update", batch_triples=50, quiet=True)
        assert report.methods == {UPDATE}
        assert _medkg_graphs(oxigraph_server.dataset()) == _expected()
    assert len(_foreign(oxigraph_server)) == 1


def test_push_into_one_named_graph(oxigraph_server: Server, fixture_settings: Settings) -> None:
    target = "http://example.org/medkg-copy"
    push(fixture_settings, f"{oxigraph_server.url}/store", graph=target, quiet=True)
    pushed = oxigraph_server.dataset()
    union = {(s, p, o) for s, p, o, _ in rdflib.Dataset().parse(FIXTURE, format="trig").quads()}
    assert set(pushed.graph(rdflib.URIRef(target))) == union
    assert _medkg_graphs(pushed) == {}


def test_push_error_names_graph_status_and_message(oxigraph_server: Server, fixture_settings: Settings) -> None:
    with pytest.raises(PushError) as caught:
        # /query accepts neither a graph PUT nor an update: a real failure, not a fallback
        push(fixture_settings, f"{oxigraph_server.url}/query", quiet=True)
    message = str(caught.value)
    assert f"<{BASE}graph/" in message and "HTTP 4" in message


def test_unreachable_endpoint_is_a_push_error(fixture_settings: Settings) -> None:
    with pytest.raises(PushError, match="cannot reach"):
        push(fixture_settings, f"http://127.0.0.1:{_free_port()}/store", quiet=True)


def test_bearer_token_is_sent(fixture_settings: Settings) -> None:
    import http.server
    import threading

    seen: list[tuple[str, str | None]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append((self.command, self.headers.get("Authorization")))
            self.send_response(204)
            self.end_headers()

        do_POST = do_PUT

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        push(fixture_settings, f"http://127.0.0.1:{server.server_port}/gsp", token="s3cret", quiet=True)
    finally:
        server.shutdown()
        server.server_close()
    assert seen and all(auth == "Bearer s3cret" for _, auth in seen)
    assert seen[0][0] == "PUT"
