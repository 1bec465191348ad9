"""Turn parsed markdown blocks into entry records: one per dataset row or dataset heading.

Column roles come from header names through data/column-roles.tsv (a manifest entry may override
them); organs, modalities, stains and tasks are matched against the vocabularies; everything else
(dates, counts, dimensions, links, challenges) is read by small patterns. A block that is not a
dataset (a loss-function table, an empty row) becomes a Skip with its file, line and reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path

from medkg.label_classes import ClassReader, ClassWords, load_class_words
from medkg.markdown import Cell, Document, HeadingEntry, Link, LinkList, Row, Table
from medkg.namespaces import Namespaces, slugify
from medkg.records import ChallengeRef, Count, EntryRecord, Issued, Mention, Skip
from medkg.sources import Source, SourceError
from medkg.tables import read_tsv
from medkg.vocabulary import Vocabulary, fold

REF_MARKER = re.compile(r"\[(\d+[a-z]?)\]")
# "ENDO-AID []": a reference marker the list left without its number
EMPTY_REF_MARKER = re.compile(r"\[\s*\]")
DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:[-/.](0?[1-9]|1[0-2]))?(?:[-/.](0?[1-9]|[12]\d|3[01]))?(?!\d)")
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
DIMENSION = re.compile(r"(?<![a-z0-9])([234])\s*d(?:\s*\+\s*(t|time))?(?![a-z0-9])", re.I)
NUMBER = r"(\d{1,3}(?:[.,]\d{3})+|\d+(?:\.\d+)?)\s*([km])?"
# A count's number starts a word: not the digit of "HEp-2" or "COVID-19" (a name's part)
COUNT_START = r"(?<![\w.,])(?<![a-z]-)"
# Up to two words between number and unit, each its own word ("1800 3D intra-oral scans",
# "16 EDF cell images": the unit is the last of them); "2D Cell" is a dimension, not 2 cells,
# and "7 Categories of Cell" counts classes: no small word ("of", "in" ...) comes between
COUNT_MODIFIER = r"(?<=\s)(?!(?:of|in|from|with|and|or|for|to|at|on|by|per|each)\b)"
COUNT_WORD = r"[a-z0-9-]*[a-z][a-z0-9-]*\s+"
# "5 slides each", "10 images per patient", "50 wsi / scanner": a rate, not how many there are
NOT_A_RATE = r"(?!\s*(?:each|per)\b|\s*/\s*[a-z])"
# "40x", "20 X"; not an image size "2048 x 1532" (a number after the x)
MAGNIFICATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*[x×](?![a-z0-9])(?!\s*\d)", re.I)
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>,;)\]]+)")
# Publishers and preprint servers: a link there is a paper whatever its text says.
JOURNAL_HOSTS = ("arxiv.org", "ieeexplore", "pubmed", "sciencedirect", "springer", "academic.oup.com",
                 "openaccess.thecvf", "openreview", "biomedcentral", "frontiersin", "wiley", "ssrn",
                 "thelancet", "cell.com", "ashpublications", "midasjournal", "t.co/")
# Hosts of both papers and data: a paper unless the link text says it is the data.
MIXED_HOSTS = ("doi.org", "nature.com", "ncbi.nlm.nih.gov")
DATA_LABELS = ("data", "website", "project homepage", "homepage", "grand challenge", "dataset", "download")
PAPER_LABELS = ("paper", "report", "arxiv", "publication")
CODE_LABELS = ("github", "code")
CODE_HOSTS = ("github.com", "github.io", "gitlab.com")
# Keys a manifest's [source.scope] may use, and the concept scheme each names
SCOPE_SCHEMES = {"organ": "anatomy", "anatomy": "anatomy", "modality": "modality",
                 "stain": "stain", "task": "task"}
# "any of these strings in the URL", as one scan instead of a Python loop per link
JOURNAL_HOST_IN = re.compile("|".join(re.escape(h) for h in JOURNAL_HOSTS))
MIXED_HOST_IN = re.compile("|".join(re.escape(h) for h in MIXED_HOSTS))
SPLIT = re.compile(r"\s*(?:,|;|/|\+|\(|\)|\band\b|&(?!e\b))\s*", re.I)
DIGIT = re.compile(r"\d")
NUMBERS_ONLY = re.compile(r"[\d\s.x]+")
TRAILING_COMMAS = re.compile(r"\s*,\s*(,\s*)*$")
SPACES = re.compile(r"\s+")
THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
SENTENCE_END = re.compile(r"(?<=\.)\s+")
# what is left at the ends of an acquisition cell once its magnifications are taken out:
# punctuation, and the "or" of "20x or 40x - Aperio AT2"
ACQUISITION_EDGES = re.compile(r"^(?:[\s,;:-]|(?:or|and|to)\b)+|[\s,;:-]+$", re.I)
PARENTHESISED = re.compile(r"\([^()]*\)")
# where a name written before a bullet's link ends and its description begins
WORD = re.compile(r"\w")
LEAD_END = re.compile(r":\s|\s[-–—]\s|[,;.]\s")
# Distinct (kind, cell text, field) reads kept per source: lists repeat the same organ, stain
# and modality cells thousands of times.
CONCEPT_CELL_CACHE = 100_000


# how far before a count's number its split word may start ("validation set: " and spaces)
SPLIT_WORD_REACH = 40
# what ends a split's part of a text: "Test: 441 ROIs - 171.166 cells" is one part, but in
# "Test: 14 images, 24.319 nuclei" or "Test: 1767 (100 wsi)" the figure after is the whole's
SPLIT_SEGMENT_END = re.compile(r"[,;()|]|\.(?!\d)")


@dataclass
class Rules:
    """The data-file side of extraction: header roles, skip lists and count units."""

    roles: dict[str, str]
    non_dataset_sections: dict[str, str]
    units: dict[str, str]
    not_concepts: set[str]
    mention_map: dict[tuple[str, str], str]  # (kind, folded text) -> concept local id
    not_scanner: re.Pattern[str] | None  # phrases in acquisition cells that name no scanner
    splits: dict[str, str] = field(default_factory=dict)  # word -> data split ("valid": validation)
    class_words: ClassWords = field(default_factory=ClassWords)  # data/label-classes.tsv
    unit_pattern: re.Pattern[str] = field(init=False)
    split_pattern: re.Pattern[str] | None = field(init=False)
    split_word: re.Pattern[str] | None = field(init=False)  # a split word anywhere in a text

    def __post_init__(self) -> None:
        words = sorted(self.units, key=len, reverse=True)
        alternation = "|".join(re.escape(w) for w in words)
        # a unit of several words ("whole slide images") is the unit, not modifiers of its last
        several = "|".join(re.escape(w) for w in words if " " in w)
        not_a_unit = rf"(?!(?:{several})(?![a-z]))" if several else ""
        modifiers = rf"(?:{COUNT_MODIFIER}{not_a_unit}{COUNT_WORD}){{0,2}}"
        self.unit_pattern = re.compile(
            rf"{COUNT_START}{NUMBER}\+?\s*{modifiers}({alternation})(?![a-z]){NOT_A_RATE}", re.I
        )
        split_words = "|".join(re.escape(w) for w in sorted(self.splits, key=len, reverse=True))
        # the split word right before the number: "Train: 27 images", "test 14 images"
        self.split_pattern = (re.compile(rf"(?<![a-z])({split_words})\s*[:=-]?\s*$", re.I)
                              if split_words else None)
        self.split_word = (re.compile(rf"(?<![a-z])(?:{split_words})(?![a-z])", re.I)
                           if split_words else None)

    def split_before(self, text: str) -> str | None:
        """The data split a text ends by naming ("... Test: " -> "test"), if any.

        Only a split word written right before a count's number makes the count a part (or a
        count of that part before it: `same_split_part`): in "Test: 1767 (100 wsi)" the 100
        slides are likely the whole set's, as in "Train: 32, test: 32 (7570 nuclei)", so a
        figure further on stays a figure of the whole.
        """
        if self.split_pattern is None:
            return None
        found = self.split_pattern.search(text[-SPLIT_WORD_REACH:])
        return self.splits[found.group(1).lower()] if found else None

    def same_split_part(self, between: str) -> bool:
        """Whether the text between two counts keeps the second in the first one's split part.

        "Test: 441 ROIs - 171.166 cells" counts both in the test part: nothing between them
        ends it. A separator (',', ';', parentheses, a sentence's end) or another split word
        does.
        """
        if SPLIT_SEGMENT_END.search(between):
            return False
        return self.split_word is None or not self.split_word.search(between)


def load_rules(data_dir: Path) -> Rules:
    """Read the header-role, section, unit, label-class and not-a-concept tables from data/."""
    roles = {r["header"].lower(): r["role"] for r in read_tsv(data_dir / "column-roles.tsv", ("header", "role"))}
    sections = {
        r["heading"].lower(): r["reason"]
        for r in read_tsv(data_dir / "non-dataset-sections.tsv", ("heading", "reason"))
    }
    units = {r["word"].lower(): r["unit"] for r in read_tsv(data_dir / "count-units.tsv", ("word", "unit"))}
    splits = {r["word"].lower(): r["split"]
              for r in read_tsv(data_dir / "count-splits.tsv", ("word", "split"))}
    not_concepts = {
        fold(r["text"]) or r["text"]
        for r in read_tsv(data_dir / "curation" / "not-a-concept.tsv", ("text", "reason"))
    }
    mention_map = {
        (r["kind"], fold(r["text"])): r["concept"]
        for r in read_tsv(data_dir / "curation" / "mention-map.tsv", ("text", "kind", "concept", "reason"))
    }
    phrases = sorted((r["text"] for r in read_tsv(data_dir / "curation" / "not-a-scanner.tsv",
                                                  ("text", "reason"))), key=len, reverse=True)
    not_scanner = (re.compile("|".join(_whole_segment(p) for p in phrases), re.I)
                   if phrases else None)
    return Rules(roles, sections, units, not_concepts, mention_map, not_scanner, splits,
                 load_class_words(data_dir / "label-classes.tsv"))


def _whole_segment(phrase: str) -> str:
    """A pattern for `phrase` where it is a whole part of a cell, not words of a longer one.

    "multiple" says nothing of a scanner when it stands alone ("40x, multiple"), but in "scanned
    by multiple scanners" it is part of the text kept. A part is bounded by the cell's ends, a
    ',' ';' ':' or ' - ' separator, or its own parentheses ("(from TCGA)" anywhere).
    """
    before = "" if phrase.startswith("(") else r"(?:^|(?<=[,;:])|(?<=\s-))\s*"
    after = "" if phrase.endswith(")") else r"\s*(?=$|[,;:]|-\s)"
    return f"{before}{re.escape(phrase)}{after}"


def heading_key(text: str) -> str:
    """A heading without emoji or decoration, lower-cased, for the non-dataset table."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s/&'-]", " ", text)).strip().lower()


