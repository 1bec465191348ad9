"""Fixtures for the reliability tests: the real catalogue built once, and servers over it.

The servers are started with the harness of tests/server (the real production server on loopback), so these
tests exercise the production stack. Bounds of the slow runs come from environment variables
(see reliability_config.py), so CI runs them briefly and `bench/reliability_report.py` at length.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "server"))  # the shared server harness

from reliability_config import MAX_REQUEST_BYTES, QUERY_TIMEOUT, ROOT, UPDATE_TOKEN
from server_harness import RunningServer, start_server, stop_server

from medkg.build import build
from medkg.config import load_settings
from medkg_server.settings import DEFAULTS


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's own lists built into a temporary store (no SHACL run: speed)."""
    store = tmp_path_factory.mktemp("real") / "store"
    build(load_settings(store=store, home=ROOT), run_validation=False)
    return store


@pytest.fixture(scope="session")
def live(real_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One production server over the real store: 2 s limit, small caps, updates behind a token."""
    log = tmp_path_factory.mktemp("live-log") / "server.log"
    running = start_server(
        real_store,
        log,
        {
            "MEDKG_WORKERS": "2",
            "MEDKG_THREADS": "16",
            "MEDKG_EXECUTORS": "2",
            "MEDKG_QUERY_TIMEOUT": str(QUERY_TIMEOUT),
            "MEDKG_MAX_QUERY_TIMEOUT": str(QUERY_TIMEOUT),
            "MEDKG_ROW_CAP": "1000",
            "MEDKG_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
            "MEDKG_UPDATE_TOKEN": UPDATE_TOKEN,
        },
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def production(real_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with the production defaults (30 s limit, 2 workers, 4 threads, 2 executors)."""
    log = tmp_path_factory.mktemp("production-log") / "server.log"
    # the harness's own thread count is for tests; this server takes the shipped defaults
    shipped = {f"MEDKG_{key}": str(DEFAULTS[key]) for key in ("WORKERS", "THREADS", "EXECUTORS")}
    running = start_server(real_store, log, shipped)
    yield running
    stop_server(running)
