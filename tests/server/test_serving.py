"""The production server: it refuses a taken address and spreads connections over its workers."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
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


def _connections(process: psutil.Process, port: int) -> int:
    listing = getattr(process, "net_connections", process.connections)(kind="tcp")
    return sum(1 for c in listing if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)


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
        for _ in range(16):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            client.request("GET", "/health")
            assert client.getresponse().read()
            clients.append(client)  # kept open: the connection stays with its worker
        workers = [
            child for child in psutil.Process(running.process.pid).children()
            if "medkg_server" in " ".join(child.cmdline())
        ]
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
