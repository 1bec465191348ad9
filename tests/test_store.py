"""The on-disk store: staged builds, atomic publication, clean-up after failed builds."""

from __future__ import annotations

import logging
from pathlib import Path

import pyoxigraph as ox
import pytest

from medkg import store


RDF_VALUE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#value")


def quad(n: int) -> ox.Quad:
    return ox.Quad(ox.NamedNode(f"http://example.org/s{n}"), ox.NamedNode("http://example.org/p"),
                   ox.Literal(str(n)), ox.NamedNode("http://example.org/g"))


def publish(store_dir: Path, n: int) -> str:
    staged = store.StagedVersion(store_dir)
    staged.load_quads([quad(i) for i in range(n)])
    staged.publish({"n": n})
    version = store.current_version(store_dir)
    assert version is not None
    return version


def test_nothing_published_reads_as_missing(tmp_path: Path) -> None:
    assert store.current_version(tmp_path) is None
    with pytest.raises(store.StoreError, match="run `medkg build` first"):
        store.open_read_only(tmp_path)


def test_publish_swaps_current_and_keeps_report(tmp_path: Path) -> None:
    first = publish(tmp_path, 3)
    assert len(store.open_read_only(tmp_path)) == 3
    second = publish(tmp_path, 5)
    assert second != first
    assert len(store.open_read_only(tmp_path)) == 5
    assert store.read_report(tmp_path) == {"n": 5}


def test_abandoned_build_leaves_published_version(tmp_path: Path) -> None:
    publish(tmp_path, 2)
    staged = store.StagedVersion(tmp_path)
    staged.load_quads([quad(i) for i in range(10)])
    staged.abandon()
    assert len(store.open_read_only(tmp_path)) == 2
    assert not list((tmp_path / "versions").glob(".staging-*"))


def test_a_version_staged_from_the_published_one_starts_with_its_quads(tmp_path: Path) -> None:
    publish(tmp_path, 3)
    staged = store.StagedVersion(tmp_path, from_published=True)
    assert len(staged.db) == 3
    staged.load_quads([quad(7)])
    staged.publish({"n": 4}, compact=False)
    assert len(store.open_read_only(tmp_path)) == 4


def test_staging_from_the_published_version_links_its_files_and_never_changes_them(
    tmp_path: Path,
) -> None:
    first = publish(tmp_path, 50)
    first_db = tmp_path / "versions" / first / store.DB
    before = {p.name: p.read_bytes() for p in first_db.glob("*.sst")}
    staged = store.StagedVersion(tmp_path, from_published=True)
    # a checkpoint shares the published files (hard links) instead of copying every quad
    shared = {p.name for p in staged.dir.joinpath(store.DB).glob("*.sst")
              if p.stat().st_ino == (first_db / p.name).stat().st_ino}
    assert before and shared == set(before)
    staged.db.remove(quad(0))
    staged.load_quads([quad(i) for i in range(100, 400)])
    staged.publish({"n": 349}, compact=False)
    # the published version's files, still read by whoever opened it, are as they were
    assert {p.name: p.read_bytes() for p in first_db.glob("*.sst")} == before
    assert len(ox.Store.read_only(str(first_db))) == 50
    assert len(store.open_read_only(tmp_path)) == 349


def test_only_a_version_staged_from_the_published_one_keeps_its_documentation(
    tmp_path: Path,
) -> None:
    staged = store.StagedVersion(tmp_path)
    (staged.dir / store.DOCS).mkdir()
    (staged.dir / store.DOCS / "index.html").write_text("docs", encoding="utf-8")
    staged.publish({})
    changed = store.StagedVersion(tmp_path, from_published=True)
    assert (changed.dir / store.DOCS / "index.html").read_text(encoding="utf-8") == "docs"
    changed.abandon()
    rebuilt = store.StagedVersion(tmp_path)  # a build makes its own
    assert not (rebuilt.dir / store.DOCS).exists()
    rebuilt.abandon()


def test_a_version_staged_from_nothing_published_starts_empty(tmp_path: Path) -> None:
    staged = store.StagedVersion(tmp_path, from_published=True)
    assert len(staged.db) == 0
    staged.abandon()


def test_an_abandoned_change_leaves_the_published_version_whole(tmp_path: Path) -> None:
    publish(tmp_path, 5)
    staged = store.StagedVersion(tmp_path, from_published=True)
    staged.db.remove(quad(1))
    staged.abandon()
    assert len(store.open_read_only(tmp_path)) == 5
    assert not list((tmp_path / "versions").glob(".staging-*"))


