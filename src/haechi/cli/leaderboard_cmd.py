"""``haechi leaderboard``: the stored evaluation runs as a table."""

from __future__ import annotations

from typing import Annotated

import typer

from haechi.store import open_store

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Results store: a SQLAlchemy URL or a SQLite file path (default: $HAECHI_DB, else haechi's data folder).",
    ),
]


def leaderboard_command(
    group: Annotated[
        str | None, typer.Option(help="Sort by this group's column, e.g. ko_h5.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Show every model's latest stored scores (headline metric per task, in percent)."""
    from haechi.cli.render import print_leaderboard

    with open_store(db) as store:
        print_leaderboard(store.leaderboard(group))
