"""Cut a large markdown file into parts at headings, so it can be parsed part by part.

A column-0 ATX heading ('## Part 2') ends every open paragraph, table, list and block quote, so
the text before it parses alone to the same blocks as inside the whole file, and the text from
it on parses as it would after those blocks. Three things break that: a fenced code block or a
raw HTML block can hold a line starting with '#' (the caller checks that no such block runs to
the end of a part, see `runs_to_end`, and joins the part with the next one when one does), and
link reference definitions apply to the whole file (a file that may hold one is not cut).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it.token import Token

ATX_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
# markdown-it's own line breaks (its normalize step), so line numbers agree with its token maps
LINE_BREAK = re.compile(r"\r\n?")
# blocks that can go on over a line starting with '#'
SWALLOWING_BLOCKS = ("fence", "html_block")
# what every such block's first line holds: a fence's three backticks or tildes, an HTML tag's '<'
BLOCK_OPENERS = ("```", "~~~", "<")


def may_define_references(text: str) -> bool:
    """Whether the text may hold a link reference definition ('[label]: url'); a coarse test."""
    return "]:" in text


def chunks(text: str, min_chars: int) -> Iterator[tuple[int, str]]:
    """(offset, part): parts of at least `min_chars` (save the last), each cut before a heading.

    `offset` is the number of lines before the part in the file. A file no longer than
    `min_chars`, or one that may define link references, comes back whole.
    """
    if len(text) <= min_chars or may_define_references(text):
        yield 0, text
        return
    lines = LINE_BREAK.sub("\n", text).split("\n")
    start = 0
    size = 0
    for number, line in enumerate(lines):
        if number > start and size >= min_chars and ATX_HEADING.match(line):
            yield start, "\n".join(lines[start:number]) + "\n"
            start, size = number, 0
        size += len(line) + 1
    yield start, "\n".join(lines[start:])


def runs_to_end(tokens: list[Token], part: str) -> bool:
    """Whether a fence or HTML block reaches the last line of the part (it may go on after it).

    A block closed on the very last line counts too: that only joins two parts needlessly.
    """
    if not any(opener in part for opener in BLOCK_OPENERS):
        return False  # no fence or HTML block can start in it: no need to walk its tokens
    last = part.count("\n")
    return any(tok.type in SWALLOWING_BLOCKS and tok.map is not None and tok.map[1] >= last
               for tok in tokens)