def test_staging_left_by_a_killed_build_is_removed_by_the_next(tmp_path: Path) -> None:
    publish(tmp_path, 1)
    (tmp_path / "versions" / ".staging-dead").mkdir()
    (tmp_path / ".current.dead").symlink_to("versions/nowhere")
    publish(tmp_path, 4)
    assert not (tmp_path / "versions" / ".staging-dead").exists()
    assert not (tmp_path / ".current.dead").is_symlink()


def test_one_writer_at_a_time_and_a_live_staging_is_never_removed(tmp_path: Path) -> None:
    publish(tmp_path, 1)
    first = store.StagedVersion(tmp_path)
    first.load_quads([quad(i) for i in range(3)])
    with pytest.raises(store.StoreBusy, match="another build or update is writing"):
        store.StagedVersion(tmp_path)
    assert first.dir.is_dir()  # the refused writer did not clean it away
    first.publish({"n": 3})
    assert len(store.open_read_only(tmp_path)) == 3
    publish(tmp_path, 5)  # the lock went with the publish
    assert len(store.open_read_only(tmp_path)) == 5


def test_a_writer_that_waits_starts_when_the_other_is_done(tmp_path: Path) -> None:
    import threading

    first = store.StagedVersion(tmp_path)
    started: list[str] = []

    def second() -> None:
        staged = store.StagedVersion(tmp_path, wait=True)
        started.append(staged.name)
        staged.abandon()

    waiter = threading.Thread(target=second)
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and not started  # still waiting for the lock
    first.abandon()
    waiter.join(10)
    assert started and not waiter.is_alive()


def test_a_writer_with_a_time_limit_gives_up_busy_then_starts_once_free(tmp_path: Path) -> None:
    first = store.StagedVersion(tmp_path)
    with pytest.raises(store.StoreBusy, match="another build or update is writing"):
        store.StagedVersion(tmp_path, wait=0.2)
    assert first.dir.is_dir()
    first.abandon()
    store.StagedVersion(tmp_path, wait=0.2).abandon()  # free now: taken at once


def test_a_version_was_published_when_its_name_says_not_when_its_folder_last_changed(
    tmp_path: Path,
) -> None:
    import os
    import time
    from datetime import UTC, datetime

    before = datetime.fromtimestamp(int(time.time()), tz=UTC)
    name = publish(tmp_path, 1)
    folder = tmp_path / "versions" / name
    at = store.published_at(folder)
    assert before <= at <= datetime.now(tz=UTC)
    # a server adds its caches to the folder later: the time stays
    (folder / "facets.cache").write_text("x", encoding="utf-8")
    os.utime(folder, (time.time() + 3600, time.time() + 3600))
    assert store.published_at(folder) == at
    other = tmp_path / "loaded-by-hand"
    other.mkdir()
    os.utime(other, (1_600_000_000, 1_600_000_000))
    assert store.published_at(other) == datetime.fromtimestamp(1_600_000_000, tz=UTC)


def _published_ago(store_dir: Path, version: str, seconds: float) -> None:
    import os
    import time

    for name in (store.REPORT, store.FACTS):
        path = store_dir / "versions" / version / name
        os.utime(path, (time.time() - seconds, time.time() - seconds))


def test_old_versions_are_pruned_but_previous_kept(tmp_path: Path) -> None:
    versions = [publish(tmp_path, n) for n in (1, 2, 3)]
    for version in versions:
        _published_ago(tmp_path, version, store.PRUNE_AFTER_SECONDS + 1)
    versions.append(publish(tmp_path, 4))
    kept = sorted(p.name for p in (tmp_path / "versions").iterdir())
    assert kept == versions[-store.KEEP_VERSIONS:]


def test_a_version_superseded_moments_ago_is_kept_for_the_queries_still_reading_it(
    tmp_path: Path,
) -> None:
    first, second = publish(tmp_path, 1), publish(tmp_path, 2)
    # `second` replaced `first` just now: a long query may still be reading `first`
    third = publish(tmp_path, 3)
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == [first, second, third]
    _published_ago(tmp_path, second, store.PRUNE_AFTER_SECONDS + 1)
    publish(tmp_path, 4)
    assert not (tmp_path / "versions" / first).exists()  # long enough: gone
    assert (tmp_path / "versions" / second).exists()  # `third` replaced it just now


def _in_memory(db: ox.Store) -> bool:
    """True for a copy in memory: a read-only RocksDB store refuses every write."""
    try:
        db.add(quad(10_000))
    except RuntimeError:
        return False
    return True


