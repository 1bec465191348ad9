"""Derived data kept beside a store version, so each version computes it once, not per process.

The graph does not change between builds, so what costs a pass over the whole store (the facet
index, the VoID statistics, the downloadable dump) is computed once per version and saved in its
folder. A file lock makes one process compute while the others wait and then read its file; a
folder the server may not write to (a read-only deployment) means every process computes for
itself what was not saved there before.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

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
        lock = _lock(version_dir, name)
    except OSError:
        # a folder this process may not write to: a file saved there before is still good
        if path.exists():
            try:
                return load(path)
            except (OSError, ValueError, KeyError, TypeError):
                pass
        return build()
    with lock:
        if path.exists():
            try:
                return load(path)
            except (OSError, ValueError, KeyError, TypeError):
                pass  # an older or damaged file: build it again
        value = build()
        try:
            _remove_leftovers(path)
            write_atomically(path, lambda tmp: save(value, tmp))
        except OSError:
            pass  # not saved: the next process builds it again
        return value


def file_or_write(version_dir: Path, name: str, write: Callable[[Path], object]) -> Path:
    """The file (or folder) `name` in `version_dir`, written by `write` the first time.

    For files too big to hold in memory (the whole graph as a download): `write` fills a
    temporary path that is renamed into place when complete, so a reader never sees half a
    file. Raises OSError when the file is not there and the folder cannot be written.
    """
    path = version_dir / name
    try:
        lock = _lock(version_dir, name)
    except OSError:
        # read-only now, but written before (files are only ever renamed in complete): use it
        if path.exists():
            return path
        raise
    with lock:
        if not path.exists():
            _remove_leftovers(path)
            write_atomically(path, write)
    return path


def _lock(version_dir: Path, name: str) -> IO[str]:
    """An open lock file for `name`, held exclusively until closed (other processes wait)."""
    lock = open(version_dir / f"{name}.lock", "w", encoding="utf-8")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def _remove_leftovers(path: Path) -> None:
    """Delete the temporary copies of `path` that writers killed half-way left behind.

    Called under the lock: the only process that writes one is the lock's holder, so any that
    exists now belongs to a process that died (a dump is as big as the store, so each killed
    worker would otherwise leave one for as long as the version is kept).
    """
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write` fills a temporary path (a file or a folder) that is then renamed to `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
