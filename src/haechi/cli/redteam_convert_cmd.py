"""``haechi redteam convert`` and ``haechi redteam converters``: try and list converters."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.errors import InputError
from haechi.models.base import LanguageModel
from haechi.redteam.converters import CONVERTERS, MODEL_KINDS, compose


def convert_command(
    name: Annotated[
        str,
        typer.Argument(
            help="A converter, or several comma-separated ones applied left to right "
            "(see `haechi redteam converters`)."
        ),
    ],
    text: Annotated[str, typer.Argument(help="The text to convert; '-' reads standard input.")],
    inverse: Annotated[
        bool, typer.Option("--inverse", help="Undo the conversion (where it has an inverse).")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Model spec for the model converters (translate, paraphrase)."
        ),
    ] = None,
) -> None:
    """Print TEXT converted by NAME, or with --inverse turned back."""
    names = [part.strip() for part in name.split(",") if part.strip()]
    if text == "-":
        text = sys.stdin.read()
    language_model: LanguageModel | None = None
    if model is not None and any(n in MODEL_KINDS for n in names):
        from haechi.models import load

        language_model = load(model)
    converter = compose(names, language_model)
    if inverse:
        if converter.inverse is None:
            lacking = [n for n in names if n not in CONVERTERS or CONVERTERS[n].inverse is None]
            invertible = [n for n, c in CONVERTERS.items() if c.inverse is not None]
            raise InputError(
                f"converter {', '.join(repr(n) for n in lacking)} has no inverse",
                field="converter",
                hint=f"--inverse works with: {', '.join(invertible)}",
            )
        result = converter.inverse(text)
    else:
        result = converter(text)
    # soft_wrap: never break long lines (base64); markup/emoji off: print the text as it is
    console.print(result, markup=False, highlight=False, emoji=False, soft_wrap=True)


def converters_command() -> None:
    """List the converters: what each does, whether it has an inverse, whether it calls a model."""
    table = Table()
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    table.add_column("inverse", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    for converter in CONVERTERS.values():
        has_inverse = "yes" if converter.inverse is not None else "no"
        table.add_row(converter.name, converter.description, has_inverse, "deterministic")
    for kind, description in MODEL_KINDS.items():
        table.add_row(kind, description, "no", "model (--model)")
    console.print(table)
