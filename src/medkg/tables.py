"""Read the tab-separated curation tables under data/ (header row, one record a line)."""

from __future__ import annotations

from pathlib import Path


class TableError(Exception):
    """A curation table is missing a column or has a malformed line."""


def read_tsv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a TSV file as dicts; blank lines and lines starting with '#' are skipped."""
    if not path.is_file():
        return []
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            header = fields
            missing = [c for c in required if c not in header]
            if missing:
                raise TableError(f"{path}:{number}: missing column(s) {', '.join(missing)}")
            continue
        if len(fields) < len(required):
            raise TableError(
                f"{path}:{number}: expected {len(header)} tab-separated fields, got {len(fields)}"
            )
        rows.append(dict(zip(header, fields + [""] * (len(header) - len(fields)))))
    return rows
