"""Server settings: the web layer's configuration on top of medkg.config.Settings.

Each value comes, in order of precedence, from the `config` dict given to `create_app`, from a
`MEDKG_<NAME>` environment variable (read with Flask's `from_prefixed_env`, so `MEDKG_ROW_CAP=500`
arrives as the integer 500; STORE and UPDATE_TOKEN stay the text written), then from the default
below.

Keys (default): meaning

- STORE (medkg's): store folder (else medkg.config's MEDKG_STORE / default)
- HOST, PORT (127.0.0.1, 8000): where `serve` listens
- WORKERS, THREADS (2, 4): worker processes, and threads per worker that run the Flask app
- EXECUTORS (2): query child processes per worker (each can be killed)
- QUERY_TIMEOUT (medkg's (30 s)): default time limit of one query, in seconds
- MAX_QUERY_TIMEOUT (120): the most a client may ask for with the `timeout` parameter
- ROW_CAP (100000): most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) in an answer
- MAX_REQUEST_BYTES (1048576): largest request body or query string accepted
- CACHE_ENTRIES (512): result cache size per worker (0 turns the cache off)
- CACHE_MAX_BYTES (4194304): largest single answer kept in the cache
- MEMORY_QUADS (500000): a store of at most this many quads is read from a copy in memory by
  every process that answers from it (0: always from disk); about 0.4 KB per quad per process,
  and there are WORKERS x (1 + EXECUTORS) such processes
- UPDATE_TOKEN (unset): bearer token; SPARQL Update is off unless it is set
- FEDERATION_ALLOW (empty): IRI prefixes SERVICE and LOAD may reach (comma separated)
- CORS_ORIGINS (*): origins allowed to read cross-origin (comma separated, or *)
- LD_PREFIX (/): the server path that the base IRI maps to
- PROXY_HOPS (0): how many reverse proxies in front of the server to trust for the client's
  scheme, host, port and path prefix (X-Forwarded-Proto, -Host, -Port, -Prefix, -For), so the
  links the server writes (sitemaps, VoID, service description) say https behind a TLS proxy;
  0 trusts none (a client could otherwise choose the links others are sent)
- COMPRESS_MIN_BYTES (1024): the smallest text answer sent gzip-compressed to a client that
  sends `Accept-Encoding: gzip` (0: never compress)
- CATALOGUE_FILES_MAX (20000): the most datasets for which the server makes the catalogue
  downloads (DCAT, CSV, SSSOM) itself, about 0.5 s per 1,000 datasets, once per version
  (0: never; `medkg export` makes them at any size, reading a dataset at a time)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Config

from medkg.config import ConfigError, Settings, load_settings

DEFAULTS: dict[str, Any] = {
    "HOST": "127.0.0.1",
    "PORT": 8000,
    "WORKERS": 2,
    "THREADS": 4,
    "EXECUTORS": 2,
    "MAX_QUERY_TIMEOUT": 120.0,
    "ROW_CAP": 100_000,
    "MAX_REQUEST_BYTES": 1 << 20,
    "CACHE_ENTRIES": 512,
    "CACHE_MAX_BYTES": 4 << 20,
    "MEMORY_QUADS": 500_000,
    "UPDATE_TOKEN": "",
    "FEDERATION_ALLOW": "",
    "CORS_ORIGINS": "*",
    "LD_PREFIX": "/",
    "CATALOGUE_FILES_MAX": 20_000,
    "PROXY_HOPS": 0,
    "COMPRESS_MIN_BYTES": 1024,
}

# Flask's from_prefixed_env reads each value as JSON when it can ("true" -> True, "1e3" ->
# 1000.0, "null" -> None): right for numbers, wrong for a token or a path, which are text
TEXT_KEYS = ("STORE", "UPDATE_TOKEN")


def from_environment() -> dict[str, Any]:
    """The MEDKG_* environment variables as setting keys: numbers decoded, text kept as written."""
    config = Config(".")
    config.from_prefixed_env("MEDKG")
    for key in TEXT_KEYS:
        raw = os.environ.get(f"MEDKG_{key}")
        if raw is not None:
            config[key] = raw
    return dict(config)


@dataclass(frozen=True)
class ServerSettings:
    """Everything the web application needs, resolved and checked."""

    core: Settings
    host: str
    port: int
    workers: int
    threads: int
    executors: int
    query_timeout: float
    max_query_timeout: float
    row_cap: int
    max_request_bytes: int
    cache_entries: int
    cache_max_bytes: int
    memory_quads: int
    update_token: str
    federation_allow: tuple[str, ...]
    cors_origins: tuple[str, ...]
    ld_prefix: str
    catalogue_files_max: int
    proxy_hops: int
    compress_min_bytes: int

    @property
    def store(self) -> Path:
        return self.core.store

    @property
    def base(self) -> str:
        return self.core.base

    @property
    def update_enabled(self) -> bool:
        return bool(self.update_token)


def _as_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).split(",")
    return tuple(item.strip() for item in items if item.strip())


def _positive(name: str, value: Any, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        noun = "whole number" if kind is int else "number"
        raise ConfigError(f"MEDKG_{name}={value!r} is not a {noun}") from None
    # 0 turns the feature off
    zero_allowed = name in (
        "CACHE_ENTRIES", "MEMORY_QUADS", "CATALOGUE_FILES_MAX", "PROXY_HOPS", "COMPRESS_MIN_BYTES"
    )
    if number < 0 or (number == 0 and not zero_allowed):
        least = "0 or more" if zero_allowed else "positive"
        raise ConfigError(f"MEDKG_{name} must be {least}, got {value!r}")
    return number


def resolve(values: Mapping[str, Any], core: Settings | None = None) -> ServerSettings:
    """Build ServerSettings from a flat mapping of the keys above (missing keys take defaults)."""
    merged = {**DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    if core is None:
        core = load_settings(store=merged.get("STORE") or None)
    elif merged.get("STORE"):
        core = core.with_store(merged["STORE"])
    prefix = str(merged["LD_PREFIX"])
    if not prefix.startswith("/") or not prefix.endswith("/"):
        raise ConfigError(f"MEDKG_LD_PREFIX={prefix!r} must start and end with '/'")
    timeout = _positive("QUERY_TIMEOUT", merged.get("QUERY_TIMEOUT", core.query_timeout), float)
    max_timeout = max(_positive("MAX_QUERY_TIMEOUT", merged["MAX_QUERY_TIMEOUT"], float), timeout)
    return ServerSettings(
        core=core,
        host=str(merged["HOST"]),
        port=_positive("PORT", merged["PORT"], int),
        workers=_positive("WORKERS", merged["WORKERS"], int),
        threads=_positive("THREADS", merged["THREADS"], int),
        executors=_positive("EXECUTORS", merged["EXECUTORS"], int),
        query_timeout=timeout,
        max_query_timeout=max_timeout,
        row_cap=_positive("ROW_CAP", merged["ROW_CAP"], int),
        max_request_bytes=_positive("MAX_REQUEST_BYTES", merged["MAX_REQUEST_BYTES"], int),
        cache_entries=_positive("CACHE_ENTRIES", merged["CACHE_ENTRIES"], int),
        cache_max_bytes=_positive("CACHE_MAX_BYTES", merged["CACHE_MAX_BYTES"], int),
        memory_quads=_positive("MEMORY_QUADS", merged["MEMORY_QUADS"], int),
        update_token=str(merged["UPDATE_TOKEN"] or ""),
        federation_allow=_as_list(merged["FEDERATION_ALLOW"]),
        cors_origins=_as_list(merged["CORS_ORIGINS"]),
        ld_prefix=prefix,
        catalogue_files_max=_positive("CATALOGUE_FILES_MAX", merged["CATALOGUE_FILES_MAX"], int),
        proxy_hops=_positive("PROXY_HOPS", merged["PROXY_HOPS"], int),
        compress_min_bytes=_positive("COMPRESS_MIN_BYTES", merged["COMPRESS_MIN_BYTES"], int),
    )
