"""``haechi models``: inspect a model spec."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.models import load, parse_model_args

app = typer.Typer(
    help="Inspect models given as specs (hf/<id|path>, openai/<model>, vllm/<id|path>)."
)

ModelArgs = Annotated[
    str | None,
    typer.Option(
        "--model-args", help="Backend options as key=value,... e.g. dtype=bfloat16,batch_size=16."
    ),
]


BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="openai backend: the server's URL, e.g. http://127.0.0.1:8000/v1 (default $OPENAI_BASE_URL).",
    ),
]


def model_arguments(model_args: str | None, base_url: str | None) -> dict[str, object]:
    """Backend options from --model-args, plus --base-url when given."""
    args: dict[str, object] = dict(parse_model_args(model_args))
    if base_url is not None:
        args["base_url"] = base_url
    return args


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
