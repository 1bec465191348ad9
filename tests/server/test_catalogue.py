"""The browse and statistics pages' facet index across store versions (catalogue.py)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from medkg_server import catalogue, create_app
from medkg_server.facet_index import INDEX_FILE
from medkg_server.state import EXTENSION, ServerState
from server_harness import publish_with_new_dataset

BASE = "https://w3id.org/medkg/"


@pytest.fixture
def store(built_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(built_store, copy, symlinks=True)
    return copy


def _app(store: Path) -> tuple[Flask, ServerState]:
    app = create_app({"STORE": str(store), "EXECUTORS": 1, "CACHE_ENTRIES": 64})
    return app, app.extensions[EXTENSION]


def _slow_index_builds(
    monkeypatch: pytest.MonkeyPatch, delay: Callable[[], object], page_wait: float
) -> None:
    """Every index build first calls `delay`; pages wait `page_wait` seconds for one."""
    real_build = catalogue.build_index

    def slow_build(*args: Any) -> Any:
        delay()
        return real_build(*args)

    monkeypatch.setattr(catalogue, "build_index", slow_build)
    monkeypatch.setattr(catalogue, "INDEX_WAIT_SECONDS", page_wait)


def _wait_for(condition: Callable[[], Any], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_each_version_is_indexed_from_its_own_data_and_saved_in_its_own_folder(
    store: Path,
) -> None:
    app, st = _app(store)
    first = st.version().name
    second = publish_with_new_dataset(store, "added-later")
    # the first version is indexed only now, after the second was published
    old, new = catalogue.index_for(st, first), catalogue.index_for(st, second)
    assert new.size == old.size + 1
    assert f"{BASE}dataset/added-later" in new.iris and f"{BASE}dataset/added-later" not in old.iris
    for version in (first, second):
        assert (store / "versions" / version / INDEX_FILE).is_file()


def test_while_a_new_version_is_indexed_pages_count_with_the_last_index_and_say_so(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, st = _app(store)
    client = app.test_client()
    before = client.get("/browse?format=json").get_json()
    first = before["index_version"]
    assert before["index_stale"] is False
    page = before["datasets"][0]["iri"].removeprefix(BASE)
    assert client.get(f"/{page}").status_code == 200
    assert st.memo.get(first, "resource-reader") is not None  # holds the first version's store

    release = threading.Event()
    _slow_index_builds(monkeypatch, lambda: release.wait(30), page_wait=0.05)
    second = publish_with_new_dataset(store, "added-later")
    try:
        for path in ("/browse?format=json", "/stats?format=json"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            data = answer.get_json()
            assert data["index_stale"] is True and data["index_version"] == first, path
            # not to be kept as the new version's answer, by a client or the answer cache
            assert "ETag" not in answer.headers and "Last-Modified" not in answer.headers, path
            assert answer.headers["Cache-Control"] == "no-store", path
        assert client.get("/browse?format=json").get_json()["total"] == before["total"]
        for path in ("/browse", "/stats"):
            assert "the version before" in client.get(path).get_data(as_text=True), path
        assert "ETag" not in client.get("/sitemap.xml").headers
    finally:
        release.set()
    _wait_for(lambda: st.memo.get(second, catalogue.INDEX) is not None)

    after = client.get("/browse?format=json")
    data = after.get_json()
    assert data["index_stale"] is False and data["index_version"] == second
    assert data["total"] == before["total"] + 1
    assert "ETag" in after.headers
    assert "the version before" not in client.get("/browse").get_data(as_text=True)
    # what the first version derived (its index, its page reader and store) is let go
    assert st.memo.versions() == [second]


def test_a_process_with_no_index_yet_waits_for_the_first(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, st = _app(store)
    _slow_index_builds(monkeypatch, lambda: time.sleep(0.3), page_wait=0.01)
    answer = app.test_client().get("/browse?format=json")
    assert answer.status_code == 200 and "ETag" in answer.headers
    data = answer.get_json()
    assert data["index_stale"] is False and data["index_version"] == st.version().name
    assert data["total"] == catalogue.index_for(st, st.version().name).size > 0


def test_a_first_index_that_takes_long_answers_503_until_it_is_ready(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for saved in store.glob(f"versions/*/{INDEX_FILE}"):
        saved.unlink()  # built afresh, as at a first start
    app, st = _app(store)
    release = threading.Event()
    _slow_index_builds(monkeypatch, lambda: release.wait(30), page_wait=0.01)
    monkeypatch.setattr(catalogue, "FIRST_WAIT_SECONDS", 0.05)
    client = app.test_client()
    try:
        for path in ("/browse?format=json", "/stats?format=json", "/sitemap.xml"):
            answer = client.get(path)
            assert answer.status_code == 503, path
            assert answer.headers["Retry-After"] == "10", path
            assert "catalogue-index" in answer.get_data(as_text=True), path
            assert "being prepared" in answer.get_data(as_text=True), path
        page = client.get("/browse", headers={"Accept": "text/html"})
        body = page.get_data(as_text=True)
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert '<meta http-equiv="refresh" content="10">' in body and "being prepared" in body
    finally:
        release.set()
    _wait_for(lambda: st.memo.get(st.version().name, catalogue.INDEX) is not None)
    assert client.get("/browse?format=json").status_code == 200


def test_a_page_read_while_its_version_is_opened_is_not_kept_with_the_stand_in(
    store: Path,
) -> None:
    app, st = _app(store)
    st.inline.opened(st.version().name)
    second = publish_with_new_dataset(store, "added-later")
    iri = f"{BASE}dataset/added-later"
    with st.inline._lock:  # as the thread copying the new version into memory holds it
        during = catalogue.reader(st, second)
        assert during.statements(iri)  # the new version's data, read from its files
        assert st.memo.get(second, "resource-reader") is None
    kept = catalogue.reader(st, second)
    assert kept is not during and st.memo.get(second, "resource-reader") is kept
    assert kept.statements(iri)
