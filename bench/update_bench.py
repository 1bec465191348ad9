"""Time of a SPARQL update or Graph Store write against size: a new version from a linked copy.

    python bench/update_bench.py --sizes 1k 10k 100k [--repeat 5] [--json out.json]

Every write through the endpoint publishes a new store version (medkg_server/worker.py,
`run_update`): the writer stages a copy of the published version, changes it and swaps it in. For
each size, in a fresh process, on a scratch store made from the synthetic store of
bench/validation_bench.py (built once, reused; left unchanged):
- `update s`: `run_update` of a one-triple INSERT DATA, median of --repeat runs one after
  another, each publishing a new version (what a client's PUT or POST waits for, less HTTP);
- `reference s`: the same update on a copy made the way medkg made it before (dump every quad as
  N-Quads, bulk-load them into a new store, update, flush, compact), once, in the same process;
- `x reference`: update s / reference s;
- `files`: the database files of the last version, against those of the first (the versions
  are not compacted after an update; RocksDB's own compactions keep the count in check);
- `open s`: a reading process opening the last version as the server's processes do (with
  the default MEDKG_MEMORY_QUADS): a SPARQL update records no quad count, so the reader has
  the engine count up to that limit to decide whether to copy the version into memory, and
  copies it if it fits.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from common import repeated_per_size, table
from validation_bench import built_store

from medkg import store as medkg_store
from medkg_server import worker
from medkg_server.settings import DEFAULTS

HERE = Path(__file__).resolve()
GRAPH = "https://example.org/bench/graph"


def scratch_copy(source: Path, scratch: Path) -> Path:
    """A store folder whose published version is a linked copy of `source`'s."""
    shutil.rmtree(scratch, ignore_errors=True)
    published = medkg_store.current_version_dir(source)
    assert published is not None, f"nothing published in {source}"
    version = scratch / medkg_store.VERSIONS / published.name
    version.mkdir(parents=True)
    ox.Store.read_only(str(published / medkg_store.DB)).backup(str(version / medkg_store.DB))
    for name in (medkg_store.REPORT, medkg_store.FACTS):
        if (published / name).is_file():  # stores built before version.json have no facts
            shutil.copyfile(published / name, version / name)
    os.symlink(Path(medkg_store.VERSIONS) / published.name, scratch / medkg_store.CURRENT)
    return scratch


def insert(n: int) -> worker.Job:
    text = (f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <{GRAPH}/s{n}> <{GRAPH}/p> {n} }} }}")
    return worker.Job(text, "update", None, None, 0)


def reference(store_dir: Path, scratch: Path) -> float:
    """The update as medkg staged it before: a dump and bulk load of every quad."""
    clock = time.perf_counter()
    dump = io.BytesIO()
    medkg_store.open_read_only(store_dir).dump(dump, format=ox.RdfFormat.N_QUADS)
    db = ox.Store(str(scratch))
    db.bulk_load(dump.getvalue(), format=ox.RdfFormat.N_QUADS)
    db.update(insert(0).text)
    db.flush()
    db.optimize()
    seconds = time.perf_counter() - clock
    del db
    shutil.rmtree(scratch)
    return seconds


def database_files(store_dir: Path) -> int:
    version = medkg_store.current_version_dir(store_dir)
    assert version is not None
    return sum(1 for p in (version / medkg_store.DB).iterdir() if p.suffix == ".sst")


def measure(source: Path, work: Path, repeat: int) -> dict[str, Any]:
    scratch = scratch_copy(source, work / f"update-scratch-{source.parent.name}")
    try:
        quads = len(medkg_store.open_read_only(scratch))
        files_before = database_files(scratch)
        times = []
        for n in range(1, repeat + 1):
            clock = time.perf_counter()
            worker.run_update(scratch, insert(n))
            times.append(time.perf_counter() - clock)
        assert len(medkg_store.open_read_only(scratch)) == quads + repeat
        files_after = database_files(scratch)
        clock = time.perf_counter()
        medkg_store.open_read_only(scratch, memory_quads=DEFAULTS["MEMORY_QUADS"])
        open_s = time.perf_counter() - clock
        reference_s = reference(scratch, work / f"update-reference-{source.parent.name}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    update_s = statistics.median(times)
    return {"quads": quads, "updates": repeat, "update_s": update_s,
            "update_max_s": max(times), "reference_s": reference_s,
            "ratio": update_s / reference_s, "files_first": files_before,
            "files_last": files_after, "open_s": open_s}


def report(results: dict[str, dict[str, Any]]) -> str:
    return table(("size", "quads", "updates", "update s (median)", "update s (max)",
                  "reference s", "x reference", "files first / last", "open s"),
                 [(size, r["quads"], r["updates"], r["update_s"], r["update_max_s"],
                   r["reference_s"], r["ratio"], f"{r['files_first']} / {r['files_last']}",
                   r["open_s"])
                  for size, r in results.items()])


def main(argv: list[str] | None = None) -> int:
    return repeated_per_size(argv, __doc__, HERE, 5, built_store, measure, report)


if __name__ == "__main__":
    sys.exit(main())
