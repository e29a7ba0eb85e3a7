"""``haechi models``: inspect a model spec."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.cli.options import BaseUrl, ModelArgs, model_arguments
from haechi.models import load

app = typer.Typer(
    help="Inspect models given as specs (hf/<id|path>, openai/<model>, vllm/<id|path>)."
)


@app.command("info")
def info(
    spec: Annotated[str, typer.Argument(help="e.g. hf/./my-checkpoint or openai/gpt-4o-mini")],
    model_args: ModelArgs = None,
    base_url: BaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Load a model and show its backend, configuration and fingerprint."""
    model = load(spec, **model_arguments(model_args, base_url))
    described = {"name": model.name, "fingerprint": model.fingerprint, **model.describe()}
    if as_json:
        console.print_json(json.dumps(described, default=str))
        return
    table = Table(show_header=False, box=None)
    for key, value in described.items():
        table.add_row(f"[bold]{key}", str(value))
    console.print(table)
