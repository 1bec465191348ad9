"""Derived data kept beside a store version, so each version computes it once, not per process.

The graph does not change between builds, so what costs a pass over the whole store (the facet
index, the VoID statistics, the downloadable dump) is computed once per version and saved in its
folder. A file lock makes one process compute while the others wait and then read its file
(the big download files are written in the background, and a caller waits only a few seconds
for them); a folder the server may not write to (a read-only deployment) means every process
computes for itself what was not saved there before.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")
WAIT_POLL_SECONDS = 0.02  # how often a caller of file_or_start looks for the file
# a background write's failure, by the path it was writing, until a caller is told
_failures: dict[Path, BaseException] = {}


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


def file_or_start(
    version_dir: Path, name: str, write: Callable[[Path], object], wait: float
) -> Path | None:
    """The file (or folder) `name` in `version_dir`, written in the background the first time;
    None while it is being written.

    For files too big to hold in memory (the whole graph as a download): `write` fills a
    temporary path that is renamed into place when complete, so a reader never sees half a
    file. It runs in a thread of its own under the file lock, and the caller waits at most
    `wait` seconds for it: the whole graph takes minutes to write at a million datasets, and
    requests that waited for it held the server's threads all that time. A failure of the
    writing is raised to the next caller in this process. Raises OSError when the file is not
    there and the folder cannot be written.
    """
    path = version_dir / name
    if not path.exists():
        lock = _try_lock(version_dir, name)  # None: another thread or process is writing it
        if lock is not None:
            threading.Thread(target=_write_under, args=(lock, path, write), daemon=True,
                             name=f"medkg-write-{name}").start()
        deadline = time.monotonic() + wait
        while not path.exists() and path not in _failures and time.monotonic() < deadline:
            time.sleep(WAIT_POLL_SECONDS)
    failure = _failures.pop(path, None)
    if failure is not None:
        raise failure
    return path if path.exists() else None


def _write_under(lock: IO[str], path: Path, write: Callable[[Path], object]) -> None:
    try:
        with lock:
            if not path.exists():
                _remove_leftovers(path)
                write_atomically(path, write)
    except Exception as exc:  # noqa: BLE001 - handed, whatever it is, to the next request
        _failures[path] = exc


def _try_lock(version_dir: Path, name: str) -> IO[str] | None:
    """The lock file for `name`, held exclusively, or None when another holder has it."""
    lock = open(version_dir / f"{name}.lock", "w", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


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
