"""The per-process server state: which version a request is answered from, what is cached."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from werkzeug.test import EnvironBuilder

from medkg.store import CURRENT, StagedVersion
from medkg_server import create_app
from medkg_server.fastpath import PUBLISHED
from medkg_server.inline import ROW_BUDGET
from medkg_server.state import EXTENSION, ServerState, is_federated
from medkg_server.worker import Job

X = "http://example.org/"
SMALL, P = ox.NamedNode(X + "small"), ox.NamedNode(X + "p")
LOOK_UP = f"SELECT ?v WHERE {{ <{X}small> <{X}p> ?v }}"


def _publish(folder: Path, value: str) -> str:
    staged = StagedVersion(folder)
    staged.load_quads([ox.Quad(SMALL, P, ox.Literal(value), ox.NamedNode(X + "g"))])
    staged.publish({"test": True})
    return staged.name


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    _publish(tmp_path, "first")
    return tmp_path


@pytest.fixture()
def app(store: Path) -> Iterator:
    application = create_app({"STORE": str(store), "EXECUTORS": 1})
    yield application
    application.extensions[EXTENSION].executor.close()


def _state(app) -> ServerState:  # type: ignore[no-untyped-def]
    return app.extensions[EXTENSION]


def test_a_version_is_the_folder_its_link_names_not_the_one_published_later(
    app, store: Path  # type: ignore[no-untyped-def]
) -> None:
    st = _state(app)
    first_link = os.readlink(store / CURRENT)
    second = _publish(store, "second")
    # a request that read the link before the publish keeps the version it read
    assert st.version(first_link).name == Path(first_link).name  # type: ignore[union-attr]
    assert st.version().name == second  # type: ignore[union-attr]
    assert st.version("versions/no-such-version") is None


def test_the_fast_path_hands_its_link_to_the_view(app, store: Path) -> None:  # type: ignore[no-untyped-def]
    first = _state(app).version()
    environ = EnvironBuilder(
        path="/sparql",
        query_string={"query": LOOK_UP},
        headers={"Accept": "application/sparql-results+json"},
    ).get_environ()
    seen: list[str] = []
    body = b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: seen.append(status)))
    assert seen == ["200 OK"]
    assert environ[PUBLISHED] == os.readlink(store / CURRENT)
    assert json.loads(body)["results"]["bindings"][0]["v"]["value"] == "first"
    assert first is not None and first.name in environ[PUBLISHED]


def _job(text: str, row_cap: int = 100) -> Job:
    return Job(text, "query", "json", None, row_cap)


def test_pool_answers_are_kept_but_not_inline_answers(app) -> None:  # type: ignore[no-untyped-def]
    st = _state(app)
    version = st.version().name  # type: ignore[union-attr]
    before = len(st.cache)
    assert st.run(_job(LOOK_UP), version).engine == "inline"
    assert len(st.cache) == before  # a protocol look-up: the fast path keeps its GET answer
    pooled = st.run(_job("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"), version)
    assert pooled.engine == "pool" and len(st.cache) == before + 1


def test_the_view_answers_under_the_version_the_fast_path_read(app, store: Path) -> None:  # type: ignore[no-untyped-def]
    first_link = os.readlink(store / CURRENT)
    _publish(store, "second")
    environ = EnvironBuilder(path="/sparql", query_string={"query": LOOK_UP}).get_environ()
    environ[PUBLISHED] = first_link  # as if the link was read just before the publish
    headers: dict[str, str] = {}
    direct = app.wsgi_app.app.app  # the layer under compression and the fast path
    b"".join(direct(environ, lambda status, given, exc=None: headers.update(given)))
    assert headers["X-MedKG-Store-Version"] == Path(first_link).name


def test_a_page_reads_the_current_link_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read is a system call that lets other threads take the interpreter mid-request."""
    page = ox.NamedNode("https://w3id.org/medkg/dataset/once")
    staged = StagedVersion(tmp_path)
    staged.load_quads([ox.Quad(page, ox.NamedNode("http://purl.org/dc/terms/title"),
                                ox.Literal("Once"), ox.NamedNode(X + "g"))])
    staged.publish({"test": True})
    application = create_app({"STORE": str(tmp_path), "EXECUTORS": 1})
    client = application.test_client()
    try:
        for accept in ("text/turtle", "text/html"):
            client.get("/dataset/once?warm", headers={"Accept": accept})  # opens the store
            reads: list[str] = []
            real = os.readlink

            def counting(path, *args, **kwargs):  # type: ignore[no-untyped-def]
                reads.append(os.fspath(path))
                return real(path, *args, **kwargs)

            monkeypatch.setattr(os, "readlink", counting)
            assert client.get("/dataset/once", headers={"Accept": accept}).status_code == 200
            monkeypatch.setattr(os, "readlink", real)
            assert reads == [os.fspath(tmp_path / CURRENT)], accept
    finally:
        _state(application).executor.close()


