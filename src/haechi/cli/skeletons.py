"""Command groups whose commands arrive with their features; each says what it will hold."""

from __future__ import annotations

import typer

judge = typer.Typer(
    help="Grade generations with an LLM judge (G-Eval) and meta-evaluate it against human ratings.",
    no_args_is_help=True,
)
build = typer.Typer(
    help="Build models: depth up-scaling, training-memory estimates, fine-tuning, tokenizer efficiency.",
    no_args_is_help=True,
)
