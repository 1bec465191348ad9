"""Write an export beside its destination and move it into place only once it is complete.

A failed or interrupted export then leaves the previous file or folder as it was (or nothing),
never half a file; and a folder export (one file per dataset) replaces the previous folder
whole, so a dataset that left the catalogue does not keep its old file there. A folder is only
replaced when it holds nothing but files of that export: pointed at a folder with other files,
the export refuses rather than delete them.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from medkg.export.errors import ExportError


def _temporary(out: Path) -> Path:
    # same folder (so the final rename is atomic) and same suffix (writers choose by it)
    return out.parent / f".tmp-{os.getpid()}-{out.name}"


def _naming(exc: OSError, temporary: Path, out: Path) -> OSError:
    """`exc` naming `out` where it named the temporary path, which the user never chose."""
    if exc.filename is not None and Path(str(exc.filename)) == temporary:
        return type(exc)(exc.errno, exc.strerror, str(out))
    return exc


def write_file(out: Path, write: Callable[[Path], object]) -> Path:
    """Call `write(path)` on a temporary path, then rename it to `out`."""
    if out.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(out))
    temporary = _temporary(out)
    try:
        write(temporary)
        os.replace(temporary, out)
    except OSError as exc:
        raise _naming(exc, temporary, out) from None
    finally:
        temporary.unlink(missing_ok=True)
    return out


def _check_replaceable(out: Path, suffix: str) -> None:
    """Refuse to replace a folder that holds anything but `*<suffix>` files."""
    if not out.is_dir():
        if out.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(out))
        return
    others = [p.name for p in out.iterdir() if not (p.is_file() and p.name.endswith(suffix))]
    if others:
        raise ExportError(
            f"{out}: holds {others[0]!r}, which this export did not write; "
            f"give a new folder or one with only *{suffix} files, which are replaced"
        )


def write_folder(out: Path, suffix: str, write: Callable[[Path], object]) -> Path:
    """Call `write(folder)` on a new temporary folder, then put it in the place of `out`."""
    _check_replaceable(out, suffix)
    temporary = _temporary(out)
    previous = out.parent / f".old-{os.getpid()}-{out.name}"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        temporary.mkdir()
        write(temporary)
        if out.is_dir():
            os.replace(out, previous)
        try:
            os.replace(temporary, out)
        except OSError:
            if previous.is_dir():
                os.replace(previous, out)  # the previous export back in its place
            raise
    except OSError as exc:
        raise _naming(exc, temporary, out) from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)
    return out
