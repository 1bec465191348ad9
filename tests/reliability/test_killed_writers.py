"""A server worker SIGKILLed while it writes a per-version file (the dump, the Croissant folder).

The file is written under a temporary name and renamed into place whole, so a kill leaves no
half file under the real name; the next request must get a whole one, and the temporary copy the
dead writer left (as big as the dump) must not stay beside the version.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from medkg_server import version_cache

# A writer that fills half the file (or folder), says so, then hangs until it is killed.
WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from medkg_server import version_cache

    folder, name, ready = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

    def write(path):
        if name == "croissant":
            path.mkdir()
            (path / "a.json").write_text("{}", encoding="utf-8")
        else:
            path.write_bytes(b"half")
        ready.touch()
        time.sleep(60)

    version_cache.file_or_start(folder, name, write, 120)
    """
)


def _kill_while_writing(folder: Path, name: str) -> None:
    """Start a writer of `name` in `folder` and SIGKILL it in the middle of its writing."""
    ready = folder.parent / f"{name}.ready"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), name, str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert child.poll() is None, "the writer stopped before it started writing"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


@pytest.mark.parametrize("name", ["medkg.nq.gz", "croissant"])
def test_a_writer_killed_half_way_leaves_no_half_file_and_no_leftover(
    tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "version"
    folder.mkdir()
    _kill_while_writing(folder, name)
    assert not (folder / name).exists()  # nothing half-written under the real name
    assert list(folder.glob(f".{name}.*.tmp"))  # the dead writer's temporary copy

    def write(path: Path) -> None:
        if name == "croissant":
            path.mkdir()
            (path / "a.json").write_text('{"whole": true}', encoding="utf-8")
            (path / "b.json").write_text('{"whole": true}', encoding="utf-8")
        else:
            path.write_bytes(b"whole")

    written = version_cache.file_or_start(folder, name, write, 30)  # the next request
    if name == "croissant":
        assert sorted(p.name for p in written.iterdir()) == ["a.json", "b.json"]
    else:
        assert written.read_bytes() == b"whole"
    assert not list(folder.glob(f".{name}.*.tmp")), "the killed writer's copy stays forever"
