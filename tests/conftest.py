"""Shared fixtures: a small project home (tiny lists + the real ontology) and settings for it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from medkg.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MEDKG_HOME", "MEDKG_STORE", "MEDKG_BASE", "MEDKG_QUERY_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mini_home(tmp_path: Path) -> Path:
    """A project home with the tiny test lists and the real ontology/ folder."""
    home = tmp_path / "home"
    shutil.copytree(FIXTURES / "mini" / "data", home / "data")
    shutil.copytree(ROOT / "ontology", home / "ontology")
    return home


@pytest.fixture
def mini_settings(mini_home: Path, tmp_path: Path) -> Settings:
    return load_settings(store=tmp_path / "store", home=mini_home)


@pytest.fixture
def real_settings(tmp_path: Path) -> Settings:
    """Settings over the project's own data/ and ontology/, with a temporary store."""
    return load_settings(store=tmp_path / "store", home=ROOT)


@pytest.fixture
def write_list(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write one markdown list into a folder of its own (for `extra=` / `--sources`)."""

    def write(name: str, markdown: str) -> Path:
        folder = tmp_path / f"lists-{name}"
        folder.mkdir()
        (folder / f"{name}.md").write_text(markdown, encoding="utf-8")
        return folder

    return write
