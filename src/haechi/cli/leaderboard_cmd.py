"""``haechi leaderboard``: the stored evaluation runs as a table."""

from __future__ import annotations

from typing import Annotated

import typer

from haechi.cli.options import DbOption
from haechi.store import open_store


def leaderboard_command(
    group: Annotated[
        str,
        typer.Option(help="The group to rank by and show with its tasks, e.g. ko_h5 or kobest."),
    ] = "ko_h5",
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every stored task and group.")
    ] = False,
    include_partial: Annotated[
        bool,
        typer.Option(
            "--include-partial",
            help="Also list partial runs (--limit or --samples), unranked after the full ones.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Rank models by a group's score (default Ko-H5), with each task's headline metric in %.

    Only full runs are ranked: a run with --limit or --samples scored part of each task."""
    from haechi.cli.console import console
    from haechi.cli.render import print_leaderboard
    from haechi.evaluate.leaderboard import group_columns, leaderboard

    with open_store(db) as store:
        board = leaderboard(store, group, include_partial=include_partial)
    columns = board.columns if show_all else group_columns(board, group)
    if not show_all and group not in board.columns and board.rows:
        console.print(f"No stored run has {group}; showing every column.")
    print_leaderboard(board, columns, details=show_all)
