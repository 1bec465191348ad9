"""Bounds of the slow runs, read from the environment (short defaults for CI)."""

from __future__ import annotations

import os


def env_number(name: str, default: float) -> float:
    """A positive number from the environment variable `name`, else `default`."""
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


LOAD_SECONDS = env_number("MEDKG_LOAD_SECONDS", 4)
LOAD_CLIENTS = int(env_number("MEDKG_LOAD_CLIENTS", 64))
CRASH_ROUNDS = int(env_number("MEDKG_CRASH_ROUNDS", 3))
FUZZ_EXAMPLES = int(env_number("MEDKG_FUZZ_EXAMPLES", 60))
SCHEMA_EXAMPLES = int(env_number("MEDKG_SCHEMA_EXAMPLES", 8))
