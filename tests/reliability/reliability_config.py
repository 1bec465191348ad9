"""Constants of the reliability tests, and bounds of the slow runs read from the environment.

Kept out of conftest.py so that test modules can import them by a name no other test folder uses.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUERY_TIMEOUT = 2  # seconds: the short time limit every hostile query must respect
UPDATE_TOKEN = "reliability-test-token"
# below the HTTP layer's 64 KB request-target limit, so the app's own 414 can be seen on GET
MAX_REQUEST_BYTES = 32768


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