class Extractor:
    """Reads one parsed source document, or its parts one after another, into records and skips.

    `read` takes a document's blocks (all of them, or one part's); `finish` returns what was
    read in the order a single pass over the whole document gives: records by line, skips
    grouped tables first, then heading entries, then link lists. Reference notes are resolved
    in `finish`, so a note may come after the row that cites it.
    """

    def __init__(self, source: Source, doc: Document, vocab: Vocabulary, rules: Rules, ns: Namespaces):
        self.source = source
        self.doc = doc  # gives the title; its references are complete by `finish`
        self.vocab = vocab
        self.rules = rules
        self.ns = ns
        self.file = source.file_name
        self.records: list[EntryRecord] = []
        self._skips: tuple[list[Skip], list[Skip], list[Skip]] = ([], [], [])
        self._kind = 0  # which of the three skip lists `_skip` fills
        self._cited: list[tuple[EntryRecord, list[str]]] = []  # rows citing reference notes
        self._concept_cells: dict[tuple[str, str, str], tuple[list[str], tuple[Mention, ...]]] = {}
        self.classes = ClassReader(rules.class_words, vocab, {
            ns.concept("task", local) for local in rules.class_words.tasks_without_classes})

    def run(self) -> tuple[list[EntryRecord], list[Skip]]:
        self.read(self.doc)
        return self.finish()

    def read(self, blocks: Document) -> None:
        """Read the tables, heading entries and link lists of a document or of one part."""
        self._kind = 0
        for table in blocks.tables:
            self._table(table)
        self._kind = 1
        for entry in blocks.heading_entries:
            self._heading_entry(entry)
        self._kind = 2
        for link_list in blocks.link_lists:
            self._link_list(link_list)

    def finish(self) -> tuple[list[EntryRecord], list[Skip]]:
        references = self.doc.references
        for record, refs in self._cited:
            record.citations.extend(references[r] for r in refs if r in references)
        self.records.sort(key=lambda r: r.line)
        return self.records, [skip for kind in self._skips for skip in kind]

    # -- tables ---------------------------------------------------------------------------

    def roles_of(self, table: Table) -> list[str | None]:
        roles: list[str | None] = []
        for cell in table.header:
            header = cell.text.strip().lower()
            roles.append(self.source.columns.get(header) or self.rules.roles.get(header))
        return roles

    def _section_skip_reason(self, section: tuple[str, ...]) -> str | None:
        for heading in reversed(section):
            reason = self.rules.non_dataset_sections.get(heading_key(heading))
            if reason:
                return f"section '{heading}': {reason}"
        return None

    def _table(self, table: Table) -> None:
        roles = self.roles_of(table)
        reason = self._section_skip_reason(table.section)
        if reason is None and "name" not in roles:
            headers = ", ".join(c.text for c in table.header)
            reason = f"table without a dataset-name column (headers: {headers}): not a dataset table"
        if reason:
            for row in table.rows:
                if any(c.text for c in row.cells):
                    self._skip(row.line, reason, row.raw)
            return
        for row in table.rows:
            self._row(table, row, roles)

    def _row(self, table: Table, row: Row, roles: list[str | None]) -> None:
        cells: dict[str, list[Cell]] = {}
        for role, cell in zip(roles, row.cells):
            if role:
                cells.setdefault(role, []).append(cell)
        if not any(c.text or c.links for c in row.cells):
            self._skip(row.line, "empty row", row.raw)
            return
        name_cell = cells.get("name", [Cell("")])[0]
        raw_name = name_cell.text
        refs = REF_MARKER.findall(raw_name)
        name = self._clean_name(name_cell)
        if not name:
            self._skip(row.line, "row has no dataset name (empty or shifted name column)", row.raw)
            return
        record = EntryRecord(self.source.id, row.line, raw_name, name, table.section, row.raw)
        if name_cell.links:
            self._links(record, name_cell.links)
        if refs:
            self._cited.append((record, refs))  # resolved in finish(): notes may come later
        self._fill(record, cells)
        self._context(record)
        self.records.append(record)

    def _clean_name(self, cell: Cell) -> str:
        text = EMPTY_REF_MARKER.sub("", REF_MARKER.sub("", cell.text))
        text = TRAILING_COMMAS.sub("", text).strip(" ,-*")
        first_link = cell.links[0].text.strip() if cell.links else ""
        if first_link and text.startswith(first_link):
            return first_link
        return SPACES.sub(" ", text)

    def _fill(self, record: EntryRecord, cells: dict[str, list[Cell]]) -> None:
        for cell in cells.get("description", []):
            self._description(record, cell.text)
        for cell in cells.get("links", []) + cells.get("paper", []):
            self._links(record, cell.links, papers_only="paper" in cells and cell in cells["paper"])
        for cell in cells.get("task", []):
            self._concept_cell(record, "task", cell.text, "task")
            statements, _ = self.classes.read(cell.text)
            record.label_classes.extend(s for s in statements if s not in record.label_classes)
        for cell in cells.get("organ", []):
            self._concept_cell(record, "anatomy", cell.text, "organ")
        for cell in cells.get("stain", []):
            self._concept_cell(record, "stain", cell.text, "stain")
        self._modality_and_dimension(record, cells.get("modality", []), cells.get("dimension", []))
        for cell in cells.get("granularity", []):
            # "wsi" or "patch": read like a concept cell, so that a patch row says its modality
            # (data/curation/mention-map.tsv) instead of taking the list's whole-slide default;
            # the rest of the cell is image sizes, not modality mentions left unmapped
            self._concept_cell(record, "modality", cell.text, "granularity", mapped_only=True)
        for cell in cells.get("release", []):
            self._release(record, cell.text)
        for cell in cells.get("challenge", []):
            self._challenge(record, cell.text)
        # a "Data" (annotation) cell often says how much there is too: "images (12.000 nuclei)
        # + masks", "Train: 10.091 patches, Valid: 40 patches" where the size cell counts slides
        for cell in cells.get("size", []) + cells.get("annotation", []):
            record.counts.extend(c for c in self._counts(cell.text) if c not in record.counts)
        for cell in cells.get("acquisition", []):
            self._acquisition(record, cell.text)

    # -- bullet entries -----------------------------------------------------------------

    def _link_list(self, link_list: LinkList) -> None:
        """Bullets '[Name](http...): description' or 'Name: http...' are datasets; bare links,
        anchors and items without a link are not (each is reported)."""
        reason = self._section_skip_reason(link_list.section)
        for item in link_list.items:
            if not item.cell.links:
                self._skip(item.line, reason or "a bullet without a link: nothing to name or "
                           "reach a dataset by", item.raw)
                continue
            link = item.cell.links[0]
            name, described = split_lead(item.lead)
            why = reason
            if why is None and not link.href.startswith(("http://", "https://")):
                why = "a link inside the document (table of contents), not a dataset"
            elif why is None and not name and len(item.rest.split()) < 3:
                why = "a bare link without a description: a pointer elsewhere, not a dataset entry"
            elif why is None and not name and not link.text.strip():
                why = "the link has no text to name a dataset"
            if why:
                self._skip(item.line, why, item.raw)
                continue
            after = item.rest if WORD.search(item.rest) else ""  # not a lone '.' after a URL
            rest = " ".join(part for part in (described, after) if part)
            record = EntryRecord(self.source.id, item.line, item.lead or link.text,
                                 name or link.text.strip(), link_list.section, item.raw)
            self._links(record, (link,))
            self._links(record, item.cell.links[1:], papers_only=False)
            self._description(record, rest, prefix_modality=False)
            self._release_in_text(record, rest)
            self._context(record)
            self.records.append(record)

    # -- heading entries ------------------------------------------------------------------

    def _heading_entry(self, entry: HeadingEntry) -> None:
        reason = self._section_skip_reason(entry.section)
        if reason:
            self._skip(entry.line, reason, entry.raw)
            return
        name = (entry.title.links[0].text.strip() or entry.title.text).strip()
        if not name:
            self._skip(entry.line, "heading has no dataset name (only markup)", entry.raw)
            return
        record = EntryRecord(self.source.id, entry.line, entry.title.text, name, entry.section,
                             entry.raw)
        self._links(record, entry.title.links)
        for quote in entry.quotes:
            record.citations.append(quote.text)
            record.dois.extend(d.rstrip(".") for d in DOI.findall(quote.text) if d not in record.dois)
            self._links(record, quote.links, papers_only=True)
        facts: list[str] = []
        for bullet in entry.bullets:
            # a bold bullet alone names the organ ('**Cervical Cancer**'); a bold label
            # ('**Keywords**: X-ray, labels') introduces other facts
            if bullet.bold and len(bullet.text) < 60 and ":" not in bullet.text:
                self._concept_cell(record, "anatomy", bullet.text, "organ")
            else:
                facts.append(bullet.text)
        if facts:
            self._description(record, " ".join(facts), prefix_modality=False)
            for fact in facts:
                self._acquisition(record, fact, scanner=False)
        self._context(record)
        self.records.append(record)

    # -- fields ---------------------------------------------------------------------------

    def _description(self, record: EntryRecord, text: str, prefix_modality: bool = True) -> None:
        if not text:
            return
        record.description = text if record.description is None else f"{record.description} {text}"
        head = text.split(",", 1)[0]
        for dim in self._dimensions(head if prefix_modality else text):
            if dim not in record.dimensions:
                record.dimensions.append(dim)
        if prefix_modality and DIMENSION.match(head.strip()):
            # A first comma-part like "2D Pathological Imaging" states dimension and modality:
            # read like a modality cell. Any other description is running text (below).
            stripped = DIMENSION.sub("", head).strip(" :")
            found = self.vocab.find("modality", stripped)
            if stripped and not DIGIT.search(stripped):
                self._mention(record, "modality", stripped, found, "description")
            record.add_concepts("modality", found)
        # running text: a cell-only label ("retinal", "grade") means something else here
        for kind in ("modality", "anatomy", "stain", "task"):
            record.add_concepts(kind, self.vocab.find_in_text(kind, text))
        record.counts.extend(c for c in self._counts(text) if c not in record.counts)
        for doi in DOI.findall(text):
            if doi not in record.dois:
                record.dois.append(doi.rstrip("."))
        self._challenge_in_text(record, text)

    def _concept_cell(self, record: EntryRecord, kind: str, text: str, field_name: str,
                      mapped_only: bool = False) -> None:
        """Match a whole cell, then each of its parts, recording every part as a mention.

        What a cell gives depends on its kind, text and field alone, so it is read once per
        source: adding its concepts in one go keeps their order (add_concepts skips repeats).
        `mapped_only` records only the parts that name a concept.
        """
        key = (kind, text, field_name)
        read = self._concept_cells.get(key)
        if read is None:
            if len(self._concept_cells) >= CONCEPT_CELL_CACHE:
                self._concept_cells.clear()
            read = self._concept_cells[key] = self._read_concept_cell(kind, text, field_name)
        concepts, mentions = read
        record.add_concepts(kind, concepts)
        record.mentions.extend(m for m in mentions if m.concepts or not mapped_only)

    def _read_concept_cell(self, kind: str, text: str,
                           field_name: str) -> tuple[list[str], tuple[Mention, ...]]:
        """The concepts (in order, repeats allowed) and the mentions of one concept cell."""
        concepts = list(self.vocab.find(kind, text))
        mentions: list[Mention] = []
        # a task cell's label classes ("classi (6: mitosis, ...)") are no task mentions: they
        # go to the record's label_classes, not to the report as unmatched tasks
        parts = self.classes.read(text)[1] if kind == "task" else text
        for part in SPLIT.split(parts):
            part = part.strip(" .*-'\"")
            if not part or fold(part) in self.rules.not_concepts or NUMBERS_ONLY.fullmatch(part):
                continue
            if kind == "anatomy" and DIGIT.search(part):
                continue  # split counts ("6 for train 10 for test") that wandered into the organ column
            found = tuple(self.vocab.find(kind, part)) or self._mapped(kind, part)
            concepts.extend(found)
            mentions.append(Mention(kind, part, found, field_name))
        return concepts, tuple(mentions)

    def _mapped(self, kind: str, text: str) -> tuple[str, ...]:
        """A concept named through data/curation/mention-map.tsv (a disease for its site)."""
        local = self.rules.mention_map.get((kind, fold(text)))
        return (self.ns.concept(kind, local),) if local else ()

    def _mention(self, record: EntryRecord, kind: str, text: str, found: tuple[str, ...] | list[str],
                 field_name: str) -> None:
        record.mentions.append(Mention(kind, text, tuple(found), field_name))

    def _modality_and_dimension(self, record: EntryRecord, modality: list[Cell], dimension: list[Cell]) -> None:
        mod_text = " ".join(c.text for c in modality)
        dim_text = " ".join(c.text for c in dimension)
        # A shifted row puts the dimension under "Type" and the modality under "Dim.": swap back.
        if dim_text and not self._dimensions(dim_text) and self._dimensions(mod_text):
            mod_text, dim_text = dim_text, mod_text
        for dim in self._dimensions(dim_text):
            if dim not in record.dimensions:
                record.dimensions.append(dim)
        if mod_text:
            self._concept_cell(record, "modality", mod_text, "modality")

    @staticmethod
    def _dimensions(text: str) -> list[str]:
        dims: list[str] = []
        for number, time_part in DIMENSION.findall(text):
            dim = f"{number}D+time" if time_part else f"{number}D"
            if re.search(rf"{number}\s*d\s*\+\s*(t|time)", text, re.I) and not time_part:
                continue
            if dim not in dims:
                dims.append(dim)
        return dims

    def _links(self, record: EntryRecord, links: tuple[Link, ...], papers_only: bool = False) -> None:
        for link in links:
            href = link.href.strip()
            if not href.startswith(("http://", "https://")):
                # relative links into the upstream repo, anchors, <Link to ...> placeholders,
                # mistyped schemes: nothing a reader outside the list can follow
                record.dropped_links += (href,)
                continue
            label = link.text.lower()
            doi = DOI.search(href)
            if "doi.org/" in href and doi:
                if doi.group(1) not in record.dois:
                    record.dois.append(doi.group(1))
            kind = link_kind(label, href, papers_only)
            target = {"paper": record.papers, "code": record.code}.get(kind, record.landing_pages)
            if href not in target:
                target.append(href)

    def _release(self, record: EntryRecord, text: str) -> None:
        match = DATE.search(text)
        if not match:
            return
        year, month, day = match.groups()
        value = year + (f"-{int(month):02d}" if month else "") + (f"-{int(day):02d}" if month and day else "")
        issued = Issued(value)
        if issued not in record.issued:
            record.issued.append(issued)

    def _release_in_text(self, record: EntryRecord, text: str) -> None:
        """A release date in running text: the first date that is neither a count ('2057
        images', 'limbs: 2057 and ...' once past this year) nor in the future.

        A release cell's date is taken as written (a future year there is the list's error, for
        validation to report); a bullet's description holds other numbers too.
        """
        counted = {m.start() for m in self.rules.unit_pattern.finditer(text)}
        for match in DATE.finditer(text):
            if match.start() not in counted and int(match.group(1)) <= date.today().year:
                self._release(record, match.group(0))
                return

    def _challenge(self, record: EntryRecord, text: str) -> None:
        text = text.strip()
        if not text or text in ("-", "—") or fold(text) in self.rules.not_concepts:
            return
        venues = self.vocab.find("venue", text)
        years = [int(y) for y in YEAR.findall(text)]
        refs: list[ChallengeRef] = []
        if venues:
            # "MICCAI'2017 & 2019" names two editions of one venue's challenge
            venue = venues[0]
            local = venue.rstrip("/").rsplit("/", 1)[-1]
            for year in years or [None]:
                slug = f"{local}-{year}" if year else local
                label = f"{self.vocab.label(venue)} {year}" if year else self.vocab.label(venue)
                refs.append(ChallengeRef(label, venue, year, slug))
        else:
            year = years[0] if years else None
            short = re.search(r"(?<!\d)(\d{2})$", text)
            if year is None and short:
                year = 2000 + int(short.group(1))
            refs.append(ChallengeRef(text, None, year, slugify(text)))
        for ref in refs:
            if ref not in record.challenges:
                record.challenges.append(ref)

    def _challenge_in_text(self, record: EntryRecord, text: str) -> None:
        for sentence in SENTENCE_END.split(text):
            if "challenge" in sentence.lower() and YEAR.search(sentence) and self.vocab.find("venue", sentence):
                self._challenge(record, sentence.split("Challenge")[0].split("challenge")[0])

    def _counts(self, text: str) -> list[Count]:
        """The counts of a text, each with the data split its clause names, if any.

        "Train: 27 images, Test: 14 images" gives 27 train images and 14 test images: two
        parts, not two sizes of the whole (nor a total of 41 the list does not give).
        """
        counts: list[Count] = []
        split: str | None = None  # the split of the count before, while its part goes on
        part_end = 0  # where that count ended
        for match in self.rules.unit_pattern.finditer(text):
            number, scale, word = match.groups()
            value = _number(number, scale)
            if value is None:
                continue
            # "Test: 441 ROIs - 171.166 cells": a count after a split's count, in its part
            follows = split is not None and self.rules.same_split_part(
                text[part_end:match.start()])
            split = self.rules.split_before(text[:match.start()]) or (split if follows else None)
            part_end = match.end()
            count = Count(value, self.rules.units[word.lower()], match.group(0).strip(), split)
            if count not in counts:
                counts.append(count)
        return counts

    def _acquisition(self, record: EntryRecord, text: str, scanner: bool = True) -> None:
        for value in MAGNIFICATION.findall(text):
            mag = f"{value}x"
            if mag not in record.magnification:
                record.magnification.append(mag)
        if not scanner:
            return
        rest = MAGNIFICATION.sub(" ", text)
        if self.rules.not_scanner is not None:
            rest = self.rules.not_scanner.sub(" ", rest)
        rest = ACQUISITION_EDGES.sub("", re.sub(r"\s+", " ", rest))
        if PARENTHESISED.fullmatch(rest):
            return  # "(from TCGA, RUMC, JB)", "(UHCW)": where the slides came from, not a scanner
        if re.search(r"[A-Za-z]{3,}", rest) and rest not in record.scanner:
            record.scanner.append(rest)

    # -- context --------------------------------------------------------------------------

    def _context(self, record: EntryRecord) -> None:
        """Section headings and the source's declared scope add what the entry leaves unsaid."""
        # A heading for several organs ("Breast / Head & Neck Cancer") says which of them only
        # to an entry that names no organ itself; otherwise each entry would get all of them.
        named_organs = bool(record.organs)
        for heading in record.section[1:] if len(record.section) > 1 else record.section:
            if heading == self.doc.title:
                continue
            organs = self.vocab.find("anatomy", heading)
            if len(organs) == 1 or not named_organs:
                record.add_concepts("anatomy", organs)
            if not record.modalities:
                record.add_concepts("modality", self.vocab.find("modality", heading))
        for kind, label in self.source.scope.items():
            scheme = SCOPE_SCHEMES[kind]  # check_scope refused any other key
            target = {"anatomy": record.organs, "modality": record.modalities,
                      "stain": record.stains, "task": record.tasks}[scheme]
            if not target:
                record.add_concepts(scheme, self.vocab.find(scheme, label))

    def _skip(self, line: int, reason: str, text: str = "") -> None:
        self._skips[self._kind].append(Skip(self.source.id, self.file, line, reason, text[:200]))


