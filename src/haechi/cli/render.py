"""Terminal rendering of evaluation reports and leaderboards."""

from __future__ import annotations

from rich import box
from rich.table import Column, Table

from haechi.cli.console import console
from haechi.evaluate import EvalReport
from haechi.evaluate.leaderboard import Leaderboard
from haechi.evaluate.metrics import Reported, definition

_BETTER = {"higher": "", "lower": " (lower is better)", "zero": " (0 is best)"}


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def print_report(report: EvalReport) -> None:
    """One row per task and metric, then the groups; values in percent; a legend says what
    each metric measures and, where higher is not better, which way is."""
    table = Table("task", "shots", "n", "metric", "value %", "± stderr")
    used: dict[str, Reported] = {}
    for summary in report.summaries:
        for metric, agg in summary.metrics.items():
            used[metric.partition(",")[0]] = definition(metric)
            table.add_row(
                summary.name + (f" ({len(summary.subtasks)} subtasks)" if summary.subtasks else ""),
                str(summary.n_shot),
                str(agg.n),
                metric + (" *" if metric == summary.primary_metric else ""),
                _pct(agg.value),
                "—" if agg.stderr is None else _pct(agg.stderr),
            )
    for group, agg in report.groups.items():
        weighted = report.document["groups"][group]["aggregation"] == "size_weighted"
        how = "size-weighted mean" if weighted else "mean"
        table.add_row(f"[bold]{group}", "", str(agg.n), f"{how} of *", _pct(agg.value), "")
    console.print(table)
    console.print(
        "* headline metric. "
        + "; ".join(f"{m}: {d.note}{_BETTER[d.better]}" for m, d in used.items())
    )


def print_leaderboard(
    board: Leaderboard, columns: list[str] | None = None, *, details: bool = False
) -> None:
    """One row per model; ``columns`` (default: all) in percent, the first group's members
    headed without their shared prefix. ``details`` adds each row's run id and date. Partial
    rows come unranked, marked with why they are partial."""
    columns = board.columns if columns is None else columns
    if not board.rows:
        if board.hidden_partial:
            console.print(
                f"No full evaluation runs yet; {board.hidden_partial} partial run(s) "
                "(--limit or --samples): `haechi leaderboard --include-partial` shows them."
            )
        else:
            console.print("No completed evaluation runs yet: run `haechi eval` first.")
        return
    table = Table(
        "#",
        Column("model", overflow="fold", min_width=12),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    prefix = _shared_prefix(columns[1:]) if len(columns) > 2 else ""
    for index, name in enumerate(columns):
        short = name[len(prefix) :] if index and prefix else name
        table.add_column(short, justify="right", no_wrap=True, min_width=max(5, len(short)))
    if details:
        table.add_column("finished (UTC)", no_wrap=True)
        table.add_column("run", no_wrap=True)
    full = [row for row in board.rows if row.partial is None]
    for rank, row in enumerate(board.rows, start=1):
        cells = [_pct(row.values[c]) if c in row.values else "—" for c in columns]
        if details:
            finished = row.finished_at.strftime("%Y-%m-%d %H:%M") if row.finished_at else ""
            cells += [finished, row.run_id]
        name = display_name(row.model_spec)
        if row.chat_template is not None:
            name += f" (chat template: {row.chat_template})"
        if row.partial is not None:
            table.add_row("–", f"{name} (partial: {row.partial})", *cells)
        else:
            table.add_row(str(rank), name, *cells)
    console.print(table)
    note = f"Columns drop the shared prefix {prefix!r}. " if prefix else ""
    if len(full) < len(board.rows):
        note += "Partial runs (--limit, --samples) are listed unranked after full ones. "
    elif board.hidden_partial:
        note += f"{board.hidden_partial} partial run(s) hidden (--include-partial shows them). "
    console.print(
        f"{note}Headline metric per task, in percent; a group aggregates its tasks' "
        "headline metrics (see `haechi tasks list`). `haechi leaderboard --all` shows every task."
    )


def _shared_prefix(names: list[str]) -> str:
    """The ``word_`` prefix every name shares (``ko_`` for Ko-H5), so headers stay short."""
    first, _, _ = names[0].partition("_")
    if all(n.startswith(first + "_") for n in names):
        return first + "_"
    return ""


def display_name(spec: str) -> str:
    """A spec fit for a table: a local checkpoint path shows as its folder name."""
    backend, _, target = spec.partition("/")
    if target.startswith("/") and "/" in target[1:]:
        return f"{backend}/…/{target.rstrip('/').rsplit('/', 1)[-1]}"
    return spec
