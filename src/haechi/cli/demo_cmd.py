"""``haechi demo``: the whole pipeline on embedded defaults, no download needed."""

from __future__ import annotations

from haechi.cli.console import console
from haechi.cli.options import DbOption
from haechi.cli.render import print_leaderboard, print_report
from haechi.evaluate.leaderboard import leaderboard
from haechi.store import open_store
from haechi.tasks import groups

NOTICE = (
    "[yellow]The smoke model is a tiny, randomly initialised Llama built on this machine: its "
    "scores are chance-level and mean nothing.[/]\n"
    "Real use: [bold]haechi eval --model hf/<hub id or path> --tasks ko_h5 --data-dir DIR[/]"
)


def demo_command(db: DbOption = None) -> None:
    """Evaluate a random smoke model on the bundled sample tasks and show the leaderboard."""
    from haechi.demo import reuse_hint, run_demo
    from haechi.models.smoke import smoke_model_dir

    console.print(NOTICE)
    with console.status("building the smoke model (once)"):
        model_dir = smoke_model_dir()
    with open_store(db) as store:
        report = run_demo(store, model_dir, progress=console.is_terminal)
        print_report(report)
        console.print(f"\nstored as run {report.run_id} in {store.redacted_url()}\n")
        console.print("[bold]Leaderboard[/]")
        # the demo scores the bundled samples: a partial run, shown as such
        board = leaderboard(store, "ko_h5", include_partial=True)
        print_leaderboard(board, ["ko_h5", *groups()["ko_h5"].tasks])
    console.print(NOTICE)
    console.print(reuse_hint(model_dir), markup=False, highlight=False)
