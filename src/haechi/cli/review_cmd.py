"""``haechi review`` (import, export, agreement), ``haechi users`` and ``haechi serve``."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.cli.options import DbOption
from haechi.errors import InputError

if TYPE_CHECKING:
    from haechi.redteam.metrics import Rate

app = typer.Typer(
    help="Human review: put items in a campaign, export labels, measure agreement.",
    no_args_is_help=True,
)
users = typer.Typer(help="Accounts of the review web app.", no_args_is_help=True)


@app.command("import")
def import_command(
    source: Annotated[
        str,
        typer.Argument(
            help="A jsonl file (prompt, response, optional id/category/turns/labels, or a judge's scored output); a red-team run id with --from redteam; a SQuARe *_annotations.json with --from square."
        ),
    ],
    campaign: Annotated[str, typer.Option(help="Review campaign (created when new).")],
    from_: Annotated[
        str, typer.Option("--from", help="file | redteam | square (SQuARe's raw crowd labels).")
    ] = "file",
    select: Annotated[
        str, typer.Option(help="redteam: all | flagged (detector said success) | sampled.")
    ] = "all",
    controls: Annotated[
        bool | None,
        typer.Option(
            "--controls/--no-controls",
            help="redteam: also the benign control prompts (default: with --select all "
            "only; --select flagged then takes the controls the refusal detector saw refused).",
        ),
    ] = None,
    sample: Annotated[int | None, typer.Option(help="redteam --select sampled: how many.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of --select sampled.")] = 0,
    schema: Annotated[
        Path | None, typer.Option(help="Label-schema YAML for a new campaign (default ships).")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option(help="Reviewers per item for a new campaign (default 2).")
    ] = None,
    reviewers: Annotated[
        str | None, typer.Option(help="Comma-separated user names to add as members.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Add items to a review campaign; importing again skips ids already there.

    Examples:

      haechi review import answers.jsonl --campaign ko-safety --overlap 3

      haechi review import runs/0420.jsonl --campaign ko-answers   # haechi generate output

      haechi review import 3f2a… --from redteam --select flagged --campaign rt-flagged

      haechi review import response_test_ood_annotations.json --from square --campaign square

    A file goes in all or nothing: a bad line, label or reviewer leaves the store as it
    was (no new campaign).
    """
    from haechi.review.import_files import read_import_file
    from haechi.review.imports import (
        import_items,
        lines_from_attempts,
        lines_from_square,
        redteam_source,
    )
    from haechi.review.label_schema import load_label_schema
    from haechi.store import open_store

    if from_ not in ("file", "redteam", "square"):
        raise InputError("--from must be file, redteam or square", field="from")
    if select not in ("all", "flagged", "sampled"):
        raise InputError("--select must be all, flagged or sampled", field="select")
    label_schema = load_label_schema(schema) if schema else None
    with open_store(db) as store:
        if from_ == "file":
            lines, origin = read_import_file(Path(source)), f"import:{Path(source).name}"
        elif from_ == "square":
            lines, square_schema = lines_from_square(Path(source))
            label_schema, overlap = label_schema or square_schema, overlap or 3
            origin = f"square:{Path(source).name}"
        else:
            lines = lines_from_attempts(store, source, select, sample, seed, controls)  # type: ignore[arg-type]
            origin = redteam_source(source)
        info, summary = import_items(
            store,
            campaign,
            lines,
            origin,
            label_schema=label_schema,
            overlap=overlap,
            reviewers=names_list(reviewers),
            progress=console.is_terminal,
        )
    console.print(
        f"{campaign}: {summary.added} items added, {summary.skipped} already there, "
        f"{summary.labels} labels imported (overlap {info.overlap})"
    )


