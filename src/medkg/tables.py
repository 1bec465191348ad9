"""Read the tab-separated curation tables under data/ (header row, one record a line)."""

from __future__ import annotations

from pathlib import Path


class TableError(Exception):
    """A curation table is missing a column or has a malformed line."""


def read_tsv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a TSV file as dicts; blank lines and lines starting with '#' are skipped.

    A missing table is an error, not an empty one: the build would otherwise run without its
    rules or curation and publish a smaller graph without a word.
    """
    return [row for _, row in read_tsv_lines(path, required)]


def read_tsv_lines(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """`read_tsv`'s rows with their line numbers, for messages that point at a row."""
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    for number, line in enumerate(_text(path).splitlines(), start=1):
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
        rows.append((number, dict(zip(header, fields + [""] * (len(header) - len(fields))))))
    return rows


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TableError(f"{path}: cannot read: {exc.strerror} (an empty table still needs its "
                         "header line)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TableError(f"{path}:{line}: not UTF-8 (byte {exc.start})") from None
