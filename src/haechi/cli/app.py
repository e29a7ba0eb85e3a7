"""The ``haechi`` application: wires command groups and turns errors into exit codes."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from haechi import __version__
from haechi.cli import (
    arena_cmd,
    build_cmd,
    guard_cmd,
    judge_cmd,
    models_cmd,
    redteam_cmd,
    review_cmd,
    tasks_cmd,
)
from haechi.cli.chat_cmd import chat_command
from haechi.cli.console import err_console, setup_logging
from haechi.cli.demo_cmd import demo_command
from haechi.cli.eval_cmd import eval_command
from haechi.cli.generate_cmd import generate_command
from haechi.cli.leaderboard_cmd import leaderboard_command
from haechi.cli.options import fill_optional_values
from haechi.cli.report_cmd import report_command
from haechi.errors import HaechiError, MissingExtraError
from haechi.extras import extra_providing

app = typer.Typer(
    name="haechi",
    help="Evaluate, judge, red-team and build Korean LLMs. Exit codes: 0 ok, 2 bad input, 1 failure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("eval")(eval_command)
app.command("leaderboard")(leaderboard_command)
app.command("report")(report_command)
app.command("demo")(demo_command)
app.command("chat")(chat_command)
app.command("generate")(generate_command)
app.add_typer(arena_cmd.app, name="arena")
app.add_typer(models_cmd.app, name="models")
app.add_typer(tasks_cmd.app, name="tasks")
app.add_typer(judge_cmd.app, name="judge")
app.add_typer(redteam_cmd.app, name="redteam")
app.add_typer(build_cmd.app, name="build")
app.add_typer(guard_cmd.app, name="guard")
app.add_typer(review_cmd.app, name="review")
app.add_typer(review_cmd.users, name="users")
app.command("serve")(review_cmd.serve_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"haechi {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    setup_logging(verbose)


def main() -> None:
    """Console-script entry point: ``HaechiError`` → its message and exit code (2 or 1); a
    missing optional dependency → the extra that provides it (exit 2)."""
    try:
        app(args=fill_optional_values(sys.argv[1:]))
    except HaechiError as exc:
        _fail(exc)
    except ModuleNotFoundError as exc:
        # an optional dependency imported where no MissingExtraError was written for it
        extra = extra_providing(exc.name)
        if extra is None:
            raise
        _fail(MissingExtraError(exc.name or "", extra))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


def _fail(exc: HaechiError) -> NoReturn:
    # the message is plain text: "haechi[train]" or a file's "[...]" is not rich markup
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
    sys.exit(exc.exit_code)
