"""Property tests of the markdown reader: it never crashes and accounts for every entry.

Generated documents mix headings (some naming a dataset by a link), tables under dataset and
non-dataset headers, link bullets and prose. Each table row with text, each dataset-heading and
each link bullet the generator writes must come back from `medkg.extract.extract` either as a
record or as a skip, at the line where it was written. Example counts come from
MEDKG_FUZZ_EXAMPLES (modest in CI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_config import FUZZ_EXAMPLES, ROOT

from medkg.config import load_settings
from medkg.extract import Rules, extract, load_rules
from medkg.markdown import parse_document
from medkg.namespaces import Namespaces
from medkg.ontology import vocabulary_graph
from medkg.sources import Source
from medkg.vocabulary import Vocabulary, build_vocabulary

HEADERS = ["Dataset", "Name", "Description", "Modality", "Organ", "Task", "Release Date", "Link",
           "Size", "Notes", "Loss", "Formula", "Challenge", "Dim."]
SECTIONS = ["Radiology", "Loss Functions", "Histology", "Chest", "Other Datasets", "Tools"]
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789 -.,()&:;/+'", max_size=24)
WEB = ["https://example.org/", "http://data.example/"]
HOSTS = [*WEB, "#anchor-", "./local/", "mailto:a@b.c?"]


@dataclass
class Written:
    """A generated document and the lines of the entries it must account for."""

    lines: list[str] = field(default_factory=list)
    expected: set[int] = field(default_factory=set)

    def add(self, line: str, expected: bool = False) -> None:
        self.lines.append(line)
        if expected:
            self.expected.add(len(self.lines))

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@st.composite
def link(draw: st.DrawFn, hosts: tuple[str, ...] = tuple(HOSTS)) -> str:
    name = draw(WORDS.filter(lambda w: w.strip() != ""))
    return f"[{name.strip()}]({draw(st.sampled_from(hosts))}{draw(st.integers(0, 99))})"


@st.composite
def cell(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["words", "link", "empty", "bold", "html"]))
    if kind == "link":
        return draw(link())
    if kind == "empty":
        return ""
    words = draw(WORDS)
    return {"bold": f"**{words}**" if words.strip() else words,
            "html": f"{words}<br>"}.get(kind, words)


def _has_text(cell_text: str) -> bool:
    return bool(cell_text.replace("**", "").replace("<br>", "").strip())


@st.composite
def document(draw: st.DrawFn) -> Written:
    doc = Written()
    doc.add(f"# {draw(WORDS)}")
    under_entry = False  # bullets under a dataset heading are that dataset's facts, by design
    for _ in range(draw(st.integers(1, 6))):
        doc.add("")
        block = draw(st.sampled_from(["section", "heading-entry", "table", "bullets", "prose"]))
        if block == "section":
            doc.add(f"{'#' * draw(st.integers(2, 4))} {draw(st.sampled_from(SECTIONS))}")
            under_entry = False
        elif block == "heading-entry":  # a heading that is one web link names a dataset
            doc.add(f"### {draw(link(tuple(WEB)))}", expected=True)
            under_entry = True
        elif block == "table":
            headers = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=5))
            doc.add("| " + " | ".join(headers) + " |")
            doc.add("|" + "--|" * len(headers))
            for _ in range(draw(st.integers(0, 5))):
                cells = draw(st.lists(cell(), min_size=1, max_size=len(headers) + 1))
                counted = cells[: len(headers)]
                doc.add("| " + " | ".join(cells) + " |",
                        expected=any(_has_text(c) or c.startswith("[") for c in counted))
        elif block == "bullets":
            for _ in range(draw(st.integers(1, 4))):
                doc.add(f"- {draw(link())}: {draw(WORDS)}", expected=not under_entry)
        else:
            doc.add(draw(WORDS) or "text")
    return doc


@cache
def _context() -> tuple[Vocabulary, Rules, Namespaces]:
    config = load_settings(home=ROOT)
    ns = Namespaces(config.base)
    return build_vocabulary(vocabulary_graph(config), ns), load_rules(config.data_dir), ns


def _read(text: str) -> tuple[set[int], set[int]]:
    vocab, rules, ns = _context()
    source = Source(id="fuzz", title="Fuzz", path="fuzz.md")
    records, skips = extract(source, parse_document(text), vocab, rules, ns)
    assert all(skip.file == "fuzz.md" and skip.reason for skip in skips)
    return {r.line for r in records}, {s.line for s in skips}


FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(document())
def test_every_written_entry_is_a_record_or_a_skip(doc: Written):
    record_lines, skip_lines = _read(doc.text)
    missing = sorted(doc.expected - record_lines - skip_lines)
    assert missing == [], "\n".join(f"{n}: {doc.lines[n - 1]}" for n in missing)
    assert record_lines <= doc.expected, "a record came from a line that holds no entry"


@FUZZ
@given(st.text(max_size=2000))
def test_any_text_is_read_without_crashing(text: str):
    _read(text)


@FUZZ
@given(st.lists(st.sampled_from(["|", "-", ":", " ", "[", "]", "(", ")", "#", ">", "*", "\n",
                                 "<details>", "</details>", "`", "\\", "x", "https://e.org"]),
                max_size=300))
def test_markdown_punctuation_soup_is_read_without_crashing(parts: list[str]):
    _read("".join(parts))
