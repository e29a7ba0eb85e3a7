"""``haechi generate``: answer a prompt suite with one model, resumably, into a jsonl file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.chat_cmd import TemplateOption
from haechi.cli.console import console
from haechi.cli.options import BaseUrl, ModelArgs, model_arguments
from haechi.errors import InputError

DEFAULT_SUITE = "ko_basic"


def generate_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="e.g. hf/./my-checkpoint or openai/gpt-4o.")
    ] = None,
    prompts: Annotated[
        str,
        typer.Option(
            "--prompts",
            help="Prompt jsonl (id, prompt or messages, optional category) or a bundled "
            "suite's name.",
        ),
    ] = DEFAULT_SUITE,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Answers jsonl; lines are appended and a rerun resumes."),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="System prompt.")] = None,
    template: TemplateOption = None,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", help="Most tokens generated per answer.")
    ] = 512,
    temperature: Annotated[float, typer.Option(help="0 is greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass.")] = 1.0,
    seed: Annotated[
        int | None, typer.Option(help="Sampling seed (each prompt derives its own from it).")
    ] = None,
    n: Annotated[int, typer.Option("--n", help="Answers per prompt.")] = 1,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", help="Prompts per model call (a killed run loses one)."),
    ] = 8,
    model_args: ModelArgs = None,
    base_url: BaseUrl = None,
    guard: Annotated[
        str | None,
        typer.Option(
            help="Decode-time guard for hf models, e.g. gedi:./gedi-dir[,disc_weight=30] "
            "(see `haechi guard train-gedi`)."
        ),
    ] = None,
    list_suites: Annotated[
        bool, typer.Option("--list-suites", help="List the bundled suites and exit.")
    ] = False,
) -> None:
    """Generate an answer for every prompt of a suite; rerunning skips answered ids.

    Examples:

      haechi generate -m hf/./ckpt-a -o a.jsonl            # the bundled ko_basic suite

      haechi review import a.jsonl --campaign ko-answers   # reviewers label the answers

      haechi arena pairs a.jsonl b.jsonl --campaign a-vs-b # or vote between two models
    """
    from haechi.arena import GenerationSettings, load_suite, run_generation
    from haechi.models import load
    from haechi.validation import validated

    if list_suites:
        console.print(_suites_table())
        return
    if model is None or out is None:
        raise InputError(
            "--model and --out (-o) are required", field="model" if model is None else "out"
        )
    settings = validated(
        GenerationSettings,
        system=system, template=template, max_new_tokens=max_new_tokens,
        temperature=temperature, top_p=top_p, seed=seed, n=n,
    )  # fmt: skip
    if batch_size < 1:
        raise InputError("must be at least 1", field="batch-size")
    suite = load_suite(prompts)
    target = load(model, **model_arguments(model_args, base_url))
    if guard:
        from haechi.guard import apply_guard

        target = apply_guard(target, guard)
    run = run_generation(
        target, suite, settings, out, batch_size=batch_size, progress=console.is_terminal
    )
    console.print(
        f"{run.generated} prompts answered, {run.skipped} already in {run.out}; "
        f"configuration: {run.config}",
        highlight=False,
    )


def _suites_table() -> Table:
    from haechi.arena import CATEGORY_NAMES, bundled_suites, load_suite

    table = Table("suite", "category", "", "prompts")
    for name in bundled_suites():
        for category, count in load_suite(name).categories().items():
            table.add_row(name, category, CATEGORY_NAMES.get(category, ""), str(count))
    return table
