"""Sort more triples than fit in memory: sorted runs on disk, merged into one stream.

An export that wants its triples sorted, or each once, adds them a part at a time; each part
is sorted in memory and written as N-Triples lines to a scratch folder, and `merged` reads all
the parts back in one sorted stream, a triple found in several parts once. The order is that of
the triples' N-Triples text (pyoxigraph's `str` of a triple).
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


class SortedRuns:
    """Triples kept as files of sorted N-Triples lines in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runs = 0
        self.files: list[Path] = []

    def add(self, triples: Iterable[ox.Triple]) -> None:
        """Keep `triples` as one more sorted run."""
        self.runs += 1
        path = self.folder / f"{self.runs}.nt"
        path.write_text("".join(sorted(f"{triple} .\n" for triple in triples)), encoding="utf-8")
        self.files.append(path)
        if len(self.files) >= OPEN_RUNS:  # one file of them all, so few are open at once
            self.runs += 1
            merged = self.folder / f"{self.runs}.nt"
            with merged.open("w", encoding="utf-8") as handle:
                handle.writelines(self._lines())
            for old in self.files:
                old.unlink()
            self.files = [merged]

    def add_all(self, triples: Iterable[ox.Triple]) -> None:
        """Keep `triples` as runs of RUN_TRIPLES, the most held in memory at once."""
        stream = iter(triples)
        while run := list(itertools.islice(stream, RUN_TRIPLES)):
            self.add(run)

    def merged(self, batch: int = 10_000) -> Iterator[ox.Triple]:
        """Every run's triples in sorted order, a triple in several runs once."""
        lines: list[str] = []
        for line in self._lines():
            lines.append(line)
            if len(lines) == batch:
                yield from ox.parse("".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES)
                lines = []
        yield from ox.parse("".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES)

    def _lines(self) -> Iterator[str]:
        with ExitStack() as stack:
            handles = [stack.enter_context(f.open(encoding="utf-8")) for f in self.files]
            previous = ""
            for line in heapq.merge(*handles):
                if line != previous:
                    yield line
                    previous = line
