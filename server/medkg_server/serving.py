"""Production serving: granian (a Rust HTTP server) runs the Flask app in worker processes.

Granian parses HTTP and keeps connections in Rust and calls the WSGI application on a pool of
threads per worker. Measured with wrk on the same store and requests that are all distinct, it
answers 1.3-1.4x the light look-ups and 1.2x the HTML pages gunicorn's threaded workers did
(bench/RESULTS.md): gunicorn spent a third of each light request's CPU on HTTP in Python.

Granian forks its workers from this process; each builds its own Flask app (`worker_app`), starts
its query pool and prepares the catalogue figures in the background.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import json
import logging
import os
import socket
import sys
import threading
from typing import Any

from flask import Flask

from medkg.config import ConfigError, Settings
from medkg.store import StoreError
from medkg_server import catalogue, describe
from medkg_server.app import create_app
from medkg_server.batched_log import BatchedHandler, SecondsFormatter
from medkg_server.fastpath import access_log
from medkg_server.settings import from_environment, resolve
from medkg_server.state import EXTENSION

log = logging.getLogger("medkg_server")
# The app's configuration travels to the workers in this variable, so that any start method
# (fork or spawn) gives them the same view as `serve` resolved.
CONFIG_ENV = "_MEDKG_SERVE_CONFIG"  # not MEDKG_*: the settings would read it as a key
# Headers must fit the largest query string the app accepts, so that an oversized one reaches the
# app and gets its 414 with a message. (The request target itself stops at 64 KB in granian's HTTP
# library, with a bare 414: server/README says to POST longer queries.)
HEADER_ROOM = 64 << 10
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WARM_POLL_SECONDS = 2.0  # how often a worker looks for a newly published version


def worker_app() -> Flask:
    """Build one worker's application: the Flask app, its query pool and catalogue figures."""
    app = create_app(json.loads(os.environ.get(CONFIG_ENV, "{}")))
    st = app.extensions[EXTENSION]
    st.executor.start()
    atexit.register(st.executor.close)
    threading.Thread(target=_keep_warm, args=(st,), daemon=True, name="medkg-warm").start()
    return app


def _keep_warm(st: Any, poll: float = WARM_POLL_SECONDS,
               stop: threading.Event | None = None) -> None:
    """Prepare each published version as soon as it appears: at start, and after every write.

    Without it the first request after a build or an update paid for it: a browse page after
    a one-triple update at 100k datasets waited for the facet index (13.5 s). It looks every
    `poll` seconds, and at once after a write made by this process. `stop` ends the loop
    (tests); a worker's runs as long as the worker.
    """
    stop = stop or threading.Event()
    warmed: str | None = None
    while not stop.is_set():
        st.written.clear()  # before looking: a write from now on is not missed
        version = st.version()
        if version is not None and version.name != warmed:
            _warm(st, version)
            warmed = version.name
        st.written.wait(poll)


def _warm(st: Any, version: Any) -> None:
    """Open the store and compute the per-version figures before anyone asks.

    Opening may copy the store into memory (MEDKG_MEMORY_QUADS: 2 s at 10k synthetic
    datasets), and the facet index (read from its file when another worker built it) need not
    open it, so the first request would otherwise pay for the copy.
    """
    try:
        st.inline.store(version.name)
        catalogue.index_for(st, version.name)
        describe.statistics(st, version)
    except (StoreError, OSError) as exc:
        # the pages will try again (and report the problem) when they are asked for
        log.warning("could not prepare the figures of version %s: %s", version.name, exc)
    _return_freed_memory()


def _return_freed_memory() -> None:
    """Give the memory of the versions let go (catalogue.index_for) back to the system.

    glibc keeps freed memory for reuse, and what a version's index, statistics and store
    handles leave behind is scattered: at 100k datasets a worker grew by 150-200 MB with
    every write though it held one version's data. Other C libraries: nothing to do.
    """
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    config: dict[str, Any] | None = None,
) -> None:
    """Serve the store of `settings` with granian until stopped (blocks)."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    app_config = {"STORE": str(settings.store), **(config or {})}
    for key, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            app_config[key] = value
    resolved = resolve(_env_and(app_config), core=settings)
    _check_address_free(resolved.host, resolved.port)
    _configure_logging()
    os.environ[CONFIG_ENV] = json.dumps(app_config)
    Server(
        f"{__name__}:worker_app",
        factory=True,
        address=resolved.host,
        port=resolved.port,
        interface=Interfaces.WSGI,
        workers=resolved.workers,
        blocking_threads=resolved.threads,
        http1_settings=HTTP1Settings(
            max_buffer_size=max(417_792, resolved.max_request_bytes + HEADER_ROOM)
        ),
        log_access=False,
        websockets=False,
        respawn_failed_workers=True,
        respawn_interval=1.0,
        workers_kill_timeout=10,
    ).serve()


def _configure_logging() -> None:
    """Log to stderr; the access log (one line per request) in batches (batched_log.py)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # The format shows no thread, process or source line, so records need not look them up
    # (together half the cost of an access-log line; the logging HOWTO's "Optimization" table
    # names each of these switches).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller look-up (a stack walk) per record
    access = access_log
    if not any(isinstance(h, BatchedHandler) for h in access.handlers):
        handler = BatchedHandler(sys.stderr)
        handler.setFormatter(SecondsFormatter(LOG_FORMAT))
        access.addHandler(handler)
    access.propagate = False


class AddressInUse(ConfigError):
    """Another process already listens where the server was told to listen."""


def _check_address_free(host: str, port: int) -> None:
    """Fail clearly if something listens on host:port already.

    SO_REUSEADDR, as the server's own sockets have it: connections of a server stopped moments
    ago linger in TIME_WAIT on the port for a minute, and without it they made a restart fail
    as if the port were taken. A socket that listens there still makes the bind fail.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AddressInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _env_and(config: dict[str, Any]) -> dict[str, Any]:
    """The same view of MEDKG_* variables and overrides that create_app will have."""
    return {**from_environment(), **config}
