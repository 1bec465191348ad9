"""Sort more lines, or triples, than fit in memory: sorted runs on disk, merged into one stream.

An export that wants its output sorted, or each item once, adds it a part at a time; each part
is sorted in memory and written as lines to a scratch folder, and `merged` reads all the parts
back in one sorted stream, a line found in several parts once. Triples are kept as N-Triples
lines, so their order is that of their N-Triples text (pyoxigraph's `str` of a triple).
"""

from __future__ import annotations

import heapq
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyoxigraph as ox

from medkg.export.errors import ExportError

OPEN_RUNS = 128  # runs merged at once (each an open file); more are merged into one first
RUN_TRIPLES = 200_000  # triples sorted at a time in memory by `add_all`


@contextmanager
def scratch_beside(out: Path, prefix: str) -> Iterator[Path]:
    """A scratch folder for the runs in `out`'s folder (where the export's own room is),
    removed after; an ExportError naming that folder when none can be made there."""
    try:
        folder = tempfile.TemporaryDirectory(prefix=prefix, dir=out.parent)
    except OSError as exc:
        raise ExportError(f"cannot make a scratch folder in {out.parent}: "
                          f"{exc.strerror or exc}") from None
    with folder as scratch:
        yield Path(scratch)


class SortedLines:
    """Lines of text (each ending in a newline) kept as sorted files in `folder`, their names
    starting with `stem`."""

    def __init__(self, folder: Path, stem: str = "lines") -> None:
        self.folder = folder
        self.stem = stem
        self.runs = 0
        self.files: list[Path] = []

    def add(self, lines: Iterable[str]) -> None:
        """Keep `lines` as one more sorted run."""
        path = self._next_file()
        path.write_text("".join(sorted(lines)), encoding="utf-8")
        self.files.append(path)
        if len(self.files) >= OPEN_RUNS:  # one file of them all, so few are open at once
            merged = self._next_file()
            with merged.open("w", encoding="utf-8") as handle:
                handle.writelines(self.merged())
            for old in self.files:
                old.unlink()
            self.files = [merged]

    def add_all(self, lines: Iterable[str], run: int) -> None:
        """Keep `lines` as runs of `run` lines, the most held in memory at once."""
        stream = iter(lines)
        while chunk := list(itertools.islice(stream, run)):
            self.add(chunk)

    def merged(self) -> Iterator[str]:
        """Every run's lines in sorted order, a line found in several runs once."""
        with ExitStack() as stack:
            handles = [stack.enter_context(f.open(encoding="utf-8")) for f in self.files]
            previous = ""
            for line in heapq.merge(*handles):
                if line != previous:
                    yield line
                    previous = line

    def _next_file(self) -> Path:
        self.runs += 1
        return self.folder / f"{self.stem}-{self.runs}.txt"


class SortedRuns:
    """Triples kept as files of sorted N-Triples lines in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.lines = SortedLines(folder, stem="triples")

    @property
    def files(self) -> list[Path]:
        return self.lines.files

    def add(self, triples: Iterable[ox.Triple]) -> None:
        """Keep `triples` as one more sorted run."""
        self.lines.add(f"{triple} .\n" for triple in triples)

    def add_all(self, triples: Iterable[ox.Triple]) -> None:
        """Keep `triples` as runs of RUN_TRIPLES, the most held in memory at once."""
        self.lines.add_all((f"{triple} .\n" for triple in triples), RUN_TRIPLES)

    def merged(self, batch: int = 10_000) -> Iterator[ox.Triple]:
        """Every run's triples in sorted order, a triple in several runs once."""
        lines: list[str] = []
        for line in self.lines.merged():
            lines.append(line)
            if len(lines) == batch:
                yield from ox.parse("".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES)
                lines = []
        yield from ox.parse("".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES)
