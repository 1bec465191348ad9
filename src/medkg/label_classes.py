"""Label classes in task cells: which classes a dataset is annotated with, and how many.

A task cell often says more than its task: "classi (6: mitosis, apoptosis, tumor nuclei, ...)",
"(4 classes: 0, 1+, 2+, 3+)", "seg + classi (benign vs malignant)", "seg + classi (epithelial,
inflammatory, fibroblast, miscellaneous)", "Classification (7 Categories of breast tumors)",
"classi (binary - cancer/no cancer)", "classi (21)". The words that make such a statement
("classes", "Categories", "vs", "binary") and the tasks whose categories are no label classes
come from data/label-classes.tsv; this module is the pattern engine around them.

A statement in parentheses counts only right after a task word ("classi (...)"), and a list of
names only when no name is a task, so that what qualifies a task ("(wsi level)", "(256×256)",
"(multitask learning)", "(tumor detection)") is not taken for classes; "N Categories of X" says
what it is wherever it stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from medkg.records import LabelClasses
from medkg.tables import TableError, read_tsv_lines
from medkg.vocabulary import Vocabulary

__all__ = ["ClassReader", "ClassWords", "load_class_words"]

ROLES = ("count-noun", "versus", "count-word", "levels-word", "task-without-classes")
GROUP = re.compile(r"\(([^()]*)\)")
# what ends the task a parenthesised statement follows: "seg + classi (...)" follows "classi"
TASK_SEPARATOR = re.compile(r"[+,;/]")
NAME_SEPARATOR = re.compile(r"\s*[,;]\s*")
# between a count and the names it counts: "6: mitosis, ...", "binary - cancer/no cancer"
NAMES_START = r"\s*[:\-–]\s*"
NAME_EDGES = " .*'\""
# a cell read again costs a dict lookup: lists repeat the same task cells
CELL_CACHE = 100_000


@dataclass(frozen=True)
class ClassWords:
    """What data/label-classes.tsv says: the words of class statements, by role."""

    count_nouns: tuple[str, ...] = ()  # "classes", "categories": after a number, it counts classes
    versus: tuple[str, ...] = ()  # "vs": between two class names
    count_words: dict[str, int] = field(default_factory=dict)  # "binary": 2 classes
    levels_words: tuple[str, ...] = ()  # "hierarchy": a bare number may count levels, not classes
    tasks_without_classes: tuple[str, ...] = ()  # task concept ids whose categories are no labels


def load_class_words(table: Path) -> ClassWords:
    """Read data/label-classes.tsv; an unknown role or a count word without its number fails."""
    by_role: dict[str, list[str]] = {role: [] for role in ROLES}
    counts: dict[str, int] = {}
    for line, row in read_tsv_lines(table, ("text", "role", "classes")):
        text, role = row["text"].lower(), row["role"]
        if role not in by_role:
            raise TableError(f"{table}:{line}: role {role!r} is none of {', '.join(ROLES)}")
        if role == "count-word":
            if not row["classes"].isdigit() or int(row["classes"]) < 1:
                raise TableError(f"{table}:{line}: count word {text!r} needs its number of "
                                 "classes (a whole number of at least 1) in the classes column")
            counts[text] = int(row["classes"])
        by_role[role].append(text)
    return ClassWords(tuple(by_role["count-noun"]), tuple(by_role["versus"]), counts,
                      tuple(by_role["levels-word"]), tuple(by_role["task-without-classes"]))


def _alternation(words: Iterable[str]) -> str:
    """The words as one regex alternation, longest first ("vs." before "vs"); never matches
    when there are none."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w) for w in ordered) if ordered else r"(?!)"


