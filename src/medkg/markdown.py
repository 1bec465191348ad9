"""Read a markdown list into blocks: tables, heading entries, reference notes and link lists.

A real CommonMark parser (markdown-it-py with GFM tables) does the tokenising; this module only
walks its tokens and keeps what the later steps need: each block's section (the headings above
it) and the 1-based line where each row or heading stands in the file.

For speed on big lists (a million rows), the default path runs markdown-it's block parser, then
its inline parser only on text that may hold markup, and reads a large file part by part
(`parse_parts`, cut at headings by medkg.chunking); `parse_document(text, lazy=False)` is the
plain reference path, and tests check the two give equal documents.
"""

from __future__ import annotations

import html
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.normalize_url import normalizeLink
from markdown_it.rules_block import table as markdown_it_table
from markdown_it.token import Token

from medkg.chunking import chunks, runs_to_end

REFERENCE_NOTE = re.compile(r"^\[(\d+[a-z]?)\]\s*(.*)$", re.S)


@dataclass(frozen=True, slots=True)
class Link:
    """A hyperlink as written: its text and its target."""

    text: str
    href: str


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell or inline run: plain text plus the links inside it."""

    text: str
    links: tuple[Link, ...] = ()
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    cells: tuple[Cell, ...]
    raw: str


@dataclass(frozen=True, slots=True)
class Table:
    section: tuple[str, ...]
    line: int
    header: tuple[Cell, ...]
    rows: tuple[Row, ...]


@dataclass(slots=True)
class HeadingEntry:
    """A heading that names one dataset, with the quote and bullets under it."""

    section: tuple[str, ...]
    line: int
    level: int
    title: Cell
    quotes: list[Cell] = field(default_factory=list)
    bullets: list[Cell] = field(default_factory=list)
    raw: str = ""


@dataclass(frozen=True, slots=True)
class LinkItem:
    """One bullet that starts with a link: '[Name](url): what it is'."""

    line: int
    cell: Cell
    raw: str

    def _first_link_at(self) -> int:
        """Where the first link's text starts in the item's text (-1: not found, or no link)."""
        if not self.cell.links:
            return -1
        return self.cell.text.find(self.cell.links[0].text)

    @property
    def lead(self) -> str:
        """The text before the first link: a name written out, as in 'Name: https://...'."""
        at = self._first_link_at()
        return self.cell.text[:at].rstrip(" :-–—|[(").lstrip(" [") if at > 0 else ""

    @property
    def rest(self) -> str:
        """The text after the first link, without the separator."""
        at = self._first_link_at()
        first = self.cell.links[0].text if self.cell.links else ""
        text = self.cell.text[at + len(first):] if at >= 0 else self.cell.text
        return text.lstrip(" ])").strip(" :-–—|").strip()


@dataclass(frozen=True, slots=True)
class LinkList:
    """A bullet list with links in its items (datasets, or platforms and tables of contents).

    Its items without a link are kept too, so that the build can report them.
    """

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


# Characters that can start inline markup under the rules enabled here: line break, backslash
# escape, code span, emphasis, link, image, autolink or raw HTML, entity. Text without any of them
# comes out of markdown-it's inline parser as one text token equal to itself.
INLINE_MARKUP = re.compile(r"[\n\\`*_\[!<&]")
WHITESPACE = re.compile(r"\s+")
# '[text](url)' with nothing in the text or url that markdown-it would read as markup or escape
SIMPLE_LINK = re.compile(r"\[([^\n\\`*_\[\]!<&]*)\]\(([^\s()<>\\`&\[\]\x00-\x1f\x7f]+)\)")
BREAK_TAG = re.compile(r"<br\s*/?>", re.I)
# Lists written as HTML: '<a href="url">Name</a>' opens a link like '[Name](url)' does
ANCHOR_OPEN = re.compile(r"""<a\s[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)
ANCHOR_CLOSE = re.compile(r"</a\s*>", re.I)
# A bare URL in running text, as GFM's extended autolinks read it ('www.' names an http host);
# trailing punctuation is the sentence's, not the URL's
BARE_URL = re.compile(r"(?<![\w/.@])(?:https?://|www\.)[^\s<>]+", re.I)
URL_TRAILING = ".,:;!?*_~'\""
# URLs that markdown-it's normalizeLink returns unchanged: an http(s) scheme and a lower-case
# ASCII host (nothing for punycode to encode, no port, user or IPv6 brackets), then characters
# that mdurl neither escapes nor reads as a new part; no leading '//' (read as a host).
# tests/test_markdown_lazy.py checks these against normalizeLink itself.
PLAIN_URL = re.compile(r"(?:https?://[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*(?![^/?#]))?(?!//)"
                       r"[A-Za-z0-9._~/-]*(?:\?[A-Za-z0-9._~/=-]*)?(?:#[A-Za-z0-9._~/=-]*)?")
