"""``haechi build``: tools a team uses before it evaluates a model."""

from __future__ import annotations

import typer

from haechi.cli.build_memory_cmd import estimate_command, measure_command
from haechi.cli.build_merge_cmd import merge_command
from haechi.cli.build_tokens_cmd import tokens_command
from haechi.cli.build_train_cmd import train_command
from haechi.cli.build_upscale_cmd import upscale_command

app = typer.Typer(
    help="Build models: depth up-scaling, merging, training-memory estimates, fine-tuning, tokenizer efficiency.",
    no_args_is_help=True,
)
app.command("upscale")(upscale_command)
app.command("merge")(merge_command)
app.command("tokens")(tokens_command)
app.command("train")(train_command)

memory = typer.Typer(
    help="Training memory: estimate it from a config, or measure a few real steps.",
    no_args_is_help=True,
)
memory.command("estimate")(estimate_command)
memory.command("measure")(measure_command)
app.add_typer(memory, name="memory")
