"""The production server (granian): it refuses a taken address, spreads connections over its
workers, and its command-line routes serve queries."""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from server_harness import REPO, free_port, start_server, stop_server


def test_an_address_in_use_is_refused_with_a_clear_message(built_store: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        env = {**os.environ, "MEDKG_HOME": str(REPO),
               "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "server")])}
        done = subprocess.run(
            [sys.executable, "-m", "medkg_server", "--store", str(built_store),
             "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True, text=True, env=env, timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_a_port_left_by_a_stopped_server_is_free_at_once() -> None:
    """Connections the server closed stay in TIME_WAIT for a minute: no reason to refuse."""
    from medkg_server.serving import AddressInUse, _check_address_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server side closes first: its end waits in TIME_WAIT
            client.recv(1)
        with pytest.raises(AddressInUse):
            _check_address_free("127.0.0.1", port)  # still listening
    _check_address_free("127.0.0.1", port)


def _connections(process: psutil.Process, port: int) -> int:
    listing = getattr(process, "net_connections", process.connections)(kind="tcp")
    return sum(1 for c in listing if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)


def _listening_workers(pid: int, port: int, expected: int) -> list[psutil.Process]:
    """The server's worker processes once `expected` of them listen on `port`.

    /health answers as soon as one worker is up; the other may still be importing the app."""
    deadline = time.monotonic() + 60
    while True:
        workers = [child for child in psutil.Process(pid).children()
                   if _listens(child, port)]
        if len(workers) >= expected or time.monotonic() > deadline:
            return workers
        time.sleep(0.2)


def _listens(process: psutil.Process, port: int) -> bool:
    listing = getattr(process, "net_connections", process.connections)(kind="tcp")
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in listing)


def _listening_socket(process: psutil.Process, port: int) -> str:
    """The kernel's name of the socket `process` listens on at `port` (socket:[inode])."""
    listing = getattr(process, "net_connections", process.connections)(kind="tcp")
    fd = next(c.fd for c in listing if c.status == psutil.CONN_LISTEN and c.laddr.port == port)
    return os.readlink(f"/proc/{process.pid}/fd/{fd}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux SO_REUSEPORT balancing")
def test_keep_alive_connections_are_spread_over_the_workers(
    built_store: Path, tmp_path: Path
) -> None:
    running = start_server(built_store, tmp_path / "two.log", {"MEDKG_WORKERS": "2"})
    clients = []
    try:
        port = int(running.url.rsplit(":", 1)[1])
        workers = _listening_workers(running.process.pid, port, expected=2)
        for _ in range(16):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            client.request("GET", "/health")
            assert client.getresponse().read()
            clients.append(client)  # kept open: the connection stays with its worker
        # each worker listens on a socket of its own (SO_REUSEPORT), not one inherited copy
        assert len({_listening_socket(worker, port) for worker in workers}) == 2
        held = sorted(_connections(worker, port) for worker in workers)
        assert len(workers) == 2 and sum(held) == 16
        # on one shared socket a single worker often took 13 to 16 of them
        assert held[0] >= 2, held
    finally:
        for client in clients:
            client.close()
        stop_server(running)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="psutil listening sockets")
def test_a_worker_that_dies_is_started_again(built_store: Path, tmp_path: Path) -> None:
    running = start_server(built_store, tmp_path / "respawn.log", {"MEDKG_WORKERS": "2"})
    try:
        port = int(running.url.rsplit(":", 1)[1])
        first = _listening_workers(running.process.pid, port, expected=2)
        assert len(first) == 2
        first[0].kill()
        first[0].wait(timeout=10)
        deadline = time.monotonic() + 60
        while True:
            now = _listening_workers(running.process.pid, port, expected=2)
            pids = {worker.pid for worker in now}
            if len(pids) == 2 and first[0].pid not in pids or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert first[0].pid not in pids and first[1].pid in pids and len(pids) == 2
        for _ in range(8):  # new connections reach both workers and are answered
            assert requests.get(running.url + "/health", timeout=30).status_code == 200
    finally:
        stop_server(running)


@pytest.mark.parametrize("target", [
    ["--factory", "medkg_server.serving:worker_app"],  # what `serve` runs in each worker
    ["medkg_server.wsgi:app"],  # the plain WSGI app, as any WSGI server would load it
])
def test_granian_command_line_routes_serve_pool_queries(
    built_store: Path, tmp_path: Path, target: list[str]
) -> None:
    """server/README's command-line routes: the query processes start from granian's own main
    script there, and the settings come from MEDKG_* variables alone."""
    port = free_port()
    env = {**os.environ, "MEDKG_HOME": str(REPO), "MEDKG_STORE": str(built_store),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "server")])}
    env.pop("_MEDKG_SERVE_CONFIG", None)
    log_path = tmp_path / "granian.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
         "--port", str(port), *target],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path),
    )
    try:
        query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o . FILTER(isIRI(?s)) }"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": query},
                                      headers={"Accept": "application/sparql-results+json"},
                                      timeout=30)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.3)
        assert answer.status_code == 200, answer.text
        assert 'desc="pool"' in answer.headers["Server-Timing"]
        assert int(answer.json()["results"]["bindings"][0]["n"]["value"]) > 0
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_a_worker_opens_the_store_before_its_first_request(built_store: Path) -> None:
    from medkg_server import create_app
    from medkg_server.serving import _warm
    from medkg_server.state import EXTENSION

    states = [create_app({"STORE": str(built_store), "EXECUTORS": 1}).extensions[EXTENSION]
              for _ in range(2)]
    try:
        _warm(states[0], states[0].version())  # builds and saves the facet index if none is
        second = states[1]
        assert second.inline.state.version is None  # nothing opened by building the app
        _warm(second, second.version())  # reads the saved index, and must still open the store
        assert second.inline.state.version == second.version().name
    finally:
        for st in states:
            st.executor.close()


