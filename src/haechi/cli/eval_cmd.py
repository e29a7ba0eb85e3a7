"""``haechi eval``: run benchmark tasks on a model and record the results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from haechi.cli.console import console
from haechi.cli.leaderboard_cmd import DbOption
from haechi.cli.models_cmd import ModelArgs
from haechi.cli.render import print_report
from haechi.evaluate import EvalConfig, evaluate
from haechi.models import load, parse_model_args
from haechi.store import open_store
from haechi.tasks import resolve


def eval_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model spec: hf/<hub id or path>, openai/<model> or vllm/<id|path>.",
        ),
    ],
    tasks: Annotated[
        str,
        typer.Option(
            "--tasks",
            "-t",
            help="Comma-separated tasks or groups (see `haechi tasks list`), or task YAML paths.",
        ),
    ],
    model_args: ModelArgs = None,
    num_fewshot: Annotated[
        int | None, typer.Option(help="Override every task's few-shot count.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Evaluate only the first N documents of each task.")
    ] = None,
    batch_size: Annotated[
        str | None,
        typer.Option(
            help="hf backend: rows per forward pass, or 'auto' (halves on out-of-memory)."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder for results.json (and samples).")
    ] = None,
    log_samples: Annotated[
        bool, typer.Option(help="Also write samples_<task>.jsonl with per-choice log-likelihoods.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the few-shot draws.")] = 1234,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Read every task from DIR/<task>/<split>.jsonl (.json, .csv, .parquet)."),
    ] = None,
    samples: Annotated[
        bool, typer.Option("--samples", help="Use the few documents bundled with each task.")
    ] = False,
    fewshot_sampling: Annotated[
        str,
        typer.Option(
            help="'haechi' (draws independent of --limit) or 'lm-eval' (lm-eval 0.4.13's draws)."
        ),
    ] = "haechi",
    db: DbOption = None,
) -> None:
    """Evaluate a model on benchmark tasks; the run is stored and shown in `haechi leaderboard`.

    Example: haechi eval --model hf/./my-model --tasks ko_arc,kobest --data-dir data/ -o out/
    """
    args: dict[str, object] = dict(parse_model_args(model_args))
    if batch_size is not None:
        args["batch_size"] = batch_size
    config = EvalConfig(
        tasks=tasks.split(","),
        num_fewshot=num_fewshot,
        limit=limit,
        seed=seed,
        data_dir=data_dir,
        samples=samples,
        fewshot_sampling=fewshot_sampling,
        output=output,
        log_samples=log_samples,
    )
    resolve(config.tasks)  # a typo in --tasks should not wait for a model to load
    lm = load(model, **args)
    with open_store(db) as store:
        report = evaluate(lm, config, store=store, progress=console.is_terminal)
    print_report(report)
    if report.results_path is not None:
        console.print(f"results: {report.results_path}")
    console.print(f"stored as run {report.run_id}")
