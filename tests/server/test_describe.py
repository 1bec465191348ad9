"""VoID and the service description across store versions (describe.py)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import rdflib
from server_harness import publish_with_new_dataset

from medkg.namespaces import VOID
from medkg_server import create_app, describe
from medkg_server.state import EXTENSION


def _triples(answer: Any) -> int:
    graph = rdflib.Graph().parse(data=answer.get_data(as_text=True), format="turtle")
    counts = [int(o) for s, o in graph.subject_objects(rdflib.URIRef(f"{VOID}triples"))
              if not graph.value(s, rdflib.URIRef(f"{VOID}inDataset"))]
    return max(counts)


def _slow_counts(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Every count of VoID statistics waits (at most 30 s) for the event returned."""
    release = threading.Event()
    real_count = describe._count

    def slow_count(*args: Any) -> Any:
        release.wait(30)
        return real_count(*args)

    monkeypatch.setattr(describe, "_count", slow_count)
    return release


def test_while_a_new_version_is_counted_void_gives_the_last_counts_not_to_be_kept(
    built_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    shutil.copytree(built_store, store, symlinks=True)
    app = create_app({"STORE": str(store), "EXECUTORS": 1})
    st = app.extensions[EXTENSION]
    client = app.test_client()
    before = client.get("/void", headers={"Accept": "text/turtle"})
    assert before.status_code == 200 and "ETag" in before.headers

    release = _slow_counts(monkeypatch)
    monkeypatch.setattr(describe, "STATISTICS_WAIT_SECONDS", 0.05)
    second = publish_with_new_dataset(store, "added-later")
    try:
        during = client.get("/void", headers={"Accept": "text/turtle"})
        assert during.status_code == 200
        assert "ETag" not in during.headers and during.headers["Cache-Control"] == "no-store"
        assert _triples(during) == _triples(before)
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while st.memo.get(second, "statistics") is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    after = client.get("/void", headers={"Accept": "text/turtle"})
    assert "ETag" in after.headers
    assert _triples(after) == _triples(before) + 2  # the new dataset's type and title


def test_first_statistics_that_take_long_answer_503_until_they_are_ready(
    built_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    shutil.copytree(built_store, store, symlinks=True)
    for saved in store.glob(f"versions/*/{describe.STATISTICS_FILE}"):
        saved.unlink()  # counted afresh, as at a first start
    app = create_app({"STORE": str(store), "EXECUTORS": 1})
    st = app.extensions[EXTENSION]
    release = _slow_counts(monkeypatch)
    monkeypatch.setattr(describe, "FIRST_WAIT_SECONDS", 0.05)
    client = app.test_client()
    try:
        for path in ("/void", "/sparql"):
            during = client.get(path, headers={"Accept": "text/turtle"})
            assert during.status_code == 503, path
            assert during.headers["Retry-After"] == "10", path
            assert "statistics" in during.get_data(as_text=True), path
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while st.memo.get(st.version().name, "statistics") is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert client.get("/void", headers={"Accept": "text/turtle"}).status_code == 200
