"""The fast markdown path (inline parsing only where markup may be, big files part by part)
reads exactly what the reference path (markdown-it on the whole file, every inline run) reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token

from medkg.build import _SourceReader, collect_sources
from medkg.chunking import SWALLOWING_BLOCKS, chunks, runs_to_end
from medkg.config import load_settings
from medkg.extract import Extractor, extract, extract_parts
from medkg.markdown import (
    CELL_TOKENS,
    PLAIN_URL,
    PLAIN_URL_MAX,
    _block_parser,
    _escaped_split,
    _parser,
    _table_rule,
    parse_document,
    parse_parts,
    split_row,
)
from medkg.sources import read_source

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
MARKDOWN_FILES = sorted([*(ROOT / "data" / "sources").glob("*.md"), *FIXTURES.rglob("*.md")])

TRICKY = """# Title

Intro with *emphasis*, `code`, a \\[escaped\\] bracket, &amp; an entity, <https://auto.link>
and a hard  
break, and a [reference link][ref].

## Fenced

```
# not a heading: inside a fence
```

~~~~ text
## still code
~~~

# also code, the tilde fence needs four
~~~~

<div>
# inside an HTML block
</div>

<!-- a comment
# inside a comment
-->

- a list item
  ```
  # code in a list item, fence left open
# Closes the list item and its fence

| Dataset | Description | Links |
|---|---|---|
| [A](https://a.example/) | plain text cell | [web](https://a.example/) |
| B \\| C | *bold* and **strong** <br> line | <a href="x">html</a> |
| D&eacute; | `code` with_underscore | ![img](https://i.example/i.png) |

### [Heading Set](https://h.example/)

> [1] a quoted note, see 10.1234/abc

* **Lung**
* plain fact, 2019

[1] A numbered note.

[ref]: https://ref.example/
"""


def _paths_agree(text: str) -> None:
    full = parse_document(text, lazy=False)
    assert parse_document(text) == full
    assert parse_document(text, chunk_chars=0) == full  # cut before every heading it may


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda p: p.name)
def test_every_list_and_fixture_reads_the_same_on_both_paths(path: Path) -> None:
    _paths_agree(path.read_text(encoding="utf-8"))


def test_markup_fences_html_and_references_read_the_same() -> None:
    _paths_agree(TRICKY)
    _paths_agree(TRICKY.replace("[ref]: https://ref.example/\n", ""))  # now cut into parts


def test_fences_and_html_blocks_are_not_cut_open() -> None:
    text = TRICKY.replace("[ref]: https://ref.example/\n", "")
    doc = parse_document(text, chunk_chars=0)
    sections = {t.section for t in doc.tables}
    assert sections == {("Closes the list item and its fence",)}  # no heading from a fence or HTML
    assert [e.title.text for e in doc.heading_entries] == ["Heading Set"]


def test_a_big_list_is_parsed_in_parts_with_file_line_numbers() -> None:
    rows = "\n".join(f"| Set{i} | text {i} |" for i in range(50))
    sections = "".join(f"\n## Part {p}\n\n| Dataset | Description |\n|---|---|\n{rows}\n"
                       for p in range(6))
    text = f"# Big\n{sections}"
    assert len(list(chunks(text, 2000))) > 2
    doc = parse_document(text, chunk_chars=2000)
    assert doc == parse_document(text, lazy=False)
    lines = text.splitlines()
    for table in doc.tables:
        for row in table.rows:
            assert lines[row.line - 1].strip() == row.raw


def test_records_of_the_real_lists_are_identical_on_both_paths() -> None:
    settings = load_settings(home=ROOT, store=ROOT / ".unused-store")
    reader = _SourceReader(settings)
    total = 0
    for source in collect_sources(settings):
        text = read_source(source).text
        slow = extract(source, parse_document(text, lazy=False), reader.vocab, reader.rules,
                       reader.ns)
        fast = extract(source, parse_document(text, chunk_chars=0), reader.vocab, reader.rules,
                       reader.ns)
        parts = extract_parts(source, parse_parts(text, chunk_chars=0), reader.vocab,
                              reader.rules, reader.ns)
        assert fast == slow and parts == slow
        assert reader.read(source).records == slow[0]  # what the build reads
        total += len(slow[0])
    assert total == 617


def test_parts_give_the_records_of_the_whole_document(tmp_path: Path) -> None:
    """Notes cited before they are written, a title after the first table, skips of every kind."""
    rows = "\n".join(f"| Set{i} [1] | CT of the lung {i} |" for i in range(30))
    table = f"| Dataset | Description |\n|---|---|\n{rows}\n"
    text = (f"## Before the title\n\n{table}\n# The Title\n\n## Chest\n\n{table}\n"
            f"## Loss Functions\n\n| Name | Formula |\n|---|---|\n| Dice | 2x |\n\n"
            f"## Links\n\n- [Bare](https://bare.example/)\n- [Set](https://set.example/): a lung CT"
            f" set of many scans\n\n### [Heading Set](https://h.example/)\n\n- CT of the liver\n\n"
            f"## Notes\n\n[1] Doe, J. A cited note.\n")
    settings = load_settings(home=ROOT, store=tmp_path / "store")
    reader = _SourceReader(settings)
    source = collect_sources(settings)[0]
    whole = extract(source, parse_document(text, lazy=False), reader.vocab, reader.rules, reader.ns)
    assert len(list(parse_parts(text, chunk_chars=0))) == 7
    parts = extract_parts(source, parse_parts(text, chunk_chars=0), reader.vocab, reader.rules,
                          reader.ns)
    assert parts == whole
    assert whole[0][0].citations == ["Doe, J. A cited note."]
    assert len(whole[1]) >= 2  # the loss-function row and the bare link


CELL_TEXT = st.text(alphabet="ab #*_`[]()<>&!\\~-|:/.\n", max_size=30)
URL = st.builds(lambda scheme, rest: scheme + rest,
                st.sampled_from(["https://", "http://Ex.ORG/", "javascript:", "./", "#", "mailto:"]),
                st.text(alphabet="aZ09-._~:/?#@!$'()*+,;=%é ", max_size=20))
