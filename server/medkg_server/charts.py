"""Geometry of the server-rendered SVG bar charts on the statistics page (no JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BAR_HEIGHT = 22
GAP = 6
LABEL_WIDTH = 220
PLOT_WIDTH = 460
COUNT_WIDTH = 60
MAX_BARS = 30


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    iri: str | None
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT
    omitted: int = 0
    omitted_note: str = "more"  # what the left-out bars are, for "and N more"


def bar_chart(series: list[dict[str, Any]], keep_last: bool = False) -> BarChart:
    """Horizontal bars scaled to the largest count; a long series is cut to MAX_BARS.

    A series ranked by count keeps its first bars; a time series (`keep_last`, oldest first)
    keeps its last, the most recent, and says the earlier ones were left out.
    """
    shown = series[-MAX_BARS:] if keep_last else series[:MAX_BARS]
    largest = max((item["count"] for item in shown), default=0) or 1
    bars = tuple(
        Bar(
            label=str(item["label"]),
            count=int(item["count"]),
            iri=item.get("iri"),
            y=index * (BAR_HEIGHT + GAP),
            width=round(PLOT_WIDTH * item["count"] / largest, 1),
        )
        for index, item in enumerate(shown)
    )
    height = max(len(bars) * (BAR_HEIGHT + GAP), BAR_HEIGHT)
    return BarChart(
        bars, LABEL_WIDTH + PLOT_WIDTH + COUNT_WIDTH, height, omitted=len(series) - len(shown),
        omitted_note="earlier" if keep_last else "more",
    )
