"""One flat CSV row per dataset, for spreadsheet users.

Several values in one cell are joined with " | ". Counts read "399 wsis (alpha)", naming the list
that gave each, because lists often count different things (training split, whole set ...); a
count of one split says so: "27 images, train split (alpha)".

The text comes from community-edited lists, and a spreadsheet runs a cell that starts with =, +,
-, @, a tab or a carriage return as a formula: such a cell starts with an apostrophe instead
(OWASP's advice for CSV injection), which spreadsheets show as text and do not display.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

from medkg.export.progress import progress
from medkg.export.records import DatasetRecord

JOIN = " | "
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS: tuple[tuple[str, Callable[[DatasetRecord], Iterable[str]]], ...] = (
    ("iri", lambda r: [r.iri]),
    ("title", lambda r: [r.title]),
    ("alt_names", lambda r: [n for n in r.alt_names if n != r.title]),
    ("organs", lambda r: [c.label for c in r.organs]),
    ("modalities", lambda r: [c.label for c in r.modalities]),
    ("stains", lambda r: [c.label for c in r.stains]),
    ("tasks", lambda r: [c.label for c in r.tasks]),
    ("challenges", lambda r: [c.label for c in r.challenges]),
    ("years", lambda r: r.years),
    ("counts", lambda r: [f"{c.said} ({c.source})" for c in r.counts]),
    ("landing_pages", lambda r: r.landing_pages),
    ("dois", lambda r: r.dois),
    ("sources", lambda r: [s.source_id for s in r.sources]),
)


def cell(text: str) -> str:
    """`text` as a spreadsheet shows it, never run as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def row(record: DatasetRecord) -> dict[str, str]:
    """The CSV cells of one dataset."""
    return {name: cell(JOIN.join(values(record))) for name, values in COLUMNS}


def write_csv(records: Iterable[DatasetRecord], out: Path, quiet: bool) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[name for name, _ in COLUMNS])
        writer.writeheader()
        for record in progress(records, "csv", quiet):
            writer.writerow(row(record))
    return out
