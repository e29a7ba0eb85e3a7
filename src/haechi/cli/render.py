"""Terminal rendering of evaluation reports and leaderboards."""

from __future__ import annotations

from rich.table import Table

from haechi.cli.console import console
from haechi.evaluate import EvalReport
from haechi.evaluate.metrics import NORMALISATION_NOTE
from haechi.store import Leaderboard


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def print_report(report: EvalReport) -> None:
    """One row per task and metric, then the groups; values in percent."""
    table = Table("task", "shots", "n", "metric", "value %", "± stderr")
    used: dict[str, str] = {}
    for summary in report.summaries:
        for metric, agg in summary.metrics.items():
            used[metric] = NORMALISATION_NOTE[metric]
            table.add_row(
                summary.name + (f" ({len(summary.subtasks)} subtasks)" if summary.subtasks else ""),
                str(summary.n_shot),
                str(agg.n),
                metric + (" *" if metric == summary.primary_metric else ""),
                _pct(agg.value),
                "—" if agg.stderr is None else _pct(agg.stderr),
            )
    for group, agg in report.groups.items():
        table.add_row(f"[bold]{group}", "", str(agg.n), "mean of *", _pct(agg.value), "")
    console.print(table)
    console.print("* headline metric. " + "; ".join(f"{m}: {note}" for m, note in used.items()))


def print_leaderboard(board: Leaderboard) -> None:
    if not board.rows:
        console.print("No completed evaluation runs yet: run `haechi eval` first.")
        return
    table = Table("#", "model", *board.columns, "finished (UTC)", "run")
    table.columns[1].overflow = "fold"
    for rank, row in enumerate(board.rows, start=1):
        cells = [_pct(row.values[c]) if c in row.values else "—" for c in board.columns]
        finished = row.finished_at.strftime("%Y-%m-%d %H:%M") if row.finished_at else ""
        table.add_row(str(rank), display_name(row.model_spec), *cells, finished, row.run_id[:8])
    console.print(table)
    console.print("Headline metric per task, in percent; groups are means of their tasks.")


def display_name(spec: str) -> str:
    """A spec fit for a table: a local checkpoint path shows as its folder name."""
    backend, _, target = spec.partition("/")
    if target.startswith("/") and "/" in target[1:]:
        return f"{backend}/…/{target.rstrip('/').rsplit('/', 1)[-1]}"
    return spec