PLAIN_URL_MAX = 250  # below mdurl's 255-character limit on host names
# Plain cells up to this length are remembered: lists repeat organ, stain, modality and '-' cells.
PLAIN_CELL_CHARS = 64
PLAIN_CELLS = 50_000  # distinct plain cells remembered at most (the memo is emptied when full)
# Lists larger than this are parsed a few sections at a time, so no whole-file token tree is held.
CHUNK_CHARS = 1 << 20


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _block_parser() -> MarkdownIt:
    """The same parser without the core inline step: inline tokens keep only their source text.

    Its table rule is markdown-it's own (see `_table_rule`), with a faster row split and
    without the cell tokens this module never reads.
    """
    md = _parser()
    md.core.ruler.disable("inline")
    # text_join only joins the children of inline tokens, which stay empty without the inline
    # step; it would walk every token of the part for nothing
    md.core.ruler.disable("text_join")
    # "alt": a table may interrupt a paragraph or a reference, as in markdown-it's parser_block
    md.block.ruler.at("table", _table_rule(), {"alt": ["paragraph", "reference"]})
    return md


# markdown-it's own row split, where its table module has one by that name (3.x and 4.x do)
_escaped_split: Callable[[str], list[str]] | None = markdown_it_table.__globals__.get(
    "escapedSplit"
)


def split_row(line: str) -> list[str]:
    """markdown-it's split of a table row at its pipes, without its per-character loop where it can.

    escapedSplit keeps a pipe after a backslash (and drops the backslash); markdown-it versions
    before 13 also kept pipes inside backtick code spans. A row with neither character splits at
    every pipe, which str.split does at C speed (the loop took a third of a big table's block
    parse). tests/test_markdown_lazy.py compares the two.
    """
    if "\\" in line or "`" in line:
        assert _escaped_split is not None  # `_table_rule` calls this only when it exists
        return _escaped_split(line)
    return line.split("|")


def _table_rule() -> Callable[..., bool]:
    """markdown-it's table rule, the same code, with `split_row` for the escapedSplit it calls,
    and without the cell tokens the walker never reads (see `_without_cell_tokens`).

    The function is rebuilt over a copy of its module's globals, so markdown-it itself (the
    reference parser, other users in the process) is left as it is. A markdown-it whose table
    module has no `escapedSplit` keeps its own row split: slower, never different.
    """
    rule = markdown_it_table
    if _escaped_split is not None:
        namespace = {**rule.__globals__, "escapedSplit": split_row}
        rule = types.FunctionType(rule.__code__, namespace, rule.__name__, rule.__defaults__,
                                  rule.__closure__)
    return _without_cell_tokens(rule)


# The tokens around each cell: a ten-column row is 32 tokens, 20 of them these. The walker reads
# a row's tr_open and tr_close and its cells' inline tokens only.
CELL_TOKENS = frozenset({"th_open", "th_close", "td_open", "td_close"})


def _without_cell_tokens(rule: Callable[..., bool]) -> Callable[..., bool]:
    """The table rule, its cell open and close tokens left out of the token stream.

    Making them was about a sixth of a big table's block parse. They open and close in pairs,
    so the levels of the other tokens only shift inside a cell, and nothing here reads a level.
    The rule still sets their alignment: on a scratch token that is then dropped. A state that
    takes no attribute of its own gets every token, as markdown-it's rule makes them.
    """
    def table(state: Any, start: int, end: int, silent: bool) -> bool:
        if silent:  # asked only whether a table starts here: no tokens
            return rule(state, start, end, silent)
        push = state.push
        scratch = Token("", "", 0)

        def push_kept(kind: str, tag: str, nesting: int) -> Token:
            return scratch if kind in CELL_TOKENS else push(kind, tag, nesting)

        try:
            state.push = push_kept  # this state only, for this call
        except AttributeError:
            return rule(state, start, end, silent)
        try:
            return rule(state, start, end, silent)
        finally:
            del state.push
    return table