@pytest.mark.parametrize(
    ("text", "federated"),
    [
        ("SELECT * { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", True),
        ("select * { service <http://example.org/sparql> { ?s ?p ?o } }", True),
        ("SELECT * { SeRvIcE ?endpoint { ?s ?p ?o } }", True),
        ("SELECT * { ?s <http://example.org/service> ?o }", True),  # conservative: the word
        ("SELECT * { ?s ?p ?o } # no call out", False),
        ("SELECT ?services { ?s <http://example.org/servicing> ?services }", False),
    ],
)
def test_federated_means_the_word_service_anywhere(text: str, federated: bool) -> None:
    assert is_federated(text) is federated


def test_a_look_up_past_the_inline_budget_is_answered_whole_by_the_pool(tmp_path: Path) -> None:
    staged = StagedVersion(tmp_path)
    objects = [ox.Literal(f"v{i}") for i in range(ROW_BUDGET + 5)]
    staged.load_quads([ox.Quad(SMALL, P, o, ox.NamedNode(X + "g")) for o in objects])
    staged.publish({"test": True})
    application = create_app({"STORE": str(tmp_path), "EXECUTORS": 1})
    try:
        st = _state(application)
        version = st.version().name  # type: ignore[union-attr]
        outcome = st.run(_job(LOOK_UP, row_cap=ROW_BUDGET * 2), version)
        assert outcome.engine == "pool" and outcome.rows == ROW_BUDGET + 5
        assert not outcome.truncated
    finally:
        st.executor.close()


def test_the_memory_limit_reaches_every_process_that_reads_the_store(store: Path) -> None:
    application = create_app({"STORE": str(store), "EXECUTORS": 1, "MEMORY_QUADS": 7})
    st = _state(application)
    assert st.inline.state.memory_quads == 7 and st.executor.memory_quads == 7


EXAMPLES = sorted((Path(__file__).parents[2] / "data" / "example-queries").glob("*.rq"))


def _rows(client, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    reply = client.get("/sparql", query_string={"query": text},
                       headers={"Accept": "application/sparql-results+json"})
    assert reply.status_code == 200, reply.data
    return sorted(json.dumps(row, sort_keys=True) for row in reply.json["results"]["bindings"])


def test_a_copy_in_memory_answers_exactly_as_the_store_on_disk(built_store: Path) -> None:
    assert EXAMPLES
    apps = [create_app({"STORE": str(built_store), "EXECUTORS": 1, "MEMORY_QUADS": limit})
            for limit in (0, 1_000_000)]
    try:
        on_disk, in_memory = (application.test_client() for application in apps)
        answered = 0
        for path in EXAMPLES:
            text = path.read_text(encoding="utf-8")
            rows = _rows(on_disk, text)
            assert _rows(in_memory, text) == rows, path.name
            answered += bool(rows)
        assert answered  # the fixture store gives some of the questions an answer
    finally:
        for application in apps:
            _state(application).executor.close()


def test_a_derived_value_is_computed_once_however_many_ask_at_once(  # type: ignore[no-untyped-def]
    app, store: Path
) -> None:
    import threading
    import time

    st = _state(app)
    version = st.version().name
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "figures"

    got: list[str] = []
    askers = [
        threading.Thread(target=lambda: got.append(st.derived(version, "k", compute).value))
        for _ in range(5)
    ]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(10)
    assert got == ["figures"] * 5 and len(calls) == 1
    assert st.derived(version, "k", compute).value == "figures" and len(calls) == 1


def test_a_derived_value_of_a_replaced_version_is_not_kept(  # type: ignore[no-untyped-def]
    app, store: Path
) -> None:
    st = _state(app)
    first = st.version().name
    _publish(store, "second")
    assert st.derived(first, "k", lambda: 1).value == 1
    assert st.memo.get(first, "k") is None  # answered, not kept: nobody asks for it again
    second = st.version().name
    assert st.derived(second, "k", lambda: 2).value == 2 and st.memo.get(second, "k") == 2


def test_a_derived_value_that_fails_is_tried_again_on_the_next_request(  # type: ignore[no-untyped-def]
    app
) -> None:
    st = _state(app)
    version = st.version().name

    def broken() -> int:
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        st.derived(version, "k", broken)
    assert st.derived(version, "k", lambda: 3).value == 3