LINK_TEXT = st.builds(lambda before, label, url, after: f"{before}[{label}]({url}){after}",
                      st.text(alphabet="ab ,;-!(", max_size=5), st.text(alphabet="ab -!.", max_size=8),
                      URL, st.text(alphabet="ab ,)-", max_size=5))

# bare URLs in running text (read as links on both paths), with markup around and inside them
BARE_TEXT = st.builds(lambda before, url, after: f"{before}{url}{after}",
                      st.text(alphabet="ab :(*_", max_size=4),
                      st.sampled_from(["https://a.example/x", "http://b.example/(y)",
                                       "www.c.example", "https://d.example/a_b*c*",
                                       "https://e.example/?q=1&r"]),
                      st.text(alphabet="ab .,):*[]<", max_size=4))


@settings(max_examples=300, deadline=None)
@given(st.lists(CELL_TEXT | LINK_TEXT | BARE_TEXT, min_size=1, max_size=12))
def test_any_text_reads_the_same_on_both_paths(pieces: list[str]) -> None:
    one_line = [p.replace("\n", " ") for p in pieces]
    rows = "".join(f"| {p} | {q} |\n" for p, q in zip(one_line, reversed(one_line)))
    bullets = "".join(f"- {p}\n" for p in one_line)
    paragraphs = "\n\n".join(pieces)
    text = (f"# T\n\n| Dataset | Description |\n|---|---|\n{rows}\n"
            f"### [Set](https://s.example/)\n\n{bullets}\n{paragraphs}\n\n## Links\n\n{bullets}")
    _paths_agree(text)


ROW_TEXT = st.text(alphabet="a |\\`-:*", max_size=40)


@settings(max_examples=500, deadline=None)
@given(ROW_TEXT)
def test_the_fast_row_split_is_markdown_its_split(line: str) -> None:
    assert split_row(line) == _escaped_split(line)


def test_the_fast_table_rule_builds_the_tokens_of_markdown_its_own() -> None:
    """The reference parser's block tokens but the cell open and close ones (tables interrupting
    paragraphs included); only the levels inside a cell differ, which nothing reads."""
    text = (TRICKY + "A paragraph\n| a | b |\n|---|:-:|\n| x \\| y | `z|w` |\n| 1 |\n> quote\n"
            "\n| h |\n|---|\n| [l](https://l.example/) |\n    | code |\n")
    reference = _parser()
    reference.core.ruler.disable("inline")
    fast = _block_parser().parse(text, {})
    expected = reference.parse(text, {})
    assert {"td_open", "th_close"} <= {t.type for t in expected}  # markdown-it's own keeps them
    assert [_but_level(t) for t in fast] == [_but_level(t) for t in expected
                                             if t.type not in CELL_TOKENS]


def _but_level(token: Token) -> dict[str, object]:
    fields = token.as_dict()
    del fields["level"]
    return fields