def inline_cell(token: Token) -> Cell:
    """Flatten an inline token into text and links (HTML tags dropped, code kept as text)."""
    return _flatten(token.children or [])


def bare_urls(text: str) -> list[Link]:
    """The bare http(s) and 'www.' URLs in plain text, as links whose text is the URL itself.

    As in GFM, trailing punctuation ends the sentence, not the URL, and a closing parenthesis
    belongs to the URL only when it closes one opened inside it.
    """
    links: list[Link] = []
    for match in BARE_URL.finditer(text):
        url = match.group(0)
        while url and (url[-1] in URL_TRAILING
                       or (url[-1] == ")" and url.count(")") > url.count("("))):
            url = url[:-1]
        href = url if url.lower().startswith("http") else "http://" + url
        if "." in url:
            links.append(Link(url, normalizeLink(href)))
    return links


def _anchor_href(tag: str) -> str | None:
    """The target of an HTML '<a href=...>' opening tag (entities decoded), else None."""
    match = ANCHOR_OPEN.match(tag)
    if match is None:
        return None
    return normalizeLink(html.unescape(next(g for g in match.groups() if g is not None)).strip())


def _flatten(children: list[Token]) -> Cell:
    parts: list[str] = []
    links: list[Link] = []
    bold = False
    href: str | None = None
    link_text: list[str] = []
    plain: list[str] = []  # text outside links since the last other token: may hold bare URLs
    for child in children:
        kind = child.type
        if kind == "text" and href is None:
            parts.append(child.content)
            plain.append(child.content)
            continue
        if plain:
            links.extend(bare_urls("".join(plain)))
            plain = []
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
        elif kind == "html_inline" and BREAK_TAG.match(child.content):
            parts.append(" ")
        elif kind == "html_inline" and href is None and (target := _anchor_href(child.content)):
            href = target
            link_text = []
        elif kind == "html_inline" and href is not None and ANCHOR_CLOSE.match(child.content):
            links.append(Link(" ".join(link_text).strip(), href))
            href = None
    if plain:
        links.extend(bare_urls("".join(plain)))
    text = WHITESPACE.sub(" ", "".join(parts)).strip()
    return Cell(text, tuple(links), bold)


class _InlineReader:
    """Turns inline tokens into cells, running the inline parser only where markup may be.

    With `lazy`, the tokens come from the block parser alone: text without a markup character
    is taken as it is, text whose only markup is plain '[text](url)' links is read directly,
    and the rest goes through the same inline parser (with the document's link reference
    definitions in `env`) that a full parse would have run.
    """

    def __init__(self, lazy: bool, env: dict[str, Any]):
        self.lazy = lazy
        self.env = env
        self.md = _parser()
        # a plain cell depends on its text alone (no markup, so no env): short ones are shared
        self._plain: dict[str, Cell] = {}

    def cell(self, token: Token) -> Cell:
        if not self.lazy:
            return inline_cell(token)
        content = token.content
        cell = self._plain.get(content)
        if cell is not None:
            return cell
        if INLINE_MARKUP.search(content) is None:
            cell = Cell(WHITESPACE.sub(" ", content).strip(), tuple(bare_urls(content)))
            if len(content) <= PLAIN_CELL_CHARS:
                if len(self._plain) >= PLAIN_CELLS:
                    self._plain.clear()
                self._plain[content] = cell
            return cell
        return self._plain_links(content) or inline_cell(self.md.parseInline(content, self.env)[0])

    def _plain_links(self, content: str) -> Cell | None:
        """Plain text and '[text](url)' links only: the cell markdown-it would give, else None.

        The url is normalised and checked by markdown-it's own functions, as its link rule does.
        """
        parts: list[str] = []
        links: list[Link] = []
        end = 0
        for match in SIMPLE_LINK.finditer(content):
            before = content[end : match.start()]
            if INLINE_MARKUP.search(before):
                return None
            href = _normalize_link(self.md, match.group(2))
            if not self.md.validateLink(href):
                return None  # markdown-it reads no link here
            label = match.group(1)
            parts += (before, label)
            links += bare_urls(before)
            links.append(Link(label.strip(), href))
            end = match.end()
        if INLINE_MARKUP.search(content, end):
            return None
        parts.append(content[end:])
        links += bare_urls(content[end:])
        return Cell(WHITESPACE.sub(" ", "".join(parts)).strip(), tuple(links))


