"""Command groups whose commands arrive with their features; each says what it will hold."""

from __future__ import annotations

import typer

build = typer.Typer(
    help="Build models: depth up-scaling, training-memory estimates, fine-tuning, tokenizer efficiency.",
    no_args_is_help=True,
)
