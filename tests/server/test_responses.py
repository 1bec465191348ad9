"""Answers shared by the views: before the first build, every page that reads the store says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg_server import create_app
from medkg_server.responses import NOT_BUILT
from medkg_server.state import EXTENSION

NEEDS_A_STORE = [
    "/browse",
    "/stats",
    "/void",
    "/sitemap.xml",
    "/sitemap/1.xml",
    "/download/",
    "/download/datasets.csv",
    "/dataset/anything",
    "/ontology/1.0.0",
    "/store?default",
    "/sparql?query=ASK%20%7B%7D",
]


@pytest.mark.parametrize("path", NEEDS_A_STORE)
def test_a_page_asked_for_before_the_first_build_gets_503_saying_why(
    tmp_path: Path, path: str
) -> None:
    app = create_app({"STORE": str(tmp_path / "never-built"), "EXECUTORS": 1})
    try:
        answer = app.test_client().get(path)
        assert answer.status_code == 503
        assert NOT_BUILT in answer.get_data(as_text=True)
    finally:
        app.extensions[EXTENSION].executor.close()
