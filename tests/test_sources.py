"""The manifest and reading sources: files, folders, URLs, and clear errors."""

from __future__ import annotations

import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from medkg.sources import SourceError, extra_sources, load_manifest, read_source

ROOT = Path(__file__).resolve().parents[1]


def test_project_manifest_lists_five_sources_with_origin_and_checksums() -> None:
    sources = load_manifest(ROOT / "data" / "manifest.toml")
    assert len(sources) == 5
    for source in sources:
        assert source.origin and source.license and source.location and source.location.is_file()
        assert read_source(source).sha256 == source.sha256, f"{source.path} changed since received"


def test_manifest_errors_name_the_entry(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text('[[source]]\nid = "a"\ntitle = "A"\npath = "a.md"\n'
                        '[[source]]\nid = "a"\ntitle = "B"\npath = "b.md"\n')
    with pytest.raises(SourceError, match=r"#2: duplicate id 'a'"):
        load_manifest(manifest)
    manifest.write_text('[[source]]\nid = "a"\n')
    with pytest.raises(SourceError, match=r"#1: field 'title' is required"):
        load_manifest(manifest)
    manifest.write_text("[[source]\n")
    with pytest.raises(SourceError, match="not valid TOML"):
        load_manifest(manifest)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('lisence = "CC0"', "unknown field(s) lisence"),
        ('format = "bogus"', "format = 'bogus' is not one of auto, tables, headings"),
    ],
)
def test_a_misspelt_manifest_field_is_refused(tmp_path: Path, extra: str, message: str) -> None:
    (tmp_path / "a.md").write_text("# A\n", encoding="utf-8")
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(f'[[source]]\nid = "a"\ntitle = "A"\npath = "a.md"\n{extra}\n',
                        encoding="utf-8")
    with pytest.raises(SourceError, match=re.escape(message)) as refused:
        load_manifest(manifest)
    assert "[[source]] #1 ('a')" in str(refused.value)


def test_an_unknown_manifest_table_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text('[sources]\nid = "a"\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"unknown table\(s\) sources"):
        load_manifest(manifest)


def test_extra_sources_from_folder_get_unique_ids(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "my list.md").write_text("# x\n")
    (tmp_path / "lists" / "notes.json").write_text("{}")
    found = extra_sources([tmp_path / "lists"], {"my-list"})
    assert [s.id for s in found] == ["my-list-2"]
    with pytest.raises(SourceError, match="no such file"):
        extra_sources([tmp_path / "missing.md"], set())


def test_binary_and_non_utf8_sources_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe\x00\x00")
    source = extra_sources([bad], set())[0]
    with pytest.raises(SourceError, match="not UTF-8|binary"):
        read_source(source)


@pytest.fixture
def http_folder(tmp_path: Path):
    (tmp_path / "list.md").write_text("# Remote list\n\n| Dataset | Description |\n|--|--|\n| RemoteSet | 3D CT |\n")
    (tmp_path / "big.md").write_bytes(b"x" * 2048)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_source_is_fetched_with_retrieval_time(http_folder: str) -> None:
    source = extra_sources([f"{http_folder}/list.md"], set())[0]
    text = read_source(source)
    assert "RemoteSet" in text.text and text.retrieved and source.id == "list"


def test_url_source_size_cap_and_missing(http_folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import medkg.sources as sources

    monkeypatch.setattr(sources, "URL_MAX_BYTES", 1024)
    big = extra_sources([f"{http_folder}/big.md"], set())[0]
    with pytest.raises(SourceError, match="larger than"):
        read_source(big)
    missing = extra_sources([f"{http_folder}/nope.md"], set())[0]
    with pytest.raises(SourceError, match="cannot fetch"):
        read_source(missing)


def test_control_characters_become_spaces_and_the_digest_is_of_the_file(tmp_path: Path) -> None:
    import hashlib

    data = "# Ctrl\n\n| Dataset |\n|---|\n| Ctrl\x01chars\x07name\x7f |\tTab\r\n".encode()
    (tmp_path / "ctrl.md").write_bytes(data)
    (source,) = extra_sources([tmp_path / "ctrl.md"], set())
    read = read_source(source)
    assert "| Ctrl chars name  |\tTab\r\n" in read.text  # tab, CR and LF stay
    assert read.sha256 == hashlib.sha256(data).hexdigest()