def _normalize_link(md: MarkdownIt, url: str) -> str:
    """md.normalizeLink(url), skipped for the plain URLs it leaves unchanged (about 10 µs each)."""
    if len(url) <= PLAIN_URL_MAX and PLAIN_URL.fullmatch(url):
        return url
    return md.normalizeLink(url)


def source_lines(text: str) -> list[str]:
    """The text's lines as markdown-it numbers them: split at line feeds only.

    `str.splitlines` also splits at form feeds, U+2028 and the like, which would shift every
    line number after one (markdown-it turns \r\n and \r into \n before it counts).
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse_document(text: str, lazy: bool = True, chunk_chars: int = CHUNK_CHARS) -> Document:
    """Parse markdown text into tables, heading entries, link lists and numbered references.

    `lazy=False` is the reference path: markdown-it parses every inline run and the whole file
    at once. The default reads the same blocks with inline parsing only where markup may be,
    and a file over `chunk_chars` a few sections at a time (`parse_parts`); tests check both
    paths give equal documents.
    """
    if not lazy:
        walker = _Walker(source_lines(text))
        env: dict[str, Any] = {}
        walker.inline = _InlineReader(False, env)
        walker.feed(_parser().parse(text, env), 0)
        return walker.doc
    doc = Document(title="")
    for part in parse_parts(text, chunk_chars):
        doc.tables += part.tables
        doc.heading_entries += part.heading_entries
        doc.link_lists += part.link_lists
        doc.title, doc.references = part.title, part.references
    return doc


def parse_parts(text: str, chunk_chars: int = CHUNK_CHARS) -> Iterator[Document]:
    """The document part by part (see medkg.chunking): each part's blocks, with the title and
    the reference notes read so far (one dict, complete once the last part is out).

    Only one part's tokens and blocks need be alive at a time: what `parse_document` gives is
    the concatenation of the parts.
    """
    walker = _Walker(source_lines(text))
    for offset, tokens, env in _parsed_parts(_block_parser(), text, chunk_chars):
        walker.inline.env = env  # the part's link reference definitions
        walker.feed(tokens, offset)
        yield walker.take()


def _parsed_parts(md: MarkdownIt, text: str,
                  chunk_chars: int) -> Iterator[tuple[int, list[Token], dict[str, Any]]]:
    """(line offset, block tokens, env) of each part; a part whose last block may go on into
    the next part (a fence or HTML block) is parsed again joined with it."""
    parts = list(chunks(text, chunk_chars))
    held: tuple[int, str] | None = None
    for index, (offset, part) in enumerate(parts):
        if held is not None:
            offset, part = held[0], held[1] + part
        env: dict[str, Any] = {}
        tokens = md.parse(part, env)
        if index < len(parts) - 1 and runs_to_end(tokens, part):
            held = (offset, part)
            continue
        held = None
        yield offset, tokens, env


class _Walker:
    """Walks block tokens, chunk after chunk, into one Document (headings carry across chunks)."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.doc = Document(title="")
        self.headings: list[tuple[int, str]] = []
        self.current_entry: HeadingEntry | None = None
        self.inline = _InlineReader(True, {})
        self.offset = 0  # line number of the chunk's first line in the file

    def take(self) -> Document:
        """The blocks read since the last take, with the title and reference notes so far."""
        doc = self.doc
        part = Document(doc.title, doc.tables, doc.heading_entries, doc.link_lists, doc.references)
        doc.tables, doc.heading_entries, doc.link_lists = [], [], []
        return part

    def line(self, token: Token) -> int:
        return (token.map[0] + 1 + self.offset) if token.map else 0

    def raw(self, token: Token) -> str:
        if not token.map:
            return ""
        return "\n".join(self.lines[token.map[0] + self.offset : token.map[1] + self.offset]).strip()

    def feed(self, tokens: list[Token], offset: int) -> None:
        self.offset = offset
        doc = self.doc
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type == "heading_open":
                level = int(tok.tag[1])
                cell = self.inline.cell(tokens[i + 1])
                self.headings = [(lvl, name) for lvl, name in self.headings if lvl < level]
                section = tuple(name for _, name in self.headings)
                self.headings.append((level, cell.text))
                if not doc.title and level == 1:
                    doc.title = cell.text
                self.current_entry = None
                if cell.links and _is_entry_heading(cell):
                    self.current_entry = HeadingEntry(section, self.line(tok), level, cell,
                                                      raw=self.raw(tok))
                    doc.heading_entries.append(self.current_entry)
                i += 3
                continue
            section = tuple(name for _, name in self.headings)
            if tok.type == "table_open":
                table, i = self._read_table(tokens, i, section)
                doc.tables.append(table)
                continue
            if tok.type == "blockquote_open":
                j, cells = self._collect_inlines(tokens, i, "blockquote_close")
                if self.current_entry is not None:
                    self.current_entry.quotes.extend(cells)
                i = j
                continue
            if tok.type == "bullet_list_open":
                j, cells = self._collect_inlines(tokens, i, "bullet_list_close")
                if self.current_entry is not None:
                    self.current_entry.bullets.extend(cells)
                else:
                    # every item is kept once one has a link: the ones without are reported
                    items = tuple(LinkItem(line, cell, self.lines[line - 1].strip() if line else "")
                                  for line, cell in self._inline_lines(tokens, i, j) if cell.text)
                    if any(item.cell.links for item in items):
                        doc.link_lists.append(LinkList(section, self.line(tok), items))
                i = j
                continue
            if tok.type == "paragraph_open":
                cell_text = tokens[i + 1].content.strip()
                note = REFERENCE_NOTE.match(cell_text)
                if note and note.group(2).strip():
                    doc.references[note.group(1)] = WHITESPACE.sub(" ", note.group(2)).strip()
                elif self.current_entry is not None and cell_text:
                    self.current_entry.bullets.append(self.inline.cell(tokens[i + 1]))
                i += 3
                continue
            i += 1

    def _inline_lines(self, tokens: list[Token], start: int, end: int) -> list[tuple[int, Cell]]:
        """(line, cell) for every inline token between two token positions."""
        return [(self.line(t), self.inline.cell(t)) for t in tokens[start:end] if t.type == "inline"]

    def _collect_inlines(self, tokens: list[Token], start: int, closer: str) -> tuple[int, list[Cell]]:
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
                cells.append(self.inline.cell(tok))
            i += 1
        return i, cells

    def _read_table(self, tokens: list[Token], start: int, section: tuple[str, ...]) -> tuple[Table, int]:
        header: list[Cell] = []
        rows: list[Row] = []
        current: list[Cell] | None = None
        row_line = 0
        in_head = False
        lines = self.lines
        cell = self.inline.cell  # looked up once: a big table has hundreds of thousands of cells
        i = start + 1
        tok = tokens[i]
        while (kind := tok.type) != "table_close":
            # the commonest token types first: cells, then rows
            if kind == "inline":
                if current is not None:
                    current.append(cell(tok))
            elif kind == "tr_open":
                current = []
                row_line = self.line(tok)
            elif kind == "tr_close":
                if current is not None:
                    if in_head:
                        header = current
                    else:
                        raw = lines[row_line - 1] if 0 < row_line <= len(lines) else ""
                        rows.append(Row(row_line, tuple(current), raw.strip()))
                    current = None
            elif kind == "thead_open":
                in_head = True
            elif kind == "thead_close":
                in_head = False
            i += 1
            tok = tokens[i]
        table = Table(section, self.line(tokens[start]), tuple(header), tuple(rows))
        return table, i + 1


def _is_entry_heading(cell: Cell) -> bool:
    """A heading whose text is essentially one link names a dataset (the heading-per-dataset style)."""
    link = cell.links[0]
    return link.href.startswith(("http://", "https://")) and len(link.text) >= len(cell.text) - 2


def iter_rows(doc: Document) -> Iterator[tuple[Table, Row]]:
    for table in doc.tables:
        for row in table.rows:
            yield table, row
