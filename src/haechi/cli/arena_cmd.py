"""``haechi arena``: rate models from pairwise preference votes (Bradley–Terry)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.cli.options import DbOption
from haechi.errors import InputError

if TYPE_CHECKING:
    from haechi.arena import Ratings, Vote

app = typer.Typer(
    help="Compare models by preference votes: Bradley–Terry ratings with bootstrap intervals.",
    no_args_is_help=True,
)


@app.command("ratings")
def ratings_command(
    votes: Annotated[
        Path | None,
        typer.Argument(
            help="Votes (jsonl, json or csv): model_a, model_b, winner "
            "(model_a|a, model_b|b, tie, both_bad|tie (bothbad))."
        ),
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="Rate the votes of this review campaign instead.")
    ] = None,
    db: DbOption = None,
    both_bad: Annotated[
        str, typer.Option("--both-bad", help="Count both-bad votes as a tie, or drop them.")
    ] = "tie",
    prior: Annotated[
        float,
        typer.Option(help="Virtual ties of each model against an average one (0: plain MLE)."),
    ] = 1.0,
    anchor: Annotated[
        str | None, typer.Option(help="Model fixed at --anchor-rating (default: the mean).")
    ] = None,
    anchor_rating: Annotated[float, typer.Option("--anchor-rating")] = 1000.0,
    rounds: Annotated[int, typer.Option(help="Bootstrap resamples of the votes.")] = 1000,
    confidence: Annotated[float, typer.Option(help="Interval coverage.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    win_rates: Annotated[
        bool, typer.Option("--win-rates/--no-win-rates", help="Also print the win-rate matrix.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Rate the models in a votes file, or in a side-by-side review campaign (400 points =
    10:1 odds, as in Elo)."""
    from haechi.arena import RatingOptions, rate, read_votes

    if (votes is None) == (campaign is None):
        raise InputError("give a votes file or --campaign (one of them)", field="votes")

    if both_bad not in ("tie", "drop"):
        raise InputError(f"unknown choice {both_bad!r}", field="both-bad", hint="tie or drop")
    try:
        options = RatingOptions(
            both_bad="tie" if both_bad == "tie" else "drop",
            prior=prior,
            anchor=anchor,
            anchor_rating=anchor_rating,
            rounds=rounds,
            confidence=confidence,
            seed=seed,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    result = rate(read_votes(votes) if votes else _campaign_votes(str(campaign), db), options)
    if as_json:
        console.print_json(json.dumps(dataclasses.asdict(result)))
        return
    console.print(ratings_table(result))
    if win_rates:
        console.print(win_rate_table(result))


def _campaign_votes(campaign: str, db: str | None) -> list[Vote]:
    from haechi.review.accounts import DATABASE_OWNER
    from haechi.review.arena import campaign_votes
    from haechi.review.results import campaign_results
    from haechi.store import open_store

    with open_store(db) as store:
        found = campaign_votes(campaign_results(store, campaign, DATABASE_OWNER))
    if not found:
        raise InputError(f"campaign {campaign!r} has no votes yet", field="campaign")
    return found


@app.command("pairs")
def pairs_command(
    first: Annotated[Path, typer.Argument(help="`haechi generate` output of one model.")],
    second: Annotated[Path, typer.Argument(help="`haechi generate` output of another model.")],
    campaign: Annotated[
        str, typer.Option(help="Review campaign for the votes (created when new).")
    ],
    overlap: Annotated[
        int | None, typer.Option(help="Voters per pair (new campaign; default 2).")
    ] = None,
    reviewers: Annotated[
        str | None, typer.Option(help="Comma-separated user names who vote.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the A/B order.")] = 0,
    judge_input: Annotated[
        Path | None,
        typer.Option(help="Also write these pairs as `haechi judge pairwise --input` (same A/B)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Put two models' answers side by side for votes in `haechi serve` (A and B in a
    random order, model names hidden until the vote).

    Example:

      haechi generate -m hf/./ckpt-a -o a.jsonl; haechi generate -m hf/./ckpt-b -o b.jsonl

      haechi arena pairs a.jsonl b.jsonl --campaign a-vs-b --reviewers minji,jisoo
    """
    from haechi.cli.review_cmd import names_list
    from haechi.judge.items import write_jsonl
    from haechi.review.arena import arena_schema, judge_pairs, pair_lines
    from haechi.review.imports import import_items
    from haechi.store import open_store

    lines = pair_lines(first, second, seed)
    with open_store(db) as store:
        _, summary = import_items(
            store,
            campaign,
            lines,
            f"arena:{first.name}+{second.name}",
            label_schema=arena_schema(),
            overlap=overlap,
            reviewers=names_list(reviewers),
            progress=console.is_terminal,
        )
    if judge_input is not None:
        write_jsonl(judge_input, judge_pairs(lines))
    console.print(f"{campaign}: {summary.added} pairs added, {summary.skipped} already there")


@app.command("judge-agreement")
def judge_agreement_command(
    campaign: Annotated[str, typer.Option(help="Side-by-side review campaign.")],
    judged: Annotated[Path, typer.Option(help="`haechi judge pairwise` output on the same pairs.")],
    criterion: Annotated[
        str | None, typer.Option(help="Criterion to compare (default: the first).")
    ] = None,
    db: DbOption = None,
) -> None:
    """How often the judge's winner matches the human majority vote, with Cohen's kappa."""
    from haechi.documents import read_file
    from haechi.review.accounts import DATABASE_OWNER
    from haechi.review.arena import judge_agreement
    from haechi.review.results import campaign_results
    from haechi.store import open_store

    records = [dict(doc.fields) for doc in read_file(judged)]
    with open_store(db) as store:
        result = judge_agreement(
            campaign_results(store, campaign, DATABASE_OWNER), records, criterion
        )
    console.print(
        f"{result.pairs} pairs: judge = human on {result.agreement:.1%}, Cohen's kappa {result.kappa:.3f}"
    )
    table = Table("human \\ judge", "a", "b", "tie")
    for human in ("a", "b", "tie"):
        row = result.confusion.get(human, {})
        table.add_row(human, *(str(row.get(j, 0)) for j in ("a", "b", "tie")))
    console.print(table)


def ratings_table(result: Ratings) -> Table:
    """Rank, model, rating with its interval, and the model's record."""
    share = round(result.options.confidence * 100)
    dropped = f", {result.dropped} both-bad dropped" if result.dropped else ""
    table = Table(
        "#", "model", "rating", f"{share}% interval", "votes", "wins", "losses", "ties",
        title=f"Bradley–Terry ratings from {result.votes} votes{dropped}",
    )  # fmt: skip
    for rank, r in enumerate(result.ratings, start=1):
        table.add_row(
            str(rank), r.model, f"{r.rating:.0f}", f"{r.lower:.0f} – {r.upper:.0f}",
            str(r.votes), str(r.wins), str(r.losses), str(r.ties),
        )  # fmt: skip
    return table


def win_rate_table(result: Ratings) -> Table:
    """Row model's observed win rate against the column model (ties count half)."""
    rates = result.win_rates
    table = Table("row beats column", *rates.models, title="observed win rates (votes)")
    for model, row, counts in zip(rates.models, rates.rate, rates.count, strict=True):
        cells = ["·" if r is None else f"{r:.2f} ({c})" for r, c in zip(row, counts, strict=True)]
        table.add_row(model, *cells)
    return table
