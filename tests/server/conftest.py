"""Fixtures for the server tests: a small built store and a real production server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_harness import RunningServer, build_store, start_server, stop_server


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("store")
    build_store(store)
    return store


@pytest.fixture(scope="session")
def server(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One read-only server for most tests: short timeout, small row cap."""
    log = tmp_path_factory.mktemp("log") / "server.log"
    running = start_server(
        built_store,
        log,
        {"MEDKG_QUERY_TIMEOUT": "3", "MEDKG_ROW_CAP": "200", "MEDKG_MAX_REQUEST_BYTES": "65536"},
    )
    yield running
    stop_server(running)
