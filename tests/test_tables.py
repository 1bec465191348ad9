"""The TSV tables of rules and curation: read whole, or refused with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.build import build
from medkg.config import Settings
from medkg.store import current_version
from medkg.tables import TableError, read_tsv


def test_rows_skip_comments_and_blank_lines(tmp_path: Path) -> None:
    table = tmp_path / "t.tsv"
    table.write_text(
        "# why this table exists\nword\tunit\n\nimages\timage\n# a note\nslides\tslide\n",
        encoding="utf-8",
    )
    assert read_tsv(table, ("word", "unit")) == [
        {"word": "images", "unit": "image"}, {"word": "slides", "unit": "slide"}
    ]


def test_a_missing_table_is_an_error_not_an_empty_table(tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"absent\.tsv: cannot read"):
        read_tsv(tmp_path / "absent.tsv", ("word", "unit"))


def test_a_table_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    table = tmp_path / "aliases.tsv"
    table.write_bytes(b"variant\tname\treason\nok\tfine\tyes\nbad\xff\tname\tno\n")
    with pytest.raises(TableError, match=r"aliases\.tsv:3: not UTF-8"):
        read_tsv(table, ("variant", "name", "reason"))


@pytest.mark.parametrize(
    "table", ["column-roles.tsv", "count-splits.tsv", "label-classes.tsv", "curation/merge.tsv",
              "curation/aliases.tsv", "curation/entries.tsv"]
)
def test_a_build_without_one_of_its_tables_fails_and_keeps_the_store(
    mini_settings: Settings, table: str
) -> None:
    build(mini_settings, run_validation=False)
    before = current_version(mini_settings.store)
    (mini_settings.data_dir / table).unlink()
    with pytest.raises(TableError, match=table.split("/")[-1]):
        build(mini_settings, run_validation=False)
    assert current_version(mini_settings.store) == before
