"""Exports are moved into place whole: a failure leaves the previous output, a folder export
replaces the previous folder (no stale per-dataset files) but never a folder of other files."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from medkg.export import ExportError, dumps, export

DATASETS = {"bach", "camelyon16", "panda", "tiny-nuclei"}


def _disk_full_after_one(original: Callable[..., Iterator]) -> Callable[..., Iterator]:
    """dumps.union_triples that yields one triple, then fails as a full disk does."""

    def failing(store: object, quiet: bool, scratch: Path) -> Iterator:
        triples = original(store, quiet, scratch)
        yield next(triples)
        raise OSError(errno.ENOSPC, "No space left on device")

    return failing


def test_a_failed_dump_leaves_the_previous_file_and_no_partial_one(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = out_dir / "graph.ttl"
    out.write_text("previous export\n", encoding="utf-8")
    monkeypatch.setattr(dumps, "union_triples", _disk_full_after_one(dumps.union_triples))
    with pytest.raises(OSError, match="No space left"):
        export(export_settings, "ttl", out, quiet=True)
    assert out.read_text(encoding="utf-8") == "previous export\n"
    assert [p.name for p in out_dir.iterdir()] == ["graph.ttl"]


def test_a_failed_first_dump_leaves_nothing(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dumps, "union_triples", _disk_full_after_one(dumps.union_triples))
    with pytest.raises(OSError):
        export(export_settings, "nt", out_dir / "graph.nt", quiet=True)
    assert list(out_dir.iterdir()) == []


def test_a_folder_export_drops_files_of_datasets_no_longer_in_the_store(
    export_settings, out_dir: Path
) -> None:
    folder = out_dir / "croissant"
    folder.mkdir()
    (folder / "merged-away.json").write_text("{}", encoding="utf-8")
    export(export_settings, "croissant", folder, quiet=True)
    assert {p.stem for p in folder.iterdir()} == DATASETS
    assert sorted(p.name for p in out_dir.iterdir()) == ["croissant"]


def test_a_failed_folder_export_leaves_the_previous_folder(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = export(export_settings, "schemaorg", out_dir / "schemaorg", quiet=True)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    calls = []

    def second_fails(document: dict, path: Path) -> Path:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        path.write_text("{}", encoding="utf-8")
        return path

    monkeypatch.setattr("medkg.export.schemaorg.write_json", second_fails)
    with pytest.raises(OSError):
        export(export_settings, "schemaorg", folder, quiet=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["schemaorg"]


def test_a_folder_with_other_files_is_refused_not_emptied(export_settings, out_dir: Path) -> None:
    (out_dir / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ExportError, match=r"notes\.txt") as caught:
        export(export_settings, "croissant", out_dir, quiet=True)
    assert str(out_dir) in str(caught.value)
    assert [p.name for p in out_dir.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("fmt", ["nt", "dcat"])
def test_no_room_for_the_sorting_scratch_is_an_error_naming_the_folder(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from medkg.export import sorted_runs

    def refused(**_kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(sorted_runs.tempfile, "TemporaryDirectory", refused)
    with pytest.raises(ExportError, match=f"scratch folder in {out_dir}: Permission denied"):
        export(export_settings, fmt, out_dir / f"graph.{fmt}", quiet=True)
    assert list(out_dir.iterdir()) == []