def test_the_table_rule_leaves_the_parsers_state_as_it_found_it() -> None:
    md = _block_parser()
    state = StateBlock("| a | b |\n|---|---|\n| 1 | 2 |\n", md, {}, [])
    assert _table_rule()(state, 0, state.lineMax, False)
    assert "push" not in vars(state)  # markdown-it's own push again, for the next rules
    assert [t.type for t in state.tokens] == [
        "table_open", "thead_open", "tr_open", "inline", "inline", "tr_close", "thead_close",
        "tbody_open", "tr_open", "inline", "inline", "tr_close", "tbody_close", "table_close"]
    assert state.level == 0


class _FixedState(StateBlock):
    """A parser state that takes no attribute of its own, as a slotted one would not."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "push":
            raise AttributeError(name)
        super().__setattr__(name, value)


def test_a_state_that_takes_no_push_of_its_own_gets_every_token() -> None:
    text = "| a | b |\n|---|:-:|\n| 1 | 2 |\n"
    state = _FixedState(text, _block_parser(), {}, [])
    assert _table_rule()(state, 0, state.lineMax, False)
    reference = _parser()
    reference.core.ruler.disable("inline")
    assert state.tokens == reference.parse(text, {})


PLAIN_URL_TEXT = st.builds(
    lambda scheme, host, rest: scheme + host + rest,
    st.sampled_from(["https://", "http://", "", "//", "HTTPS://", "mailto:", "./"]),
    st.text(alphabet="ab0-.:@[]é", max_size=12),
    st.text(alphabet="aZ09-._~/?#=%&+:;@!$'()*, é", max_size=20),
)


@settings(max_examples=2000, deadline=None)
@given(PLAIN_URL_TEXT)
def test_urls_taken_as_they_are_are_the_ones_normalize_link_leaves_unchanged(url: str) -> None:
    if len(url) <= PLAIN_URL_MAX and PLAIN_URL.fullmatch(url):
        assert _parser().normalizeLink(url) == url


def test_typical_list_urls_are_taken_as_they_are() -> None:
    md = _parser()
    for url in ("https://data.example.org/qulodu-db-0", "https://doi.org/10.5555/qulodu-db-0",
                "./resources/qulodu-db-0.md", "https://a-b.example.com/x/y_z.html?id=3#top",
                "https://arxiv.org/abs/2101.00001", "https://github.com/org/repo"):
        assert PLAIN_URL.fullmatch(url) and md.normalizeLink(url) == url
    long_host = "https://" + "a" * 60 + ("." + "a" * 60) * 4 + "/"
    assert md.normalizeLink(long_host) != long_host and len(long_host) > PLAIN_URL_MAX


class _Forgetful(dict):  # type: ignore[type-arg]
    """A cache that keeps nothing: every concept cell is read afresh."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


def test_concept_cells_read_once_give_the_records_of_cells_read_every_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(home=ROOT, store=ROOT / ".unused-store")
    reader = _SourceReader(settings)
    cached = [reader.read(source) for source in collect_sources(settings)]
    init = Extractor.__init__

    def forgetful_init(self: Extractor, *args: object) -> None:
        init(self, *args)  # type: ignore[arg-type]
        self._concept_cells = _Forgetful()

    monkeypatch.setattr(Extractor, "__init__", forgetful_init)
    fresh = [reader.read(source) for source in collect_sources(settings)]
    assert [r.records for r in fresh] == [r.records for r in cached]
    assert [r.skips for r in fresh] == [r.skips for r in cached]
    assert sum(len(r.records) for r in cached) == 617


def test_repeated_plain_cells_read_as_the_first_time() -> None:
    """Remembered plain cells: the same text in many rows and parts, beside marked-up text."""
    cells = ["lung", " lung ", "-", "lung  CT", "lung\u00a0CT", "*lung*",
             "[lung](https://l.example/)"]
    rows = "\n".join(f"| Set{i} | {cells[i % len(cells)]} | {cells[-i % len(cells)]} |"
                     for i in range(60))
    text = "".join(f"## Part {p}\n\n| Dataset | Organ | Modality |\n|---|---|---|\n{rows}\n\n"
                   for p in range(3))
    _paths_agree(text)
    doc = parse_document(text, chunk_chars=0)
    texts = {row.cells[1].text for table in doc.tables for row in table.rows}
    assert texts == {"lung", "-", "lung CT"}  # the no-break space folded, the markup read


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="#`~<>/ab \n-|", max_size=60))
def test_parts_without_fence_or_tag_characters_are_not_walked_for_nothing(text: str) -> None:
    tokens = _block_parser().parse(text, {})
    last = text.count("\n")
    walked = any(t.type in SWALLOWING_BLOCKS and t.map is not None and t.map[1] >= last
                 for t in tokens)
    assert runs_to_end(tokens, text) == walked
