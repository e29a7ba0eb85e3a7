"""``haechi redteam``: run campaigns, report and compare them, try converters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.cli.options import DbOption
from haechi.cli.redteam_convert_cmd import convert_command, converters_command
from haechi.io import write_json_atomic, write_text_atomic
from haechi.store import open_store

if TYPE_CHECKING:
    from haechi.redteam.metrics import Rate
    from haechi.redteam.report import CampaignReport

app = typer.Typer(
    help="Automated red-teaming campaigns: seeds, converters, attacks, detectors, attack-success rates.",
    no_args_is_help=True,
)
app.command("convert")(convert_command)
app.command("converters")(converters_command)


@app.command("run")
def run_command(
    campaign: Annotated[Path, typer.Argument(help="The campaign YAML file.")],
    new_run: Annotated[
        bool, typer.Option("--new-run", help="Start a fresh run even if one is complete.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Run a campaign; re-running the same file resumes an interrupted run, and sends
    nothing once a run of it against the same target is complete (see --new-run).

    Every attempt is stored with its whole chain (seed, generator, converters, turns,
    response, each detector's verdict). Then see `haechi redteam report NAME`.
    """
    from haechi.redteam.campaign import load_campaign
    from haechi.redteam.report import build_report
    from haechi.redteam.runner import Campaign

    spec = load_campaign(campaign)
    prepared = Campaign(spec, campaign.parent.resolve())
    with open_store(db) as store:
        try:
            outcome = prepared.run(store, progress=console.is_terminal, new_run=new_run)
        except KeyboardInterrupt:
            console.print("interrupted: run the same command again to resume")
            raise typer.Exit(130) from None
        report_summary(build_report(store, spec.name))
    if outcome.complete:
        console.print(
            f"run {outcome.run_id[:8]} of this campaign is already complete "
            f"({outcome.skipped} attempts stored): nothing sent; --new-run starts a fresh run"
        )
        return
    console.print(
        f"sent {outcome.sent} attempts ({outcome.skipped} already stored)"
        + (" — token budget reached" if outcome.budget_exhausted else "")
    )


@app.command("report")
def report_command(
    name: Annotated[str, typer.Argument(help="The campaign's name (from its YAML).")],
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report here.")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the numbers as JSON here.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Attack-success rates (Wilson 95% intervals) overall and by category, converter,
    generator and turn; over-refusal on the benign controls; cost."""
    from haechi.redteam.report import build_report, render_html

    with open_store(db) as store:
        report = build_report(store, name)
    report_summary(report)
    if html is not None:
        write_text_atomic(html, render_html(report))
        console.print(f"HTML report: {html}")
    if json_path is not None:
        write_json_atomic(json_path, report.to_json())
        console.print(f"JSON: {json_path}")


@app.command("diff")
def diff_command(
    name_a: Annotated[
        str, typer.Argument(help="The baseline campaign (e.g. the last checkpoint).")
    ],
    name_b: Annotated[str, typer.Argument(help="The campaign to compare with it.")],
    db: DbOption = None,
) -> None:
    """How B's attack-success rates differ from A's (two-proportion z-test per row), and
    the seeds that succeeded through some attempt in one run and through none in the other."""
    from haechi.redteam.diff import diff_reports
    from haechi.redteam.report import build_report

    with open_store(db) as store:
        diff = diff_reports(build_report(store, name_a), build_report(store, name_b))
    table = Table("", f"A: {name_a}", f"B: {name_b}", "B − A", "p")
    for label, c in diff.rows:
        table.add_row(
            label, _rate(c.a.value, c.a.n), _rate(c.b.value, c.b.n),
            "—" if not (c.a.n and c.b.n) else f"{100 * c.delta:+.1f}",
            "—" if c.p_value != c.p_value else f"{c.p_value:.3f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"flipped seeds: {len(diff.broken)} succeeded only in B, {len(diff.fixed)} only in A"
        + "".join(f"\n  {'B' if f.broken else 'A'} {f.seed_id} ({f.category})" for f in diff.flips)
    )


def report_summary(report: CampaignReport) -> None:
    """The terminal summary of one run of a campaign."""
    run = report.run
    console.print(f"[bold]{run.name}[/] run {run.id[:8]} ({run.status}) — target {run.model_spec}")
    console.print(f"attack success rate {_with_interval(report.asr)}")
    over = report.over_refusal
    console.print(
        f"over-refusal on benign controls {_with_interval(over)}"
        if over.n
        else "over-refusal on benign controls: not measured (the campaign sent no controls; "
        "leave controls: out for the bundled Korean set)"
    )
    if over.n:
        topics = report.over_refusal_by("topic")
        console.print(
            "over-refusal by topic: "
            + ", ".join(f"{t} {r.successes}/{r.n}" for t, r in topics.items())
        )
    table = Table("category", "ASR %", "95% CI", "n")
    for category, r in report.by("category").items():
        low, high = r.interval
        table.add_row(
            category, f"{100 * r.value:.1f}", f"{100 * low:.1f}–{100 * high:.1f}", str(r.n)
        )
    console.print(table)
    for name, rows in report.by_turn_reached().items():
        turns = Table("turn", "reached", "succeeded there", "ASR within %", title=name)
        for row in rows:
            turns.add_row(
                str(row.turn), str(row.reached), str(row.succeeded), f"{100 * row.asr.value:.1f}"
            )
        console.print(turns)
    print_coverage(report.coverage())
    cost = report.cost
    console.print(
        f"cost: {cost['prompt_tokens']:.0f} prompt + {cost['completion_tokens']:.0f} completion "
        f"tokens, {cost['seconds']} s"
    )


def print_coverage(summary: dict[str, Any]) -> None:
    """What of the plan a budget left out (nothing printed when all of it was sent)."""
    from haechi.redteam.plan import left_out

    if not summary or summary["covered"] >= summary["planned"]:
        return
    missing = left_out(summary)
    console.print(
        f"budget: {summary['covered']} of {summary['planned']} planned attacks; "
        + (
            "left out entirely: " + ", ".join(missing)
            if missing
            else "every seed set, generator and converter chain sampled"
        )
    )


def _with_interval(r: Rate) -> str:
    if not r.n:
        return "— (n=0)"
    low, high = r.interval
    return f"{100 * r.value:.1f}% (95% CI {100 * low:.1f}–{100 * high:.1f}%, {r.successes}/{r.n})"


def _rate(value: float, n: int) -> str:
    return "—" if not n else f"{100 * value:.1f}% (n={n})"
