"""Charts of tokenizer statistics: a grouped bar chart as hand-written SVG, or as PNG with
matplotlib."""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from haechi.build.tokens import TokenizerStats
from haechi.errors import HaechiError, InputError
from haechi.io import write_text_atomic

ChartFormat = Literal["svg", "png"]
CHART_METRICS = (
    ("chars_per_token", "characters / token"),
    ("bytes_per_token", "UTF-8 bytes / token"),
    ("eojeol_per_token", "eojeol / token"),
)
_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")


def chart_format(path: Path) -> ChartFormat:
    """``svg`` or ``png`` from the file name; refuses other names, and PNG without matplotlib."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return "svg"
    if suffix != ".png":
        raise InputError(
            f"cannot draw a chart as {suffix or 'a file without suffix'}",
            file=str(path),
            hint="end the name in .svg (no dependency) or .png (needs matplotlib)",
        )
    if find_spec("matplotlib") is None:
        raise HaechiError(
            "PNG charts need the 'matplotlib' package, which is not installed: "
            "pip install matplotlib (or write the chart as .svg, which needs nothing)"
        )
    return "png"


def write_chart(stats: Sequence[TokenizerStats], path: Path) -> None:
    """Draw the grouped bar chart of :data:`CHART_METRICS` to ``path`` (.svg or .png)."""
    if chart_format(path) == "svg":
        write_text_atomic(path, chart_svg(stats))
    else:
        _write_png(stats, path)


def _chart_values(stats: Sequence[TokenizerStats]) -> list[list[float | None]]:
    return [[s.ratios()[key] for key, _ in CHART_METRICS] for s in stats]


def _axis_top(peak: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above ``peak`` (1 for an empty chart)."""
    if peak <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(peak))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if peak <= m * magnitude)


def chart_svg(stats: Sequence[TokenizerStats]) -> str:
    """A standalone SVG: one group per metric, one ``rect.bar`` per tokenizer in each, with
    ``data-tokenizer``, ``data-metric`` and ``data-value`` attributes."""
    values = _chart_values(stats)
    top = _axis_top(max((v for row in values for v in row if v is not None), default=0.0))
    left, plot_w, plot_top, plot_h = 60, 660, 50, 260
    width, height = left + plot_w + 20, plot_top + plot_h + 50 + 22 * len(stats)
    base = plot_top + plot_h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="28" text-anchor="middle" font-size="16">'
        "Tokenizer efficiency (higher carries more text per token)</text>",
    ]
    for tick in range(6):
        y = base - plot_h * tick / 5
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{top * tick / 5:g}</text>'
        )
    group_w = plot_w / len(CHART_METRICS)
    bar_w = group_w * 0.8 / max(len(stats), 1)
    for m, (key, label) in enumerate(CHART_METRICS):
        x0 = left + m * group_w + group_w * 0.1
        for t, (tok, row) in enumerate(zip(stats, values, strict=True)):
            value = row[m]
            h = plot_h * (value or 0.0) / top
            x, y = x0 + t * bar_w, base - h
            shown, exact = ("—", "") if value is None else (f"{value:.3g}", repr(value))
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{_PALETTE[t % len(_PALETTE)]}" '
                f"data-tokenizer={quoteattr(tok.tokenizer)} data-metric={quoteattr(key)} "
                f'data-value="{exact}">'
                f"<title>{escape(f'{tok.tokenizer}: {label} = {shown}')}</title></rect>"
                f'<text x="{x + bar_w * 0.45:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="10">{shown}</text>'
            )
        out.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{base + 20}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="#333"/>')
    for t, tok in enumerate(stats):
        y = base + 44 + 22 * t
        out.append(
            f'<rect x="{left}" y="{y - 11}" width="14" height="14" '
            f'fill="{_PALETTE[t % len(_PALETTE)]}"/>'
            f'<text x="{left + 20}" y="{y}">{escape(tok.tokenizer)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _write_png(stats: Sequence[TokenizerStats], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    values = _chart_values(stats)
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    bar_w = 0.8 / max(len(stats), 1)
    for t, (tok, row) in enumerate(zip(stats, values, strict=True)):
        xs = [m + (t - (len(stats) - 1) / 2) * bar_w for m in range(len(CHART_METRICS))]
        bars = axes.bar(xs, [v or 0.0 for v in row], bar_w * 0.9, label=tok.tokenizer)
        axes.bar_label(bars, labels=["—" if v is None else f"{v:.3g}" for v in row], fontsize=8)
    axes.set_xticks(range(len(CHART_METRICS)), [label for _, label in CHART_METRICS])
    axes.set_title("Tokenizer efficiency (higher carries more text per token)")
    axes.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150)
