"""Files to download: the whole graph (/download/medkg.nq.gz) and the catalogue files."""

from __future__ import annotations

import gzip
import json
import re
import logging
import shutil
import threading
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from medkg.export import ExportError, export
from medkg.store import current_version_dir, open_read_only
from medkg_server import downloads, version_cache
from medkg_server.app import create_app

PATH = "/download/medkg.nq.gz"
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
CATALOGUE = rdflib.URIRef("https://w3id.org/medkg/catalogue")


@pytest.fixture()
def store(built_store: Path, tmp_path: Path) -> Path:
    """A copy of the test store, so each test starts without a saved dump."""
    copy = tmp_path / "store"
    shutil.copytree(built_store, copy, symlinks=True)
    (current_version_dir(copy) / downloads.DUMP).unlink(missing_ok=True)
    return copy


def _client(store: Path, **config: object):  # type: ignore[no-untyped-def]
    return create_app({"STORE": str(store), "EXECUTORS": 1, **config}).test_client()


def _quads(data: bytes) -> set[ox.Quad]:
    return set(ox.parse(gzip.decompress(data), format=ox.RdfFormat.N_QUADS))


def test_the_dump_holds_every_quad_with_its_graph(store: Path) -> None:
    answer = _client(store).get(PATH)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/gzip"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert "medkg.nq.gz" in answer.headers["Content-Disposition"]
    expected = set(open_read_only(store))
    assert _quads(answer.data) == expected
    assert len({q.graph_name for q in expected}) > 1  # the named graphs are kept apart


def test_the_dump_is_written_once_beside_the_version(store: Path) -> None:
    first = _client(store).get(PATH).data
    saved = current_version_dir(store) / downloads.DUMP
    assert saved.read_bytes() == first
    # another process's file is served as it is (written once: gzip puts the time in its header,
    # so two calls a second apart give different bytes)
    other = gzip.compress(b"")
    saved.write_bytes(other)
    assert _client(store).get(PATH).data == other
    saved.unlink()
    assert _client(store).get(PATH).data == first  # no time or name in the gzip header


def test_a_dump_still_being_made_is_503_and_holds_no_request_for_it(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "PREPARE_WAIT_SECONDS", 0.1)
    release = threading.Event()
    whole = downloads.write_dump
    writes: list[Path] = []

    def slow(db: ox.Store, path: Path) -> None:  # the dump of a million datasets, in short
        writes.append(path)
        assert release.wait(30)
        whole(db, path)

    monkeypatch.setattr(downloads, "write_dump", slow)
    client = _client(store)
    for _ in range(3):  # answered while the file is being made, which is started once
        waiting = client.get(PATH)
        assert waiting.status_code == 503
        assert waiting.headers["Retry-After"] == str(downloads.RETRY_AFTER_SECONDS)
        assert b"being made" in waiting.data
    assert len(writes) == 1
    assert not (current_version_dir(store) / downloads.DUMP).exists()
    release.set()
    for _ in range(300):
        answer = client.get(PATH)
        if answer.status_code == 200:
            break
    assert answer.status_code == 200
    assert _quads(answer.data) == set(open_read_only(store))
    assert len(writes) == 1


def test_a_failure_in_the_background_is_told_to_the_next_request(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "PREPARE_WAIT_SECONDS", 0.0)
    started = threading.Event()

    def fails(db: ox.Store, path: Path) -> None:
        started.set()
        raise ExportError("the store cannot give it")

    monkeypatch.setattr(downloads, "write_dump", fails)
    client = _client(store)
    first = client.get(PATH)
    assert started.wait(10)
    answers = [first] + [client.get(PATH) for _ in range(300)]
    told = [a for a in answers if a.status_code == 404]
    assert told and b"the store cannot give it" in told[0].data
    assert all(a.status_code == 503 for a in answers[: answers.index(told[0])])