def check_scope(source: Source, vocab: Vocabulary) -> None:
    """Refuse a manifest scope whose key or value names nothing: every entry would miss it."""
    for kind, label in source.scope.items():
        scheme = SCOPE_SCHEMES.get(kind)
        if scheme is None:
            raise SourceError(
                f"manifest source '{source.id}': unknown scope key '{kind}' "
                f"(known: {', '.join(sorted(SCOPE_SCHEMES))})"
            )
        if not isinstance(label, str) or not vocab.find(scheme, label):
            raise SourceError(
                f"manifest source '{source.id}': scope {kind} = {label!r} names no {scheme} "
                "concept of the vocabulary (ontology/vocabulary/)"
            )


def split_lead(text: str) -> tuple[str, str]:
    """A name written before a bullet's link, and what follows it: 'DeepLesion, 32,000 CT
    slices' gives ('DeepLesion', '32,000 CT slices').

    The name ends at the first ': ', ' - ', ', ', '; ' or '. ' outside parentheses, so that
    'Mouse Atlas (H&E, MR)' stays whole.
    """
    depth = 0
    for at, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0 and LEAD_END.match(text, at):
            return text[:at].strip(), text[at:].lstrip(" :-–—,;.").strip()
    return text.strip(), ""


def link_kind(label: str, href: str, papers_only: bool = False) -> str:
    """'paper', 'code' or 'landing' for a link, from its text first and its host second."""
    if papers_only or label in PAPER_LABELS or JOURNAL_HOST_IN.search(href):
        return "paper"
    if label in CODE_LABELS:
        return "code"
    if label not in DATA_LABELS and MIXED_HOST_IN.search(href):
        return "paper"
    return "landing"