class ClassReader:
    """Reads the class statements of task cells; one per list, as it remembers the cells read."""

    def __init__(self, words: ClassWords, vocab: Vocabulary, no_classes: set[str]):
        """`no_classes`: the IRIs of the tasks whose categories are no label classes."""
        self.words = words
        self.vocab = vocab
        self.no_classes = no_classes
        nouns = _alternation(words.count_nouns)
        # "(6: a, b)", "(4 classes: a, b)", "(21)", "(7 Categories of breast tumors)"
        self.numbered = re.compile(
            rf"^(?P<count>[1-9]\d*)\s*(?:(?P<noun>{nouns})(?!\w)(?:\s+of\s.*)?)?"
            rf"(?:{NAMES_START}(?P<names>.+))?$", re.I | re.S)
        # "(binary)", "(binary - cancer/no cancer)"
        self.worded = re.compile(
            rf"^(?P<word>{_alternation(words.count_words)})(?!\w)(?:{NAMES_START}(?P<names>.+))?$",
            re.I | re.S)
        self.versus = re.compile(rf"\s+(?:{_alternation(words.versus)})(?=\s)", re.I)
        self.levels = re.compile(rf"(?<!\w)(?:{_alternation(words.levels_words)})(?!\w)", re.I)
        # outside parentheses only what says it counts classes: "7 Categories of breast tumors",
        # "4 classes: a, b"; a bare number there is anything (a year, a size, "3D")
        self.counted = re.compile(
            rf"(?<![\w.])(?P<count>[1-9]\d*)\s*(?P<noun>{nouns})(?!\w)"
            rf"(?:\s+of\s[^()+,;]*|\s*:\s*(?P<names>[^()+;]*))?", re.I)
        self._cells: dict[str, tuple[tuple[LabelClasses, ...], str]] = {}

    def read(self, text: str) -> tuple[tuple[LabelClasses, ...], str]:
        """The class statements of a task cell, and the cell without them.

        The rest keeps a "()" where each statement was, so the cell still splits into the same
        task mentions around it ("multi-label (3) classification": "multi-label",
        "classification").
        """
        found = self._cells.get(text)
        if found is None:
            if len(self._cells) >= CELL_CACHE:
                self._cells.clear()
            found = self._cells[text] = self._read(text)
        return found

    def _read(self, text: str) -> tuple[tuple[LabelClasses, ...], str]:
        read: list[tuple[tuple[int, int], LabelClasses]] = []
        # "multi-label (3) classification (hierarchy)": three levels of ADP's 57 tissue types
        bare_counts = not self.levels.search(text)
        after = 0  # where the text before the next group starts
        for group in GROUP.finditer(text):
            task = TASK_SEPARATOR.split(text[after:group.start()])[-1]
            after = group.end()
            if self._labels_classes(self.vocab.find("task", task)):
                statement = self._statement(group.group(1), bare_counts)
                if statement is not None:
                    read.append((group.span(), statement))
        # the same offsets, without the groups: what stands outside them
        outside = GROUP.sub(lambda m: " " * len(m.group(0)), text)
        if self._labels_classes(self.vocab.find("task", text), unnamed=True):
            for match in self.counted.finditer(outside):
                statement = self._counted(match)
                if statement is not None:
                    read.append((match.span(), statement))
        if not read:
            return (), text
        read.sort(key=lambda item: item[0])
        rest, end = [], 0
        for (start, stop), _ in read:
            rest += [text[end:start], "()"]
            end = stop
        rest.append(text[end:])
        return tuple(s for _, s in read), "".join(rest)

    def _labels_classes(self, tasks: list[str], unnamed: bool = False) -> bool:
        """Whether a statement after these tasks can give label classes: some task is named
        (or, `unnamed`, none needs to be) and not every one is a task without classes."""
        if not tasks:
            return unnamed
        return any(t not in self.no_classes for t in tasks)

    def _statement(self, content: str, bare_counts: bool = True) -> LabelClasses | None:
        """One parenthesised statement: a count and/or names, or None for anything else.

        A number alone ("classi (21)") counts classes unless `bare_counts` is False: in a cell
        about a hierarchy it may count its levels.
        """
        content = content.strip()
        numbered = self.numbered.match(content)
        if numbered and (bare_counts or numbered["noun"] or numbered["names"]):
            return self._classes(int(numbered["count"]), numbered["names"], content)
        worded = self.worded.match(content)
        if worded:
            count = self.words.count_words[worded["word"].lower()]
            return self._classes(count, worded["names"], content)
        sides = [s.strip(NAME_EDGES) for s in self.versus.split(content)]
        if len(sides) > 1 and all(sides):
            return self._classes(None, None, content, tuple(sides))
        names = [n.strip(NAME_EDGES) for n in NAME_SEPARATOR.split(content)]
        if len(names) > 1 and all(names):
            return self._classes(None, None, content, tuple(names))
        return None

    def _counted(self, match: re.Match[str]) -> LabelClasses | None:
        return self._classes(int(match["count"]), match["names"], match.group(0).strip())

    def _classes(self, count: int | None, names_text: str | None, text: str,
                 names: tuple[str, ...] | None = None) -> LabelClasses | None:
        """The statement, or None when a name is a task (a list of tasks, not of classes)."""
        if names is None:
            names = self._names(names_text or "", count)
        if any(self.vocab.find_in_text("task", name) for name in names):
            return None
        return LabelClasses(count, tuple(dict.fromkeys(names)), text)

    @staticmethod
    def _names(text: str, count: int | None) -> tuple[str, ...]:
        """Class names split at commas; at '/' too when only that gives the stated count.

        "dysplastic/malignant epithelial" is one class of CoNSeP's seven (seven names with
        it whole); "cancer/no cancer" are the two of "binary".
        """
        names = [n for n in (p.strip(NAME_EDGES) for p in NAME_SEPARATOR.split(text)) if n]
        if count is not None and len(names) != count:
            finer = [n for name in names for n in (p.strip(NAME_EDGES) for p in name.split("/"))
                     if n]
            if len(finer) == count:
                names = finer
        return tuple(names)
