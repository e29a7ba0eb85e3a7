"""``haechi judge meta-eval``: correlate a judge's scores with human ratings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haechi.cli.console import console, err_console

_SHOWN_IDS = 5
_CAPTION = escape("n: documents averaged (summary), systems, items; [bootstrap 95% interval]")


def meta_eval_command(
    scores: Annotated[
        Path,
        typer.Option(
            help="The judge's scores: haechi's scored jsonl, or a G-Eval results file "
            "(its all_responses; the criterion from --criteria or the file name)."
        ),
    ],
    human: Annotated[
        Path,
        typer.Option(
            help="Human ratings: haechi jsonl (id, scores), G-Eval summeval.json or "
            "results file, or SummEval jsonl (mean of expert_annotations)."
        ),
    ],
    output: Annotated[
        Path | None, typer.Option(help="meta.json to write: criterion → level → values.")
    ] = None,
    criteria: Annotated[
        str | None,
        typer.Option(help="Comma-separated criteria (default: those both files score)."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the 95% intervals (0: none).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resamples.")] = 0,
) -> None:
    """Spearman, Kendall τ-b and Pearson at summary level (per source document, averaged),
    system level and dataset level, with bootstrap 95% intervals. Items are joined by id;
    ids on only one side are reported."""
    from haechi.errors import InputError
    from haechi.io import write_json_atomic
    from haechi.judge.human_data import read_ratings
    from haechi.judge.meta_eval import METHODS, meta_evaluate

    chosen = [c.strip() for c in criteria.split(",") if c.strip()] if criteria else None
    if chosen is not None and not chosen:
        raise InputError("no criteria given", field="criteria")
    single = chosen[0] if chosen and len(chosen) == 1 else None
    judged = read_ratings(scores, role="judge", criterion=single)
    rated = read_ratings(human, role="human")
    result = meta_evaluate(judged, rated, chosen, bootstrap=bootstrap, seed=seed)

    for side, ids, path in (
        ("judge", result.only_judge, scores),
        ("human", result.only_human, human),
    ):
        if ids:
            shown = ", ".join(ids[:_SHOWN_IDS]) + (" …" if len(ids) > _SHOWN_IDS else "")
            err_console.print(
                f"[yellow]warning:[/] {len(ids)} {side} item(s) in {path} have no match "
                f"and were left out: {shown}",
                highlight=False,
            )
    unparsed = sum(item.unparsed for item in judged)
    if unparsed:
        err_console.print(f"[yellow]note:[/] {unparsed} judge answers could not be parsed")

    for criterion, levels in result.levels.items():
        table = Table("level", "n", *METHODS, title=criterion, caption=_CAPTION)
        for level, r in levels.items():
            cells = []
            for name in METHODS:
                value, interval = r.values[name], r.ci95[name]
                text = "—" if value is None else f"{value:.3f}"
                if interval:
                    text += f"\n[{interval[0]:.3f}, {interval[1]:.3f}]"
                cells.append(text)
            n = f"{r.n}" + (f" ({r.skipped} skipped)" if r.skipped else "")
            table.add_row(level, n, *cells)
        console.print(table)
        if result.missing.get(criterion):
            console.print(f"{criterion}: {result.missing[criterion]} item(s) lack a score")
    if output is not None:
        write_json_atomic(output, result.record())
        console.print(f"meta-evaluation: {output}")