def _number(number: str, scale: str | None) -> float | None:
    digits = number
    if THOUSANDS.fullmatch(number):
        digits = re.sub(r"[.,]", "", number)  # "327,680" and "171.375" are thousands separators
    try:
        value = float(digits)
    except ValueError:
        return None
    multiplier = {"k": 1_000, "m": 1_000_000}.get((scale or "").lower(), 1)
    return value * multiplier


def extract(source: Source, doc: Document, vocab: Vocabulary, rules: Rules,
            ns: Namespaces) -> tuple[list[EntryRecord], list[Skip]]:
    """All entry records and skips of one parsed source."""
    return Extractor(source, doc, vocab, rules, ns).run()


def extract_parts(source: Source, parts: Iterable[Document], vocab: Vocabulary, rules: Rules,
                  ns: Namespaces) -> tuple[list[EntryRecord], list[Skip]]:
    """What `extract` gives for the whole document, from its parts (markdown.parse_parts).

    Each part's blocks are read, then dropped, once the document's title (its first level-1
    heading, which section contexts leave out) is known; parts before it wait.
    """
    extractor: Extractor | None = None
    waiting: list[Document] = []
    for part in parts:
        waiting.append(part)
        if extractor is None:
            extractor = Extractor(source, part, vocab, rules, ns)
        extractor.doc = part  # the title and references so far (the same references dict)
        if part.title:
            for block in waiting:
                extractor.read(block)
            waiting.clear()
    if extractor is None:
        return [], []
    for block in waiting:
        extractor.read(block)
    return extractor.finish()
