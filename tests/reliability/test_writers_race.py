"""SPARQL updates and Graph Store writes while a `medkg build` holds the same store.

A build holds the store's writer lock (store.WRITE_LOCK) from staging to publishing. An update
that arrives meanwhile waits for it, but not for its whole time limit: it answers 503 saying a
build or update is under way (not "the query ran longer than its time limit"), publishes
nothing, and goes through once the build is done.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from medkg import store as medkg_store
from medkg_server.app import create_app

TOKEN = "race-token-81c2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INSERT = 'INSERT DATA { GRAPH <urn:test:g> { <urn:test:s> <urn:test:p> "added" } }'
BUSY = "another build or update is writing the store; ask again when it has finished"


@pytest.fixture()
def store(real_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(real_store, copy, symlinks=True)
    return copy


def test_an_update_during_a_build_is_told_so_and_applied_after(store: Path) -> None:
    app = create_app({"STORE": str(store), "EXECUTORS": 1, "UPDATE_TOKEN": TOKEN,
                      "QUERY_TIMEOUT": 2})
    client = app.test_client()
    before = medkg_store.current_version(store)
    with open(store / medkg_store.WRITE_LOCK, "a+", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running build holds it
        refused = client.post("/sparql", data={"update": INSERT}, headers=AUTH)
        assert refused.status_code == 503
        assert refused.data.decode().strip() == BUSY
        assert refused.headers["Retry-After"]
        put = client.put("/store?graph=urn:test:h", data='<urn:test:s> <urn:test:p> "x" .',
                         headers={**AUTH, "Content-Type": "text/turtle"})
        assert put.status_code == 503 and put.data.decode().strip() == BUSY
        assert medkg_store.current_version(store) == before  # nothing published
    applied = client.post("/sparql", data={"update": INSERT}, headers=AUTH)  # the build is done
    assert applied.status_code == 200, applied.data
    assert medkg_store.current_version(store) != before