@contextlib.contextmanager
def _watched(built_store: Path, tmp_path: Path, poll: float) -> Iterator[tuple[Any, Path]]:
    """A copy of the store, its server state, and the worker's warm-up looking every `poll` s."""
    import shutil
    import threading

    from medkg_server import create_app
    from medkg_server.serving import _keep_warm
    from medkg_server.state import EXTENSION

    store = tmp_path / "store"
    shutil.copytree(built_store, store, symlinks=True)
    st = create_app({"STORE": str(store), "EXECUTORS": 1}).extensions[EXTENSION]
    stop = threading.Event()
    watcher = threading.Thread(target=_keep_warm, args=(st, poll, stop), daemon=True)
    try:
        watcher.start()
        yield st, store
    finally:
        stop.set()
        st.written.set()  # wakes it to see `stop`
        watcher.join(30)
        st.executor.close()
    assert not watcher.is_alive()


def test_a_worker_prepares_each_new_version_without_waiting_for_a_request(
    built_store: Path, tmp_path: Path
) -> None:
    from medkg.store import StagedVersion
    from medkg_server.catalogue import index_for
    from medkg_server.facet_index import INDEX_FILE

    with _watched(built_store, tmp_path, 0.05) as (st, store):
        first = st.version().name
        _wait_for(lambda: st.inline.state.version == first)
        # a write publishes a new version (as an update does): the worker opens it unasked
        staged = StagedVersion(store, from_published=True)
        staged.publish({"quads": len(staged.db)}, compact=False)
        second = st.version().name
        assert second != first
        _wait_for(lambda: st.inline.state.version == second)
        # the facet index too, saved beside the new version for the other workers
        _wait_for(lambda: st.memo.get(second, "catalogue-index") is not None)
        assert (store / "versions" / second / INDEX_FILE).is_file()
        assert index_for(st, second).size > 0


def _wait_for(condition, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.05)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_memory_freed_in_scattered_blocks_goes_back_to_the_system() -> None:
    """What a replaced version leaves behind is freed in small pieces, which glibc keeps."""
    import ctypes

    from medkg_server.serving import _return_freed_memory

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    me = psutil.Process()
    blocks = [libc.malloc(4000) for _ in range(50_000)]  # about 200 MB
    for block in blocks:
        ctypes.memset(block, 1, 4000)
    for i, block in enumerate(blocks):
        if i % 50:
            libc.free(block)  # every 50th stays: the heap cannot simply shrink from its top
    held = me.memory_info().rss
    _return_freed_memory()
    assert held - me.memory_info().rss > 100 << 20
    for block in blocks[::50]:
        libc.free(block)


def test_preparing_a_version_gives_freed_memory_back(
    built_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medkg_server import create_app, serving
    from medkg_server.state import EXTENSION

    calls: list[bool] = []
    monkeypatch.setattr(serving, "_return_freed_memory", lambda: calls.append(True))
    st = create_app({"STORE": str(built_store), "EXECUTORS": 1}).extensions[EXTENSION]
    serving._warm(st, st.version())
    assert calls == [True]
    assert st.memo.get(st.version().name, "catalogue-index") is not None


def test_a_write_made_by_the_worker_gets_its_version_prepared_at_once(
    built_store: Path, tmp_path: Path
) -> None:
    from medkg_server.worker import Job

    # it would look again only after a minute: what it does sooner, the write woke it for
    with _watched(built_store, tmp_path, 60.0) as (st, _):
        first = st.version().name
        _wait_for(lambda: st.memo.get(first, "catalogue-index") is not None)
        x = "http://example.org/"
        insert = f"INSERT DATA {{ GRAPH <{x}g> {{ <{x}s> <{x}p> 1 }} }}"
        outcome = st.run(Job(insert, "update", None, None, 0), first)
        assert outcome.version and outcome.version != first
        _wait_for(lambda: st.inline.state.version == outcome.version, seconds=20)
