"""The one exception the exporters raise."""

from __future__ import annotations


class ExportError(Exception):
    """An export cannot be produced: unknown format, missing input, or an unmappable IRI."""