@app.command("export")
def export_command(
    campaign: Annotated[str, typer.Argument(help="Review campaign.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="jsonl | csv | parquet | argilla.")
    ] = "jsonl",
    db: DbOption = None,
) -> None:
    """Write every item with its labels and gold label (parquet loads with `datasets`)."""
    from haechi.review.accounts import DATABASE_OWNER
    from haechi.review.exports import FORMATS, export_results
    from haechi.review.results import campaign_results
    from haechi.store import open_store

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {list(FORMATS)}", field="format")
    with open_store(db) as store:
        results = campaign_results(store, campaign, DATABASE_OWNER)
    export_results(results, fmt, out)
    console.print(f"wrote {len(results.items)} items to {out}")


@app.command("agreement")
def agreement_command(
    campaign: Annotated[str, typer.Argument(help="Review campaign.")],
    by_category: Annotated[
        bool, typer.Option("--by-category", help="Also per item category.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Krippendorff's alpha, mean pairwise Cohen's kappa and percent agreement per field,
    human vs detector attack-success rates per category (attacks only), and over-refusal
    on the benign controls."""
    from haechi.review.accounts import DATABASE_OWNER
    from haechi.review.results import campaign_results
    from haechi.review.summary import agreement_rows, summarize
    from haechi.store import open_store

    with open_store(db) as store:
        summary = summarize(campaign_results(store, campaign, DATABASE_OWNER))
    table = Table(
        "field", "category", "level", "alpha", "mean kappa", "% agree", "items", "ratings"
    )
    for row in agreement_rows(summary, by_category):
        s = row.stats
        table.add_row(
            row.label,
            row.group or "all",
            row.level,
            f"{s.alpha:.3f}",
            f"{s.kappa:.3f}",
            f"{s.percent_agreement:.3f}",
            str(s.items),
            str(s.ratings),
        )
    console.print(table)
    if summary.overall is not None:
        rates = Table("category", "items", "human ASR", "detector ASR", "human = detector")
        for r in [*summary.rates, summary.overall]:
            rates.add_row(
                r.category, str(r.items), _rate(r.human), _rate(r.detector), _rate(r.agree)
            )
        console.print(rates)
    if summary.controls is not None:
        c = summary.controls
        over = Table(
            "benign controls", "items", "human over-refusal", "refusal detector", "human = detector"
        )
        over.add_row("controls", str(c.items), _rate(c.human), _rate(c.detector), _rate(c.agree))
        console.print(over)


def names_list(names: str | None) -> list[str]:
    """``--reviewers a,b`` as a list of names."""
    return [n.strip() for n in (names or "").split(",") if n.strip()]


def _rate(rate: Rate) -> str:
    if not rate.n:
        return "–"
    low, high = rate.interval
    return f"{rate.value:.1%} [{low:.1%}, {high:.1%}] n={rate.n}"


def _password() -> str:
    """HAECHI_PASSWORD, else asked for twice at the terminal."""
    password = os.environ.get("HAECHI_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise InputError("no terminal to ask for a password: set HAECHI_PASSWORD")
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise InputError("the passwords differ", field="password")
    return password


@users.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ - @).")],
    role: Annotated[str, typer.Option(help="admin | reviewer.")] = "reviewer",
    db: DbOption = None,
) -> None:
    """Create an account. The password is asked for (twice), or read from
    HAECHI_PASSWORD when that is set (for scripts)."""
    from haechi.review.accounts import add_user
    from haechi.store import open_store

    password = _password()
    if role not in ("admin", "reviewer"):
        raise InputError("--role must be admin or reviewer", field="role")
    with open_store(db) as store:
        account = add_user(store, name, role, password)  # type: ignore[arg-type]
    console.print(f"added {account.username} ({account.role})")


@users.command("reset-password")
def users_reset_password(
    name: Annotated[str, typer.Argument(help="User name.")],
    db: DbOption = None,
) -> None:
    """Set a new password (asked for twice, or HAECHI_PASSWORD); the user's logged-in
    sessions end."""
    from haechi.review.accounts import reset_password
    from haechi.store import open_store

    password = _password()
    with open_store(db) as store:
        reset_password(store, name, password)
    console.print(f"new password set for {name}; their sessions have ended")


@users.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="User name.")],
    db: DbOption = None,
) -> None:
    """Remove a login account: it can no longer log in and leaves every campaign. A user
    who has labelled keeps the labels under their name, as an annotator without login."""
    from haechi.review.accounts import remove_user
    from haechi.store import open_store

    with open_store(db) as store:
        kept = remove_user(store, name)
    console.print(f"removed {name}" + (f"; their {kept} labels are kept" if kept else ""))


@users.command("list")
def users_list(
    annotators: Annotated[
        bool,
        typer.Option(
            "--annotators", help="Also the annotators of imported labels (who cannot log in)."
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Every account that can log in, with its role."""
    from haechi.review.accounts import list_users
    from haechi.store import open_store

    with open_store(db) as store:
        accounts = list_users(store, annotators=annotators)
    table = Table("id", "name", "role", "active", "can log in")
    for a in accounts:
        table.add_row(str(a.id), a.username, a.role, str(a.active), str(a.can_login))
    console.print(table)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    db: DbOption = None,
    secure_cookies: Annotated[
        bool, typer.Option(help="HTTPS-only cookies (behind a TLS proxy).")
    ] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="Believe X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a proxy)."
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(help="Comma-separated proxy addresses (or networks) trusted with them."),
    ] = "127.0.0.1",
) -> None:
    """Start the web app: review queue, adjudication, dashboards, leaderboard, users.

    Create an admin first: HAECHI_PASSWORD=… haechi users add alice --role admin
    """
    try:
        import uvicorn
    except ImportError as exc:
        from haechi.errors import MissingExtraError

        raise MissingExtraError("uvicorn", "web") from exc
    from haechi.web import create_app
    from haechi.web.server import server_config

    app = create_app(db, secure_cookies=secure_cookies)
    console.print(f"haechi review on http://{host}:{port}")
    config = server_config(
        app,
        host,
        port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    uvicorn.Server(config).run()
