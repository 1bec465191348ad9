"""Figures computed once per store version and saved beside it (facet index, VoID statistics)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import rdflib

from medkg.store import current_version_dir
from medkg_server import describe, version_cache
from medkg_server.app import create_app

WAIT = 30.0  # seconds a caller of file_or_start waits for a write (these take milliseconds)

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
CATALOGUE = rdflib.URIRef("https://w3id.org/medkg/catalogue")


def _datasets_in_void(store: Path) -> int:
    client = create_app({"STORE": str(store), "EXECUTORS": 1}).test_client()
    answer = client.get("/void", headers={"Accept": "application/n-triples"})
    assert answer.status_code == 200
    graph = rdflib.Graph().parse(data=answer.data, format="nt")
    return graph.value(CATALOGUE, VOID.entities).toPython()


def test_void_statistics_are_saved_and_read_back(built_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(built_store, store, symlinks=True)
    saved = current_version_dir(store) / describe.STATISTICS_FILE
    saved.unlink(missing_ok=True)
    assert _datasets_in_void(store) == 3  # counted from the store, then saved
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["datasets"] == 3 and data["graphs"]
    data["datasets"] = 12345
    saved.write_text(json.dumps(data), encoding="utf-8")
    assert _datasets_in_void(store) == 12345  # a new process reads the file, not the store
    saved.write_text("{damaged", encoding="utf-8")
    assert _datasets_in_void(store) == 3  # a damaged file is counted again


def test_one_process_builds_while_the_others_wait(tmp_path: Path) -> None:
    built = []
    results = []

    def build() -> dict[str, int]:
        built.append(1)
        return {"n": 7}

    def save(value: dict[str, int], path: Path) -> None:
        path.write_text(json.dumps(value), encoding="utf-8")

    def load(path: Path) -> dict[str, int]:
        return json.loads(path.read_text(encoding="utf-8"))

    def ask() -> None:
        results.append(version_cache.load_or_build(tmp_path, "figures.json", build, save, load))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert built == [1] and results == [{"n": 7}] * 6
    assert not list(tmp_path.glob(".figures.json.*"))  # no temporary file left behind


def test_a_folder_it_cannot_write_to_still_gives_the_value(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    value = version_cache.load_or_build(missing, "x.json", lambda: 5, lambda v, p: None, lambda p: 0)
    assert value == 5


def test_a_file_is_written_once_and_never_seen_half_written(tmp_path: Path) -> None:
    writes = []
    paths = []

    def write(path: Path) -> None:
        writes.append(path)
        path.write_bytes(b"whole")

    def ask() -> None:
        paths.append(version_cache.file_or_start(tmp_path, "dump.gz", write, WAIT))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(writes) == 1 and paths == [tmp_path / "dump.gz"] * 6
    assert (tmp_path / "dump.gz").read_bytes() == b"whole"
    assert not list(tmp_path.glob(".dump.gz.*"))


def test_a_file_whose_writing_fails_is_not_left_behind(tmp_path: Path) -> None:
    def fail(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        version_cache.file_or_start(tmp_path, "dump.gz", fail, WAIT)
    assert not (tmp_path / "dump.gz").exists() and not list(tmp_path.glob(".dump.gz.*"))
    written = version_cache.file_or_start(tmp_path, "dump.gz", lambda p: p.write_bytes(b"ok"), WAIT)
    assert written.read_bytes() == b"ok"  # the next request writes it again


def test_a_folder_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    def fail(path: Path) -> None:
        path.mkdir()
        (path / "one.json").write_text("{}", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        version_cache.file_or_start(tmp_path, "croissant", fail, WAIT)
    assert not (tmp_path / "croissant").exists() and not list(tmp_path.glob(".croissant.*"))

    def write(path: Path) -> None:
        path.mkdir()
        (path / "one.json").write_text("{}", encoding="utf-8")

    folder = version_cache.file_or_start(tmp_path, "croissant", write, WAIT)
    assert (folder / "one.json").read_text(encoding="utf-8") == "{}"


def test_a_folder_now_read_only_still_serves_what_was_saved_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "figures.json").write_text('{"n": 7}', encoding="utf-8")
    (tmp_path / "medkg.nq.gz").write_bytes(b"saved")

    def refuse(*args: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(version_cache, "_lock", refuse)
    monkeypatch.setattr(version_cache, "_try_lock", refuse)

    def build() -> dict[str, int]:
        raise AssertionError("computed again although the folder has it")

    def load(path: Path) -> dict[str, int]:
        return json.loads(path.read_text(encoding="utf-8"))

    found = version_cache.load_or_build(tmp_path, "figures.json", build, lambda v, p: None, load)
    assert found == {"n": 7}
    path = version_cache.file_or_start(tmp_path, "medkg.nq.gz", build, WAIT)
    assert path.read_bytes() == b"saved"
    with pytest.raises(PermissionError):  # not there and cannot be written: the caller decides
        version_cache.file_or_start(tmp_path, "other.csv", build, WAIT)