def test_a_small_version_is_read_from_a_copy_in_memory(tmp_path: Path) -> None:
    publish(tmp_path, 4)
    on_disk = store.open_read_only(tmp_path)
    copy = store.open_read_only(tmp_path, memory_quads=4)
    assert not _in_memory(on_disk)
    assert set(copy) == set(on_disk)
    assert _in_memory(copy)


def test_a_version_over_the_memory_limit_stays_on_disk(tmp_path: Path) -> None:
    publish(tmp_path, 5)
    assert not _in_memory(store.open_read_only(tmp_path, memory_quads=4))
    assert not _in_memory(store.open_read_only(tmp_path, memory_quads=0))


def test_the_log_says_where_a_version_is_read_from(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    version = publish(tmp_path, 5)
    with caplog.at_level(logging.INFO, logger="medkg.store"):
        store.open_read_only(tmp_path, memory_quads=5)
        store.open_read_only(tmp_path, memory_quads=4)
    lines = [r.getMessage() for r in caplog.records]
    assert any(f"{version}: 5 quads copied into memory" in line for line in lines)
    # no count recorded: counting stopped past the limit
    assert any(f"{version}: more than 4 quads, over the memory limit of 4" in line
               for line in lines)


def test_the_memory_limit_reads_the_count_the_build_recorded(tmp_path: Path) -> None:
    staged = store.StagedVersion(tmp_path)
    staged.load_quads([quad(i) for i in range(3)])
    staged.publish({"quads": 1_000_000})  # what the report says is what decides, without a scan
    assert not _in_memory(store.open_read_only(tmp_path, memory_quads=10))
    staged = store.StagedVersion(tmp_path)
    staged.load_quads([quad(i) for i in range(3)])
    staged.publish({"quads": 3})
    assert _in_memory(store.open_read_only(tmp_path, memory_quads=3))


@pytest.mark.parametrize("name", [store.FACTS, store.REPORT])
@pytest.mark.parametrize("report", ["not json", "[1, 2]", '{"quads": "many"}'])
def test_a_version_without_a_usable_count_is_counted_instead(
    tmp_path: Path, report: str, name: str
) -> None:
    version = publish(tmp_path, 3)
    folder = tmp_path / store.VERSIONS / version
    (folder / store.FACTS).unlink()  # as published before facts files; else they are read first
    (folder / name).write_text(report, encoding="utf-8")
    assert _in_memory(store.open_read_only(tmp_path, memory_quads=3))
    assert not _in_memory(store.open_read_only(tmp_path, memory_quads=2))


class _LinksRefused:
    """pyoxigraph on a filesystem that refuses hard links (EPERM: vfat, exFAT, some FUSE mounts).

    RocksDB copies a file itself only when links are unsupported (EXDEV, ENOTSUP); when they
    are not permitted its checkpoint fails with this error, and leaves nothing behind.
    """

    class Store:
        def __new__(cls, *args: object) -> ox.Store:  # a writable store is a real one
            return ox.Store(*args)  # type: ignore[arg-type]

        @staticmethod
        def read_only(path: str) -> object:
            class NoBackup:
                def __init__(self, db: ox.Store) -> None:
                    self.db = db

                def backup(self, target: str) -> None:
                    raise OSError(f"IO error: while link file to {target}.tmp/000009.sst: "
                                  f"{path}/000009.sst: Operation not permitted")

                def __getattr__(self, name: str) -> object:
                    return getattr(self.db, name)

            return NoBackup(ox.Store.read_only(path))

    def __getattr__(self, name: str) -> object:
        return getattr(ox, name)


def test_staging_from_the_published_version_copies_its_quads_where_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = publish(tmp_path, 20)
    monkeypatch.setattr(store, "ox", _LinksRefused())
    with caplog.at_level(logging.WARNING, logger="medkg.store"):
        staged = store.StagedVersion(tmp_path, from_published=True)
    assert "copying its quads instead" in caplog.text
    assert len(staged.db) == 20
    staged.db.remove(quad(0))
    staged.load_quads([quad(20), quad(21)])
    staged.publish({"n": 21}, compact=False)
    monkeypatch.undo()
    assert len(store.open_read_only(tmp_path)) == 21
    assert len(ox.Store.read_only(str(tmp_path / "versions" / first / store.DB))) == 20


def test_a_copy_into_memory_holds_every_quad_and_lets_other_threads_run() -> None:
    """bulk_extend keeps the interpreter lock until its iterator ends: the copy goes by chunks."""
    import threading
    import time

    graph = ox.NamedNode("http://example.org/g")
    source = ox.Store()
    source.bulk_extend(
        ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), ox.NamedNode("http://example.org/p"),
                ox.Literal(f"value {i}"), graph)
        for i in range(60_000)
    )
    ticks: list[float] = []
    copying = threading.Event()
    copied: list[ox.Store] = []

    def copy() -> None:
        copying.set()
        copied.append(store.copy_into_memory(source, chunk=200))
        copying.clear()

    worker = threading.Thread(target=copy)
    worker.start()
    copying.wait(5)
    while copying.is_set():  # this thread counts how often it gets a turn meanwhile
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join(30)
    assert len(copied[0]) == len(source) == 60_000
    assert set(copied[0]) == set(source)
    assert len(ticks) >= 5  # in one bulk_extend of everything this thread waited throughout


