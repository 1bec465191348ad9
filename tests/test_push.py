"""Push the fixture graph into a real `oxigraph serve` on loopback, twice, and compare."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from rdflib.compare import isomorphic

from medkg.cli import main
from medkg.config import Settings, load_settings
from medkg.export import sorted_runs
from medkg.push import GSP, UPDATE, PushError, _batches, _triples, owned_graphs, push
from medkg.store import StagedVersion, open_read_only

FIXTURE = Path(__file__).parent / "export" / "fixtures" / "catalogue.trig"
ONTOLOGY = Path(__file__).resolve().parents[1] / "ontology" / "medkg.ttl"
BASE = "https://w3id.org/medkg/"
FOREIGN = "http://example.org/someone-elses-graph"
KEEP_FOREIGN = (
    f"INSERT DATA {{ GRAPH <{FOREIGN}> "
    '{ <http://example.org/a> <http://example.org/b> "kept" } }'
)


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
        request = urllib.request.Request(
            f"{self.url}/store", headers={"Accept": "application/n-quads"}
        )
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
        ["oxigraph", "serve", "--location", str(tmp_path / "target"),
         "--bind", f"127.0.0.1:{port}"],
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


@pytest.fixture()
def blank_node_settings(tmp_path: Path) -> Settings:
    """Settings whose store also holds the real ontology (a blank-node datatype restriction)."""
    dataset = rdflib.Dataset()
    dataset.parse(FIXTURE, format="trig")
    ontology = dataset.graph(rdflib.URIRef(f"{BASE}graph/ontology"))
    ontology.parse(ONTOLOGY, format="turtle")
    assert _blank_nodes(ontology) >= 3
    staged = StagedVersion(tmp_path / "store")
    staged.load_nquads(dataset.serialize(format="nquads", encoding="utf-8"))
    staged.publish({})
    return load_settings(store=tmp_path / "store", home=Path(__file__).resolve().parents[1])


def _blank_nodes(graph: rdflib.Graph) -> int:
    return len({t for triple in graph for t in triple if isinstance(t, rdflib.BNode)})


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


def test_push_twice_through_the_graph_store_protocol(
    oxigraph_server: Server, fixture_settings: Settings
) -> None:
    oxigraph_server.update(KEEP_FOREIGN)
    before = _foreign(oxigraph_server)
    report = push(fixture_settings, f"{oxigraph_server.url}/store", batch_triples=7, quiet=True)
    assert report.methods == {GSP}
    assert _medkg_graphs(oxigraph_server.dataset()) == _expected()
    first = oxigraph_server.dataset()
    # someone edits a medkg graph on the target; the next push puts it back
    oxigraph_server.update(
        f'INSERT DATA {{ GRAPH <{BASE}graph/catalogue> '
        '{ <http://example.org/x> <http://example.org/y> "stale" } }'
    )
    again = push(fixture_settings, f"{oxigraph_server.url}/store", batch_triples=7, quiet=True)
    assert again.triples == report.triples
    assert len(oxigraph_server.dataset()) == len(first)
    assert _medkg_graphs(oxigraph_server.dataset()) == _expected()
    assert _foreign(oxigraph_server) == before and len(before) == 1


def test_push_falls_back_to_sparql_update(
    oxigraph_server: Server, fixture_settings: Settings
) -> None:
    oxigraph_server.update(KEEP_FOREIGN)
    for _ in range(2):
        url = f"{oxigraph_server.url}/update"
        report = push(fixture_settings, url, batch_triples=50, quiet=True)
        assert report.methods == {UPDATE}
        assert _medkg_graphs(oxigraph_server.dataset()) == _expected()
    assert len(_foreign(oxigraph_server)) == 1


def test_push_into_one_named_graph(
    oxigraph_server: Server, fixture_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sorted_runs, "RUN_TRIPLES", 20)  # the union found in many runs
    target = "http://example.org/medkg-copy"
    push(fixture_settings, f"{oxigraph_server.url}/store", graph=target, quiet=True)
    pushed = oxigraph_server.dataset()
    union = {(s, p, o) for s, p, o, _ in rdflib.Dataset().parse(FIXTURE, format="trig").quads()}
    assert set(pushed.graph(rdflib.URIRef(target))) == union
    assert _medkg_graphs(pushed) == {}


def test_push_error_names_graph_status_and_message(
    oxigraph_server: Server, fixture_settings: Settings
) -> None:
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
        url = f"http://127.0.0.1:{server.server_port}/gsp"
        push(fixture_settings, url, token="s3cret", quiet=True)
    finally:
        server.shutdown()
        server.server_close()
    assert seen and all(auth == "Bearer s3cret" for _, auth in seen)
    assert seen[0][0] == "PUT"



def test_batches_never_split_a_blank_node_closure() -> None:
    p = ox.NamedNode("http://example.org/p")
    a, b, c, d = (ox.BlankNode(v) for v in "abcd")
    closure = [
        ox.Triple(ox.NamedNode("http://example.org/s"), p, a),
        ox.Triple(c, p, d),  # joined to a's closure only by the last triple
        ox.Triple(a, p, ox.Literal("x")),
        ox.Triple(d, p, a),
    ]
    plain = ox.Triple(ox.NamedNode("http://example.org/s"), p, ox.NamedNode("http://example.org/o"))
    alone = ox.Triple(b, p, ox.Literal("b alone"))
    triples = [closure[0], plain, closure[1], alone, closure[2], closure[3]]
    batches = list(_batches(iter(triples), 2))
    assert sorted(map(str, sum(batches, []))) == sorted(map(str, triples))
    # larger than the batch size, so whole in a batch of its own
    assert [sorted(map(str, b)) for b in batches if a in {t.object for t in b}] == [
        sorted(map(str, closure))
    ]
    assert all(len(batch) <= 2 for batch in batches if closure[0] not in batch)


def _stored(settings: Settings) -> rdflib.Dataset:
    """The local store, read back as rdflib sees it."""
    dataset = rdflib.Dataset()
    data = ox.serialize(open_read_only(settings.store), format=ox.RdfFormat.N_QUADS) or b""
    dataset.parse(data=data.decode("utf-8"), format="nquads")
    return dataset


@pytest.mark.parametrize("path, method", [("store", GSP), ("update", UPDATE)])
def test_tiny_batches_keep_blank_nodes(
    oxigraph_server: Server, blank_node_settings: Settings, path: str, method: str
) -> None:
    report = push(blank_node_settings, f"{oxigraph_server.url}/{path}", batch_triples=2, quiet=True)
    assert report.methods == {method}
    local, pushed = _stored(blank_node_settings), oxigraph_server.dataset()
    names = [str(g.identifier) for g in local.graphs()
             if str(g.identifier).startswith(f"{BASE}graph/")]
    assert f"{BASE}graph/ontology" in names
    for name in names:
        expected, got = local.graph(rdflib.URIRef(name)), pushed.graph(rdflib.URIRef(name))
        assert _blank_nodes(got) == _blank_nodes(expected), name
        assert isomorphic(got, expected), name


# --- a scripted target: each request gets the answer a function picks -------------------------

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Scripted:
    url: str
    seen: list[tuple[str, str, str | None]]  # method, path, Authorization


@contextmanager
def scripted_server(
    answer: Callable[[int, str, dict[str, str], bytes], Answer],
) -> Iterator[Scripted]:
    """A loopback HTTP server; answer(n, method, headers, body) gives request n's answer."""
    import http.server
    import threading

    seen: list[tuple[str, str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append((self.command, self.path, self.headers.get("Authorization")))
            status, headers, body = answer(len(seen), self.command, dict(self.headers), sent)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET = do_PUT

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Scripted(f"http://127.0.0.1:{server.server_port}", seen)
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_not_followed_and_the_token_stays_with_the_url_given(
    fixture_settings: Settings,
) -> None:
    with scripted_server(lambda n, m, h, b: (204, {}, b"")) as elsewhere:
        # no GSP here (405 to the PUT), and every update POST is sent on to another server:
        # urllib would follow a 303 as a GET without body, with the token, and call it a success
        def answer(n: int, method: str, headers: dict[str, str], body: bytes) -> Answer:
            if method == "PUT":
                return 405, {}, b""
            return 303, {"Location": f"{elsewhere.url}/store"}, b""

        with scripted_server(answer) as target:
            with pytest.raises(PushError) as caught:
                push(fixture_settings, f"{target.url}/x", token="s3cret", quiet=True)
    message = str(caught.value)
    assert f"redirects to {elsewhere.url}/store" in message and "not followed" in message
    assert "the target is unchanged" in message
    assert elsewhere.seen == []


def test_the_token_never_appears_in_an_error(fixture_settings: Settings) -> None:
    def echo(n: int, method: str, headers: dict[str, str], body: bytes) -> Answer:
        return 401, {}, f"bad credentials: {headers.get('Authorization')}".encode()

    with scripted_server(echo) as target:
        with pytest.raises(PushError) as caught:
            push(fixture_settings, f"{target.url}/store", token="s3cret-token", quiet=True)
    assert "HTTP 401: bad credentials: Bearer [token]" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("token", ["s3cret\nX-Injected: 1", "s3cr\u00e9t", "s3 cret"])
def test_a_token_no_header_can_carry_is_refused_without_showing_it(
    fixture_settings: Settings, token: str
) -> None:
    with scripted_server(lambda n, m, h, b: (204, {}, b"")) as target:
        with pytest.raises(PushError, match="token has a character") as caught:
            push(fixture_settings, f"{target.url}/store", token=token, quiet=True)
    assert "s3" not in str(caught.value) and target.seen == []


@pytest.mark.parametrize("endpoint, graph, expected", [
    ("http://[::1/store", None, "not a valid URL"),
    ("http://127.0.0.1:99999/store", None, "not a valid URL"),
    ("http:///store", None, "with a host"),
    ("ftp://example.org/store", None, "with a host"),
    ("http://user:pa55word@127.0.0.1:9/store", None, "must not carry a user name"),
    ("http://127.0.0.1:9/my store", None, "space or control character"),
    ("http://127.0.0.1:9/store", "http://x> ; DROP ALL ; DROP GRAPH <http://y", "absolute IRI"),
    ("http://127.0.0.1:9/store", "relative", "absolute IRI"),
])  # fmt: skip
def test_a_bad_endpoint_or_graph_is_refused_before_any_request(
    fixture_settings: Settings, endpoint: str, graph: str | None, expected: str
) -> None:
    with pytest.raises(PushError, match=expected) as caught:
        push(fixture_settings, endpoint, graph=graph, quiet=True)
    assert "pa55word" not in str(caught.value)


def test_a_failure_half_way_says_what_the_target_holds(fixture_settings: Settings) -> None:
    store = open_read_only(fixture_settings.store)
    graphs = owned_graphs(store, fixture_settings)  # pushed in this order
    requests = [
        [len(b) for b in _batches(_triples(store, g), 1)]
        for g in graphs
    ]  # triples per request, graph by graph
    assert len(graphs) >= 3 and len(requests[1]) >= 2, "graph 2 should take 2 requests"
    fail_at = len(requests[0]) + 2  # graph 2's second request, after its PUT

    def fail_once(n: int, method: str, headers: dict[str, str], body: bytes) -> Answer:
        return (500, {}, b"disk full") if n == fail_at else (204, {}, b"")

    with scripted_server(fail_once) as target:
        with pytest.raises(PushError) as caught:
            push(fixture_settings, f"{target.url}/store", batch_triples=1, quiet=True)
    message = str(caught.value)
    assert "HTTP 500: disk full" in message
    holding = f"<{graphs[1]}> holding {requests[1][0]} of its {sum(requests[1])} triples"
    assert f"1 graph(s) replaced, {holding}" in message
    assert f"{len(graphs) - 2} graph(s) not touched" in message


def test_a_target_that_does_not_answer_times_out(fixture_settings: Settings) -> None:
    import threading

    release = threading.Event()

    def hang(n: int, method: str, headers: dict[str, str], body: bytes) -> Answer:
        release.wait(10)
        return 204, {}, b""

    with scripted_server(hang) as target:
        try:
            result = CliRunner().invoke(main, [
                "push", "--store", str(fixture_settings.store), "--endpoint",
                f"{target.url}/store", "--timeout", "0.3", "-q",
            ])  # fmt: skip
        finally:
            release.set()
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert f"medkg: error: {target.url}/store?graph=" in line
    assert "did not answer within 0.3 s" in line and "the target is unchanged" in line


def test_too_large_a_request_suggests_a_smaller_batch(fixture_settings: Settings) -> None:
    with scripted_server(lambda n, m, h, b: (413, {}, b"Payload Too Large")) as target:
        with pytest.raises(PushError, match=r"HTTP 413: Payload Too Large .*smaller --batch"):
            push(fixture_settings, f"{target.url}/store", quiet=True)
