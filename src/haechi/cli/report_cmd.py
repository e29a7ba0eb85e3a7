"""``haechi report MODEL -o report.html``: a model's release view as one file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from haechi.cli.options import DbOption


def report_command(
    model: Annotated[
        str, typer.Argument(help="A model fingerprint (or a unique prefix) or a model spec.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    against: Annotated[
        str | None, typer.Option(help="Chart the scores against this model (fingerprint or spec).")
    ] = None,
    language: Annotated[str, typer.Option(help="Page language: en or ko.")] = "en",
    db: DbOption = None,
) -> None:
    """Write the model page of `haechi serve` as one self-contained HTML file: scores,
    judge scores, red-team ASR, human labels and arena ratings (no script, no network)."""
    from haechi.cli.console import console
    from haechi.errors import InputError
    from haechi.io import write_text_atomic
    from haechi.model_summary import find_model, model_summary
    from haechi.review.accounts import DATABASE_OWNER
    from haechi.store import open_store
    from haechi.web.report import render_report

    if language not in ("en", "ko"):
        raise InputError(f"unknown language {language!r}", field="language", hint="en or ko")
    with open_store(db) as store:
        fingerprint = find_model(store, model)
        other = find_model(store, against) if against else None
        summary = model_summary(store, fingerprint, DATABASE_OWNER, against=other)
    write_text_atomic(output, render_report(summary, "ko" if language == "ko" else "en"))
    console.print(f"model report for {summary.specs[0]} ({fingerprint[:12]}): {output}")