def _publish_change(store_dir: Path, extra: int) -> str:
    staged = store.StagedVersion(store_dir, from_published=True)
    staged.load_quads([quad(1000 + i) for i in range(extra)])
    return staged.publish_change(quads=len(staged.db)).name


def test_a_change_carries_the_build_report_over_and_records_its_own_facts(tmp_path: Path) -> None:
    built = publish(tmp_path, 3)
    top_report = (tmp_path / store.REPORT).read_bytes()
    changed = _publish_change(tmp_path, 2)
    assert store.current_version(tmp_path) == changed
    old, new = (tmp_path / store.VERSIONS / v / store.REPORT for v in (built, changed))
    assert new.stat().st_ino == old.stat().st_ino  # linked, not rewritten
    assert store.version_facts(tmp_path / store.VERSIONS / changed) == {
        "quads": 5, "updated_by_sparql": True
    }
    assert store.read_report(tmp_path) == {"n": 3, "quads": 5, "updated_by_sparql": True}
    assert (tmp_path / store.REPORT).read_bytes() == top_report  # still the last build's
    assert _in_memory(store.open_read_only(tmp_path, memory_quads=5))
    assert not _in_memory(store.open_read_only(tmp_path, memory_quads=4))


def test_a_change_without_a_count_leaves_the_builds_count_out_and_readers_count_to_the_limit(
    tmp_path: Path,
) -> None:
    publish(tmp_path, 3)
    staged = store.StagedVersion(tmp_path, from_published=True)
    staged.load_quads([quad(1000 + i) for i in range(2)])
    changed = staged.publish_change(quads=None).name
    assert store.version_facts(tmp_path / store.VERSIONS / changed) == {"updated_by_sparql": True}
    assert store.read_report(tmp_path) == {"n": 3, "updated_by_sparql": True}  # 3 is not true
    assert _in_memory(store.open_read_only(tmp_path, memory_quads=5))
    assert not _in_memory(store.open_read_only(tmp_path, memory_quads=4))


def test_a_version_without_a_count_is_counted_no_further_than_the_memory_limit(
    tmp_path: Path,
) -> None:
    staged = store.StagedVersion(tmp_path)
    staged.load_quads([quad(i) for i in range(50)])
    staged.load_quads([ox.Quad(ox.NamedNode(f"https://example.org/d{i}"), RDF_VALUE,
                               ox.Literal(str(i)), ox.DefaultGraph()) for i in range(5)])
    staged.publish({})
    folder = store.current_version_dir(tmp_path)
    assert folder is not None
    db = store.open_read_only(tmp_path)
    assert store._quad_count(folder, db, 10) == (11, "more than 10")
    assert store._quad_count(folder, db, 60) == (55, "55") == (len(db), str(len(db)))
    assert store._quad_count(folder, db, 55) == (55, "55")


def test_a_change_copies_the_report_where_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(tmp_path, 3)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(store.os, "link", refuse)
    changed = _publish_change(tmp_path, 1)
    assert store.read_report(tmp_path) == {"n": 3, "quads": 4, "updated_by_sparql": True}
    assert (tmp_path / store.VERSIONS / changed / store.REPORT).stat().st_nlink == 1


def test_a_version_a_change_just_superseded_is_kept_though_its_report_is_old(
    tmp_path: Path,
) -> None:
    built = publish(tmp_path, 3)
    _published_ago(tmp_path, built, store.PRUNE_AFTER_SECONDS + 1)
    first = _publish_change(tmp_path, 1)  # its report: a link to the old one, as old
    second = _publish_change(tmp_path, 1)
    kept = sorted(p.name for p in (tmp_path / store.VERSIONS).iterdir())
    # `built` was superseded a moment ago, when `first` was published: a reader may still use it
    assert kept == [built, first, second]
