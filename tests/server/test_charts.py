"""The statistics page's bar charts: scaled bars, and which bars a long series keeps."""

from __future__ import annotations

from medkg_server.charts import MAX_BARS, bar_chart


def test_a_ranked_series_keeps_its_largest_bars() -> None:
    series = [{"label": f"c{n}", "count": 100 - n} for n in range(MAX_BARS + 5)]
    chart = bar_chart(series)
    assert [b.label for b in chart.bars] == [f"c{n}" for n in range(MAX_BARS)]
    assert (chart.omitted, chart.omitted_note) == (5, "more")
    assert chart.bars[0].width > chart.bars[-1].width


def test_a_time_series_keeps_its_latest_years() -> None:
    years = [{"label": str(year), "count": 1} for year in range(1950, 2025)]
    chart = bar_chart(years, keep_last=True)
    assert [b.label for b in chart.bars] == [str(y) for y in range(2025 - MAX_BARS, 2025)]
    assert chart.bars[0].y == 0  # the first bar shown starts at the top
    assert (chart.omitted, chart.omitted_note) == (75 - MAX_BARS, "earlier")
