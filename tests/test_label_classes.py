"""data/label-classes.tsv and the reader of class statements in task cells."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.config import Settings
from medkg.label_classes import ClassReader, load_class_words
from medkg.namespaces import Namespaces
from medkg.tables import TableError
from medkg.vocabulary import load_vocabulary

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "data" / "label-classes.tsv"


@pytest.fixture
def reader(real_settings: Settings) -> ClassReader:
    words = load_class_words(TABLE)
    ns = Namespaces(real_settings.base)
    return ClassReader(words, load_vocabulary(real_settings),
                       {ns.concept("task", t) for t in words.tasks_without_classes})


def test_the_real_table_reads_and_names_real_tasks(real_settings: Settings) -> None:
    words = load_class_words(TABLE)
    assert {"classes", "categories"} <= set(words.count_nouns)
    assert words.count_words["binary"] == 2
    ns = Namespaces(real_settings.base)
    vocab = load_vocabulary(real_settings)
    for task in words.tasks_without_classes:
        assert ns.concept("task", task) in vocab.pref_labels, f"no task concept {task!r}"


def test_the_test_lists_use_the_real_table() -> None:
    mini = ROOT / "tests" / "fixtures" / "mini" / "data" / "label-classes.tsv"
    assert mini.read_bytes() == TABLE.read_bytes()


@pytest.mark.parametrize("row, message", [
    ("binary\tcount-word\t", r"label-classes\.tsv:2: count word 'binary' needs"),
    ("two\tcount-word\t0", r"label-classes\.tsv:2: count word 'two' needs"),
    ("vs\tversis\t", r"label-classes\.tsv:2: role 'versis' is none of"),
])
def test_a_bad_row_names_its_line(tmp_path: Path, row: str, message: str) -> None:
    table = tmp_path / "label-classes.tsv"
    table.write_text(f"text\trole\tclasses\n{row}\n", encoding="utf-8")
    with pytest.raises(TableError, match=message):
        load_class_words(table)


def test_the_rest_of_a_cell_keeps_its_task_parts(reader: ClassReader) -> None:
    statements, rest = reader.read("seg + classi (benign vs malignant)")
    assert [(s.count, s.names, s.text) for s in statements] == [
        (None, ("benign", "malignant"), "benign vs malignant")]
    assert rest == "seg + classi ()"
    # "(3)" goes, the parts around it stay apart
    assert reader.read("multi-label (3) classification")[1] == "multi-label () classification"


@pytest.mark.parametrize("cell", [
    "classi (0)",  # no dataset has no classes: not a count
    "patch (768x768)",  # an image size after a qualifier
    "classi (256×256)",
    "Image Conversion (4 Categories to convert HE images to IHC images)",
    "seg (tumor detection) + classi (MSI detection)",
])
def test_what_is_no_class_statement(reader: ClassReader, cell: str) -> None:
    assert reader.read(cell) == ((), cell)
