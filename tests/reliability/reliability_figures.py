"""Figures the reliability tests measure, written for bench/reliability_report.py.

When MEDKG_RELIABILITY_FIGURES names a file, each call to `record` appends one JSON line to it;
otherwise it does nothing, so the tests run the same with or without the report.
"""

from __future__ import annotations

import json
import os
from typing import Any


def record(suite: str, **values: Any) -> None:
    """Append `values` under `suite` to the figures file, if one is configured."""
    target = os.environ.get("MEDKG_RELIABILITY_FIGURES")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"suite": suite, **values}, default=str) + "\n")
