"""Chart geometry for server-rendered SVG (the web app and ``haechi report``).

A chart is computed here as numbers and short labels; the templates draw it
(``web/templates/_charts.html``), so labels are escaped like any other text and the pages
keep their no-script, no-inline-style policy. Horizontal rows, one mark per series: a bar
from the baseline to the value and, where known, a whisker over the interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from haechi.redteam.metrics import Z95

if TYPE_CHECKING:
    from haechi.arena import Ratings
    from haechi.evaluate.compare import RunComparison
    from haechi.evaluate.leaderboard import LeaderboardRow
    from haechi.redteam.metrics import Rate

LABEL_CHARS = 36  # longer row labels are cut (the full name is in the table beside)
ROW_HEIGHT = 22
LABEL_WIDTH = 220
PLOT_WIDTH = 420
TOP = 24


@dataclass(frozen=True)
class Point:
    """A value with its interval (``None``: not known)."""

    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Mark:
    series: int
    y: float
    height: float
    x0: float
    x1: float
    low: float | None
    high: float | None
    text: str


@dataclass(frozen=True)
class Row:
    label: str
    y: float
    marks: list[Mark]


@dataclass(frozen=True)
class Chart:
    """``width``×``height`` pixels; ``baseline`` the x where bars start; ``ticks`` (x,
    text) along the top; ``legend`` one name per series."""

    width: float
    height: float
    label_width: float
    plot_width: float
    baseline: float
    rows: list[Row]
    ticks: list[tuple[float, str]]
    legend: list[str]
    title: str


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Sequence[Point | None]],
    legend: Sequence[str],
    *,
    domain: tuple[float, float] | None = None,
    scale: float = 1.0,
    digits: int = 1,
) -> Chart:
    """Rows ``labels``, one mark per series and row (``None``: no mark). Values are shown
    times ``scale`` (100: percent) to ``digits`` decimals; ``domain`` defaults to the
    values' and intervals' range widened to include 0."""
    known = [
        x
        for points in series
        for p in points
        if p is not None
        for x in (p.value, p.low, p.high)
        if x is not None and math.isfinite(x)
    ]
    if domain is None:
        lo, hi, step = _nice(min([0.0, *known]), max([0.0, *known]))
    else:
        (lo, hi), step = domain, (domain[1] - domain[0]) / 4

    def x(value: float) -> float:
        clipped = min(max(value, lo), hi)
        return round(LABEL_WIDTH + PLOT_WIDTH * (clipped - lo) / (hi - lo), 1)

    base = x(0.0 if lo <= 0.0 <= hi else lo)
    per_row = max(1, len(series))
    bar = (ROW_HEIGHT - 6) / per_row
    rows = []
    for i, label in enumerate(labels):
        y = TOP + i * ROW_HEIGHT
        marks = []
        for s, points in enumerate(series):
            point = points[i] if i < len(points) else None
            if point is None or not math.isfinite(point.value):
                continue
            start, end = sorted((base, x(point.value)))
            marks.append(
                Mark(
                    series=s,
                    y=round(y + 3 + s * bar, 1),
                    height=round(bar - 1, 1),
                    x0=start,
                    x1=end,
                    low=None if point.low is None else x(point.low),
                    high=None if point.high is None else x(point.high),
                    text=f"{point.value * scale:.{digits}f}",
                )
            )
        rows.append(Row(_cut(label), y, marks))
    places = max(0, -math.floor(math.log10(step * scale) + 1e-9)) if step * scale < 1 else 0
    values = [lo + k * step for k in range(round((hi - lo) / step) + 1)]
    ticks = [(x(v), f"{v * scale:.{places}f}") for v in values]
    return Chart(
        width=LABEL_WIDTH + PLOT_WIDTH + 60,
        height=TOP + len(labels) * ROW_HEIGHT + 8,
        label_width=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
        baseline=base,
        rows=rows,
        ticks=ticks,
        legend=[_cut(name) for name in legend],
        title=title,
    )


def _nice(lo: float, hi: float) -> tuple[float, float, float]:
    """``lo``–``hi`` widened to multiples of a round step (1, 2, 2.5 or 5 × 10^k, about a
    quarter of the range), and that step: the ticks fall on round numbers."""
    if hi <= lo:
        return lo, lo + 1.0, 0.25
    raw = (hi - lo) / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _cut(text: str) -> str:
    """Long labels keep their start and their end (a model path's last part names it)."""
    if len(text) <= LABEL_CHARS:
        return text
    head = LABEL_CHARS // 3
    return text[:head] + "…" + text[-(LABEL_CHARS - head - 1) :]


def normal_point(value: float, stderr: float | None) -> Point:
    """``value`` with its normal 95% interval (± 1.96 stderr) when the stderr is known."""
    if stderr is None:
        return Point(value)
    return Point(value, value - Z95 * stderr, value + Z95 * stderr)


def scores_chart(
    columns: Sequence[str], rows: Sequence[LeaderboardRow | None], names: Sequence[str]
) -> Chart:
    """Each column's score (%) of each row, with its normal interval."""
    series = [
        [
            normal_point(r.values[c], r.stderrs.get(c)) if r and c in r.values else None
            for c in columns
        ]
        for r in rows
    ]
    return bar_chart("scores (%)", columns, series, names, domain=(0.0, 1.0), scale=100)


def difference_chart(comparison: RunComparison) -> Chart:
    """B − A per task (percentage points) with the paired bootstrap interval."""
    tasks = [t for t in comparison.tasks if t.difference is not None]
    points = [
        Point(t.difference, t.paired.low, t.paired.high) if t.paired else Point(t.difference)  # type: ignore[arg-type]
        for t in tasks
    ]
    return bar_chart("B − A (points)", [t.task for t in tasks], [points], ["B − A"], scale=100)


def wilson_point(r: Rate) -> Point | None:
    """A rate with its Wilson 95% interval (``None``: nothing measured)."""
    return Point(r.value, *r.interval) if r.n else None


def rates_chart(title: str, rates: dict[str, Rate]) -> Chart:
    """Rates (%) per key with their Wilson intervals."""
    points = [wilson_point(r) for r in rates.values()]
    return bar_chart(title, list(rates), [points], [title], domain=(0.0, 1.0), scale=100)


def ratings_chart(ratings: Ratings) -> Chart:
    """Arena ratings with their bootstrap intervals."""
    rows = ratings.ratings
    low, high, _ = _nice(min(r.lower for r in rows), max(r.upper for r in rows))
    points = [Point(r.rating, r.lower, r.upper) for r in rows]
    return bar_chart(
        "rating", [r.model for r in rows], [points], ["rating"], domain=(low, high), digits=0
    )
