"""Read a markdown list into blocks: tables, heading entries, reference notes and link lists.

A real CommonMark parser (markdown-it-py with GFM tables) does the tokenising; this module only
walks its tokens and keeps what the later steps need: each block's section (the headings above
it) and the 1-based line where each row or heading stands in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

REFERENCE_NOTE = re.compile(r"^\[(\d+[a-z]?)\]\s*(.*)$", re.S)


@dataclass(frozen=True)
class Link:
    """A hyperlink as written: its text and its target."""

    text: str
    href: str


@dataclass(frozen=True)
class Cell:
    """One table cell or inline run: plain text plus the links inside it."""

    text: str
    links: tuple[Link, ...] = ()
    bold: bool = False


@dataclass(frozen=True)
class Row:
    line: int
    cells: tuple[Cell, ...]
    raw: str


@dataclass(frozen=True)
class Table:
    section: tuple[str, ...]
    line: int
    header: tuple[Cell, ...]
    rows: tuple[Row, ...]


@dataclass
class HeadingEntry:
    """A heading that names one dataset, with the quote and bullets under it."""

    section: tuple[str, ...]
    line: int
    level: int
    title: Cell
    quotes: list[Cell] = field(default_factory=list)
    bullets: list[Cell] = field(default_factory=list)
    raw: str = ""


@dataclass(frozen=True)
class LinkItem:
    """One bullet that starts with a link: '[Name](url): what it is'."""

    line: int
    cell: Cell
    raw: str

    @property
    def rest(self) -> str:
        """The text after the leading link, without the separator."""
        first = self.cell.links[0].text if self.cell.links else ""
        text = self.cell.text[len(first):] if self.cell.text.startswith(first) else self.cell.text
        return text.strip(" :-–—|").strip()


@dataclass(frozen=True)
class LinkList:
    """A bullet list whose items are links (datasets, or platforms and tables of contents)."""

    section: tuple[str, ...]
    line: int
    items: tuple[LinkItem, ...]


@dataclass
class Document:
    """Everything read from one markdown file."""

    title: str
    tables: list[Table] = field(default_factory=list)
    heading_entries: list[HeadingEntry] = field(default_factory=list)
    link_lists: list[LinkList] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def inline_cell(token: Token) -> Cell:
    """Flatten an inline token into text and links (HTML tags dropped, code kept as text)."""
    parts: list[str] = []
    links: list[Link] = []
    bold = False
    href: str | None = None
    link_text: list[str] = []
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
            if href is not None:
                link_text.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind == "strong_open":
            bold = True
        elif kind == "link_open":
            href = str(child.attrs.get("href", ""))
            link_text = []
        elif kind == "link_close" and href is not None:
            links.append(Link(" ".join(link_text).strip(), href))
            href = None
        elif kind == "html_inline" and re.match(r"<br\s*/?>", child.content, re.I):
            parts.append(" ")
    text = re.sub(r"\s+", " ", "".join(parts)).strip()
    return Cell(text, tuple(links), bold)


def _line(token: Token) -> int:
    return (token.map[0] + 1) if token.map else 0


def parse_document(text: str) -> Document:
    """Parse markdown text into tables, heading entries, link lists and numbered references."""
    tokens = _parser().parse(text)
    lines = text.splitlines()
    doc = Document(title="")
    headings: list[tuple[int, str]] = []
    current_entry: HeadingEntry | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            cell = inline_cell(tokens[i + 1])
            headings = [(lvl, name) for lvl, name in headings if lvl < level]
            section = tuple(name for _, name in headings)
            headings.append((level, cell.text))
            if not doc.title and level == 1:
                doc.title = cell.text
            current_entry = None
            if cell.links and _is_entry_heading(cell):
                current_entry = HeadingEntry(section, _line(tok), level, cell, raw=_raw(lines, tok))
                doc.heading_entries.append(current_entry)
            i += 3
            continue
        section = tuple(name for _, name in headings)
        if tok.type == "table_open":
            table, i = _read_table(tokens, i, section, lines)
            doc.tables.append(table)
            continue
        if tok.type == "blockquote_open":
            j, cells = _collect_inlines(tokens, i, "blockquote_close")
            if current_entry is not None:
                current_entry.quotes.extend(cells)
            i = j
            continue
        if tok.type == "bullet_list_open":
            j, cells = _collect_inlines(tokens, i, "bullet_list_close")
            if current_entry is not None:
                current_entry.bullets.extend(cells)
            else:
                items = tuple(LinkItem(line, cell, lines[line - 1].strip() if line else "")
                              for line, cell in _inline_lines(tokens, i, j) if cell.links)
                if items:
                    doc.link_lists.append(LinkList(section, _line(tok), items))
            i = j
            continue
        if tok.type == "paragraph_open":
            cell_text = tokens[i + 1].content.strip()
            note = REFERENCE_NOTE.match(cell_text)
            if note and note.group(2).strip():
                doc.references[note.group(1)] = re.sub(r"\s+", " ", note.group(2)).strip()
            elif current_entry is not None and cell_text:
                current_entry.bullets.append(inline_cell(tokens[i + 1]))
            i += 3
            continue
        i += 1
    return doc


def _is_entry_heading(cell: Cell) -> bool:
    """A heading whose text is essentially one link names a dataset (the heading-per-dataset style)."""
    link = cell.links[0]
    return link.href.startswith(("http://", "https://")) and len(link.text) >= len(cell.text) - 2


def _raw(lines: list[str], tok: Token) -> str:
    if not tok.map:
        return ""
    return "\n".join(lines[tok.map[0] : tok.map[1]]).strip()


def _inline_lines(tokens: list[Token], start: int, end: int) -> list[tuple[int, Cell]]:
    """(line, cell) for every inline token between two token positions."""
    return [(_line(t), inline_cell(t)) for t in tokens[start:end] if t.type == "inline"]


def _collect_inlines(tokens: list[Token], start: int, closer: str) -> tuple[int, list[Cell]]:
    """Inline cells up to the matching closing token (nesting counted)."""
    opener = tokens[start].type
    depth = 0
    cells: list[Cell] = []
    i = start
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == opener:
            depth += 1
        elif tok.type == closer:
            depth -= 1
            if depth == 0:
                return i + 1, cells
        elif tok.type == "inline":
            cells.append(inline_cell(tok))
        i += 1
    return i, cells


def _read_table(
    tokens: list[Token], start: int, section: tuple[str, ...], lines: list[str]
) -> tuple[Table, int]:
    header: list[Cell] = []
    rows: list[Row] = []
    current: list[Cell] | None = None
    row_line = 0
    in_head = False
    i = start + 1
    while tokens[i].type != "table_close":
        tok = tokens[i]
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            current = []
            row_line = _line(tok)
        elif tok.type == "tr_close" and current is not None:
            if in_head:
                header = current
            else:
                raw = lines[row_line - 1] if 0 < row_line <= len(lines) else ""
                rows.append(Row(row_line, tuple(current), raw.strip()))
            current = None
        elif tok.type == "inline" and current is not None:
            current.append(inline_cell(tok))
        i += 1
    table = Table(section, _line(tokens[start]), tuple(header), tuple(rows))
    return table, i + 1


def iter_rows(doc: Document) -> Iterator[tuple[Table, Row]]:
    for table in doc.tables:
        for row in table.rows:
            yield table, row
