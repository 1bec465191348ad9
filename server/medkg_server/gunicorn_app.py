"""Production serving: gunicorn, run programmatically with the app built in each worker."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from flask import Config
from gunicorn.app.base import BaseApplication

from medkg.config import ConfigError, Settings
from medkg.store import StoreError
from medkg_server import catalogue, describe
from medkg_server.app import create_app
from medkg_server.settings import resolve
from medkg_server.state import EXTENSION

log = logging.getLogger("medkg_server")
# Gunicorn's own worker timeout must outlast the longest query a client may ask for.
WORKER_TIMEOUT_MARGIN = 30


class MedkgGunicorn(BaseApplication):  # type: ignore[misc]
    """A gunicorn application whose workers each build their own Flask app and query pool."""

    def __init__(self, options: dict[str, Any], app_config: dict[str, Any]) -> None:
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self.app_config)


def _post_worker_init(worker: Any) -> None:
    """Start the query processes and index the catalogue before the first request needs them."""
    st = worker.wsgi.extensions[EXTENSION]
    st.executor.start()
    threading.Thread(target=_warm, args=(st,), daemon=True, name="medkg-index").start()


def _warm(st: Any) -> None:
    """Compute the per-version figures (facet index, VoID statistics) before anyone asks."""
    version = st.version()
    if version is None:
        return
    try:
        catalogue.index_for(st, version.name)
        describe.statistics(st, version)
    except (StoreError, OSError) as exc:
        # the pages will try again (and report the problem) when they are asked for
        log.warning("could not prepare the catalogue figures at start: %s", exc)


def _worker_exit(server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None and EXTENSION in getattr(app, "extensions", {}):
        app.extensions[EXTENSION].executor.close()


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    config: dict[str, Any] | None = None,
) -> None:
    """Serve the store of `settings` with gunicorn until stopped (blocks)."""
    app_config = {"STORE": str(settings.store), **(config or {})}
    for key, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            app_config[key] = value
    resolved = resolve(_env_and(app_config), core=settings)
    _check_address_free(resolved.host, resolved.port)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = {
        "bind": f"{resolved.host}:{resolved.port}",
        "workers": resolved.workers,
        "worker_class": "gthread",
        "threads": resolved.threads,
        "timeout": int(resolved.max_query_timeout) + WORKER_TIMEOUT_MARGIN,
        "graceful_timeout": 10,
        "keepalive": 5,
        # Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new
        # connections over them. On one shared socket the worker that wakes first accepts, and
        # with keep-alive clients one worker often ends up with most connections (13 of 16
        # measured) while the other idles.
        "reuse_port": True,
        # The app enforces its own size limits (MEDKG_MAX_REQUEST_BYTES) with clear messages.
        "limit_request_line": 0,
        "accesslog": None,
        # Several servers may run on one machine (tests, benchmarks): no shared control socket.
        "control_socket_disable": True,
        "post_worker_init": _post_worker_init,
        "worker_exit": _worker_exit,
    }
    MedkgGunicorn(options, app_config).run()


class AddressInUse(ConfigError):
    """Another process already listens where the server was told to listen."""


def _check_address_free(host: str, port: int) -> None:
    """Fail clearly if something listens on host:port already.

    With SO_REUSEPORT two servers could otherwise share the port without an error, each
    answering part of the requests (possibly from different stores). A socket bound without
    the option is refused by any listener on that port, so it is the check.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AddressInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _env_and(config: dict[str, Any]) -> dict[str, Any]:
    """The same view of MEDKG_* variables and overrides that create_app will have."""
    merged = Config(".")
    merged.from_prefixed_env("MEDKG")
    merged.update(config)
    return dict(merged)
