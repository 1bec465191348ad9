"""Typed records: what one list entry says about one dataset, before merging."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# a list's reference markers in a name cell: "[10]", "[1a], [1b]", or left empty "[]"
FOOTNOTES = re.compile(r"\[\s*(?:\d+[a-z]?)?\s*\]")


@dataclass(frozen=True, slots=True)
class Issued:
    """A release date at the precision the list gives: 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD'."""

    value: str

    @property
    def year(self) -> int:
        return int(self.value[:4])

    @property
    def xsd_type(self) -> str:
        return {4: "gYear", 7: "gYearMonth", 10: "date"}[len(self.value)]


@dataclass(frozen=True, slots=True)
class Count:
    """A size figure with its unit: 327680 cases, 547 WSIs.

    `split` names the part of the data it counts ("train" for "Train: 27 images"), from
    data/count-splits.tsv; None when the list gives it for the dataset as a whole.
    """

    value: float
    unit: str
    text: str
    split: str | None = None


@dataclass(frozen=True, slots=True)
class LabelClasses:
    """The label classes a task cell names or counts: "(6: mitosis, apoptosis, ...)".

    `count` is the number the list states ("6", "binary": 2), None when it names classes
    without one ("benign vs malignant"); `names` the classes as written, none for "(21)" or
    "7 Categories of breast tumors"; `text` the statement as read, for the build report.
    """

    count: int | None
    names: tuple[str, ...]
    text: str

    @property
    def disagrees(self) -> bool:
        """The list names another number of classes than it states."""
        return self.count is not None and bool(self.names) and len(self.names) != self.count


@dataclass(frozen=True, slots=True)
class ChallengeRef:
    """A challenge the dataset belongs to: a venue and year, or a named challenge."""

    label: str
    venue: str | None  # venue concept IRI
    year: int | None
    slug: str


@dataclass(frozen=True, slots=True)
class Mention:
    """A piece of text meant to name a concept, and what it matched (empty when nothing did)."""

    kind: str
    text: str
    concepts: tuple[str, ...]
    field: str

    def __reduce__(self) -> tuple[type, tuple[str, str, tuple[str, ...], str]]:
        # records cross process boundaries by the million: pickle the fields as constructor
        # arguments, 3x cheaper to load than the slotted dataclass's generic state
        return Mention, (self.kind, self.text, self.concepts, self.field)


@dataclass(slots=True)
class EntryRecord:
    """One dataset entry of one source list, as read.

    Slotted (no per-record __dict__), like the small records above: a 1M-dataset build holds
    over a million of them for the merge.
    """

    source_id: str
    line: int
    raw_name: str
    name: str
    section: tuple[str, ...] = ()
    raw_text: str = ""
    description: str | None = None
    landing_pages: list[str] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    dois: list[str] = field(default_factory=list)
    issued: list[Issued] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)
    dimensions: list[str] = field(default_factory=list)
    organs: list[str] = field(default_factory=list)
    modalities: list[str] = field(default_factory=list)
    stains: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    label_classes: list[LabelClasses] = field(default_factory=list)
    challenges: list[ChallengeRef] = field(default_factory=list)
    magnification: list[str] = field(default_factory=list)
    scanner: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    # links of the entry that lead nowhere medkg can store (not http(s)): reported, not stored;
    # a tuple, so the many records without one share the empty default
    dropped_links: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.source_id}:{self.line}"

    @property
    def names(self) -> tuple[str, ...]:
        """The names the list gives the dataset: the read name, and the cell's whole text when
        that is longer ("SICAPv2 Prostate Pathology Segmentation Dataset" for a link "SICAPv2"),
        without its footnote markers ("CAMELYON16 [10]" is CAMELYON16)."""
        written = " ".join(FOOTNOTES.sub(" ", self.raw_name).split()).strip(" ,-*")
        return tuple(n for n in dict.fromkeys((self.name, written)) if n)

    def add_concepts(self, kind: str, iris: tuple[str, ...] | list[str]) -> None:
        target = {
            "anatomy": self.organs,
            "modality": self.modalities,
            "stain": self.stains,
            "task": self.tasks,
        }[kind]
        for iri in iris:
            if iri not in target:
                target.append(iri)


@dataclass(frozen=True, slots=True)
class Skip:
    """A row or block that produced no dataset, and why."""

    source_id: str
    file: str
    line: int
    reason: str
    text: str = ""
