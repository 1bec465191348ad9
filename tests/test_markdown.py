"""The markdown reader: tables with line numbers, heading entries, references, link lists."""

from __future__ import annotations

from pathlib import Path

from medkg.markdown import Link, parse_document

SOURCES = Path(__file__).parent / "fixtures" / "mini" / "data" / "sources"


def read(name: str):
    return parse_document((SOURCES / name).read_text(encoding="utf-8"))


def test_tables_keep_sections_and_file_lines() -> None:
    doc = read("tables.md")
    assert doc.title == "Tiny Imaging Datasets"
    first = doc.tables[0]
    assert first.section == ("Tiny Imaging Datasets", "Imaging", "Chest")
    assert [c.text for c in first.header][:2] == ["Dataset", "Description"]
    lines = (SOURCES / "tables.md").read_text(encoding="utf-8").splitlines()
    for row in first.rows:
        assert lines[row.line - 1].strip() == row.raw
    assert first.rows[0].raw.startswith("| [LungAlpha]")


def test_table_inside_details_block_is_read() -> None:
    doc = read("tables.md")
    names = [r.cells[0].text for t in doc.tables for r in t.rows]
    assert "LungAlpha" in names and "BreastBeta" in names


def test_cells_keep_links_and_bold() -> None:
    row = read("tables.md").tables[0].rows[0]
    name, description, website = row.cells[0], row.cells[1], row.cells[2]
    assert name.links[0].href == "./resources/LungAlpha.md"
    assert description.bold and "lung" in description.text
    assert website.links[0].href == "https://lungalpha.grand-challenge.org/"


def test_placeholder_link_target_is_kept_verbatim() -> None:
    rows = read("tables.md").tables[0].rows
    placeholder = [r for r in rows if r.cells[0].text == "Placeholder Set"][0]
    assert not placeholder.cells[2].links[0].href.startswith("http")


def test_pipe_tables_without_leading_pipes_and_references() -> None:
    doc = read("numbered.md")
    table = doc.tables[0]
    assert [c.text for c in table.header][-1] == "year"
    assert table.rows[0].cells[0].text == "Breast-Beta [1a], [1b]"
    assert doc.references["1a"].startswith("Doe, Jane")
    assert set(doc.references) == {"1a", "1b", "2"}


def test_heading_entries_carry_quotes_and_bullets() -> None:
    doc = read("headings.md")
    names = [e.title.links[0].text for e in doc.heading_entries]
    assert names == ["ZetaCyto", "Breast Beta", "EtaSmear"]
    zeta = doc.heading_entries[0]
    assert zeta.line == 4 and zeta.level == 3
    assert "doi: 10.17632/abcd1234.2" in zeta.quotes[0].text
    assert zeta.bullets[0].bold and zeta.bullets[0].text == "Cervical Cancer"
    assert doc.heading_entries[2].section[-1] == "Client/Plugin or Request Needed"


def test_empty_document_has_nothing() -> None:
    doc = parse_document("")
    assert doc.tables == [] and doc.heading_entries == [] and doc.title == ""


def test_line_numbers_count_line_feeds_only() -> None:
    # form feed, vertical tab, U+2028 and U+2029 inside rows are not line breaks in markdown
    text = ("# T\n\n| Dataset | Notes |\n|---|---|\n"
            "| One | a\x0cb\x0bc |\n| Two | d\u2028e\u2029f |\n| Three | g |\n")
    for lazy in (True, False):
        rows = parse_document(text, lazy=lazy).tables[0].rows
        assert [(r.line, r.cells[0].text) for r in rows] == [(5, "One"), (6, "Two"), (7, "Three")]
        assert "Three" in rows[2].raw and "Two" in rows[1].raw


NEW_LISTS = Path(__file__).parent / "fixtures" / "new-lists"


def test_html_anchors_and_bare_urls_are_links_on_both_paths() -> None:
    text = (NEW_LISTS / "plain-url-atlas.md").read_text(encoding="utf-8")
    for lazy in (True, False):
        items = {i.line: i for lst in parse_document(text, lazy=lazy).link_lists for i in lst.items}
        fundus = items[7].cell.links
        assert fundus[0] == Link("Fundus Quartz", "https://example.org/fundus-quartz?v=1&s=2")
        assert fundus[1].href == "https://pubmed.ncbi.nlm.nih.gov/00000001"
        assert items[11].cell.links == (Link("OCT Pebble", "https://example.org/oct-pebble"),)
        # a bare URL ends before the sentence's own punctuation
        assert [lk.href for lk in items[17].cell.links] == ["https://example.org/knee-slate"]
        assert items[16].lead == "Plain Retina Set (OCT, fundus)"
        assert items[18].cell.links == ()  # kept, to be reported
