"""A store built from the small TriG fixture, and settings whose ontology/ folder holds the
published context plus the fixture's verified-mappings table."""

from __future__ import annotations

import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import rdflib

from medkg.config import Settings, load_settings
from medkg.store import StagedVersion

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def build_fixture_store(store_dir: Path) -> Path:
    """Load catalogue.trig into a published medkg store at `store_dir`."""
    dataset = rdflib.Dataset()
    dataset.parse(FIXTURES / "catalogue.trig", format="trig")
    staged = StagedVersion(store_dir)
    staged.load_nquads(dataset.serialize(format="nquads", encoding="utf-8"))
    staged.publish({})
    return store_dir


def fixture_dataset() -> rdflib.Dataset:
    dataset = rdflib.Dataset()
    dataset.parse(FIXTURES / "catalogue.trig", format="trig")
    return dataset


@pytest.fixture(scope="session")
def export_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("home")
    (home / "ontology").mkdir()
    shutil.copy(REPO / "ontology" / "context.jsonld", home / "ontology" / "context.jsonld")
    shutil.copy(FIXTURES / "mappings-verified.tsv", home / "ontology" / "mappings-verified.tsv")
    store = build_fixture_store(tmp_path_factory.mktemp("store"))
    return replace(load_settings(store=store, home=REPO), home=home)


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails, as on a machine without network: a JSON-LD
    reader that would fetch a remote context then fails instead of quietly succeeding."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("network access attempted during an offline test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
