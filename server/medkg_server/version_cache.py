"""Derived data kept beside a store version, so each version computes it once, not per process.

The graph does not change between builds, so figures that cost a pass over the whole store (the
facet index, the VoID statistics) are computed once per version and saved in its folder. A file
lock makes one process compute while the others wait and then read its file; a folder the server
may not write to (a read-only deployment) just means every process computes for itself.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def load_or_build(
    version_dir: Path,
    name: str,
    build: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
) -> T:
    """The value saved as `name` in `version_dir`, or a new one built and saved there."""
    path = version_dir / name
    try:
        lock = open(version_dir / f"{name}.lock", "w", encoding="utf-8")
    except OSError:
        return build()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            try:
                return load(path)
            except (OSError, ValueError, KeyError, TypeError):
                pass  # an older or damaged file: build it again
        value = build()
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        try:
            save(value, tmp)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
        return value