def test_a_store_folder_it_cannot_write_to_still_gives_the_dump(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> Path:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(version_cache, "file_or_start", refuse)
    answer = _client(store).get(PATH)
    assert answer.status_code == 200
    assert _quads(answer.data) == set(open_read_only(store))
    assert not (current_version_dir(store) / downloads.DUMP).exists()


def test_validators_ranges_and_head(store: Path) -> None:
    client = _client(store)
    whole = client.get(PATH)
    etag = whole.headers["ETag"]
    assert whole.headers["Last-Modified"] and whole.headers["Accept-Ranges"] == "bytes"
    assert client.get(PATH, headers={"If-None-Match": etag}).status_code == 304
    part = client.get(PATH, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == whole.data[10:20]
    # several ranges are not served as multipart: Range is ignored, the whole file is sent
    several = client.get(PATH, headers={"Range": "bytes=0-1,10-19"})
    assert several.status_code == 200 and several.data == whole.data
    assert client.get(PATH, headers={"Range": "bytes=99999999-"}).status_code == 416
    head = client.head(PATH)
    assert head.status_code == 200 and head.data == b""
    assert int(head.headers["Content-Length"]) == len(whole.data)
    assert client.post(PATH).status_code == 405


@pytest.mark.parametrize(
    "several",
    ["bytes=10-19,0-1", "bytes=0-9,5-14", "bytes=-5,0-1", "items=0-1", "bytes=9-0", "bytes=a-b"],
)
def test_a_range_it_will_not_serve_gets_the_whole_file(store: Path, several: str) -> None:
    # RFC 9110 section 14.2: a Range in another unit must be ignored, and several ranges (in
    # any order) or an invalid one may be; 416 says that no range could be satisfied
    client = _client(store)
    whole = client.get(PATH).data
    answer = client.get(PATH, headers={"Range": several})
    assert answer.status_code == 200 and answer.data == whole


def test_the_access_log_counts_the_bytes_of_a_download(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(store)
    size = len(client.get(PATH).data)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="medkg_server.access"):
        client.get(PATH)
        client.get(PATH, headers={"Range": "bytes=0-9"})
    lines = [r.getMessage() for r in caplog.records if r.name == "medkg_server.access"]
    assert f'"GET {PATH}" 200 {size} ' in lines[0]
    assert f'"GET {PATH}" 206 10 ' in lines[1]


def test_void_names_the_dump(store: Path) -> None:
    client = _client(store)
    answer = client.get("/void", headers={"Accept": "application/n-triples"})
    graph = rdflib.Graph().parse(data=answer.data, format="nt")
    dump = graph.value(CATALOGUE, VOID.dataDump)
    assert dump is not None and str(dump).endswith(PATH)
    assert client.get(str(dump)).status_code == 200
    assert f'href="{PATH}"'.encode() in client.get("/stats").data  # every page's footer links it


def test_no_store_yet_is_503(tmp_path: Path) -> None:
    answer = _client(tmp_path / "empty").get(PATH)
    assert answer.status_code == 503 and b"not been built" in answer.data


def test_the_production_server_sends_the_whole_file(server) -> None:  # type: ignore[no-untyped-def]
    with server.get(PATH) as answer:
        data = answer.read()
        assert answer.headers["Content-Length"] == str(len(data))
    assert _quads(data) == set(open_read_only(server.store))


@pytest.mark.parametrize(
    ("name", "fmt", "content_type"),
    [
        ("catalogue.dcat.ttl", "dcat", "text/turtle; charset=utf-8"),
        ("datasets.csv", "csv", "text/csv; charset=utf-8"),
    ],
)
def test_catalogue_files_are_what_medkg_export_writes(
    store: Path, tmp_path: Path, name: str, fmt: str, content_type: str
) -> None:
    app = create_app({"STORE": str(store), "EXECUTORS": 1})
    answer = app.test_client().get(f"/download/{name}")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == content_type
    settings = app.config["MEDKG_SETTINGS"].core
    expected = export(settings, fmt, tmp_path / f"expected-{name}", quiet=True).read_bytes()
    assert answer.data == expected and len(expected) > 100
    assert (current_version_dir(store) / name).read_bytes() == expected  # kept for the version


def test_a_file_the_store_cannot_give_says_why(store: Path) -> None:
    answer = _client(store).get("/download/mappings.sssom.tsv")  # the test store has no licence
    assert answer.status_code == 404 and b"license" in answer.data
    assert not (current_version_dir(store) / "mappings.sssom.tsv").exists()
    assert not list(current_version_dir(store).glob(".mappings.sssom.tsv.*"))


def test_catalogue_files_have_a_size_limit_the_dump_has_not(store: Path) -> None:
    client = _client(store, CATALOGUE_FILES_MAX=2)  # the test store has 3 datasets
    refused = client.get("/download/catalogue.dcat.ttl")
    assert refused.status_code == 404
    assert b"MEDKG_CATALOGUE_FILES_MAX=2" in refused.data and b"medkg export" in refused.data
    assert client.get(PATH).status_code == 200
    assert _client(store, CATALOGUE_FILES_MAX=3).get("/download/datasets.csv").status_code == 200


def test_only_the_offered_files_can_be_asked_for(store: Path) -> None:
    client = _client(store)
    for name in ("report.json", "..%2Freport.json", "oxigraph", "medkg.nq"):
        assert client.get(f"/download/{name}").status_code == 404


def test_each_dataset_page_links_its_croissant_file(store: Path, tmp_path: Path) -> None:
    app = create_app({"STORE": str(store), "EXECUTORS": 1})
    client = app.test_client()
    page = client.get("/dataset/camelyon16", headers={"Accept": "text/html"}).get_data(as_text=True)
    link = "/download/croissant/camelyon16.json"
    assert f'href="{link}"' in page
    answer = client.get(link)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/ld+json"
    settings = app.config["MEDKG_SETTINGS"].core
    folder = export(settings, "croissant", tmp_path / "croissant", quiet=True)
    assert answer.data == (folder / "camelyon16.json").read_bytes()
    assert json.loads(answer.data)["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    for missing in ("no-such-dataset", "..", "%2e%2e%2freport"):
        assert client.get(f"/download/croissant/{missing}.json").status_code == 404


def test_no_croissant_link_past_the_size_limit(store: Path) -> None:
    client = _client(store, CATALOGUE_FILES_MAX=2)
    page = client.get("/dataset/camelyon16", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "/download/croissant/" not in page
    assert client.get("/download/croissant/camelyon16.json").status_code == 404


def test_a_private_copy_whose_writing_failed_is_never_served_half(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store folder it cannot write to: the dump goes to a folder of the process's own
    def refuse(*args: object) -> Path:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(version_cache, "file_or_start", refuse)
    monkeypatch.setattr(downloads, "_private", None)
    whole = downloads.write_dump

    def full_disk(db: ox.Store, path: Path) -> None:
        path.write_bytes(gzip.compress(b"<https://x/a> <https://x/b> <https://x/c> .\n")[:10])
        raise OSError(28, "No space left on device")

    client = _client(store)
    monkeypatch.setattr(downloads, "write_dump", full_disk)
    failed = client.get(PATH)
    assert failed.status_code == 503
    assert failed.data.decode().strip() == (
        "medkg.nq.gz cannot be written now: No space left on device; ask again later"
    )
    monkeypatch.setattr(downloads, "write_dump", whole)
    answer = client.get(PATH)  # the next request, once there is room again
    assert answer.status_code == 200
    assert _quads(answer.data) == set(open_read_only(store))


def test_the_downloads_page_lists_what_is_offered(store: Path) -> None:
    client = _client(store)
    def listed(page: str) -> list[str]:
        files = page.split('<ul class="downloads">', 1)[1].split("</ul>", 1)[0]
        return re.findall(r'href="(/download/[^"/]+)" download', files)

    links = listed(client.get("/download/").get_data(as_text=True))
    assert sorted(links) == sorted(f"/download/{name}" for name in downloads.DOWNLOADS)
    assert all(client.get(link).status_code in (200, 404) for link in links)  # 404: no licence
    assert 'href="/download/"' in client.get("/stats").get_data(as_text=True)  # in the menu
    small = _client(store, CATALOGUE_FILES_MAX=2).get("/download/").get_data(as_text=True)
    assert listed(small) == [PATH]
    assert "medkg export" in small
