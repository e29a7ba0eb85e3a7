"""``haechi eval``: run benchmark tasks on a model and record the results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from haechi.chat.templates import TEMPLATES
from haechi.cli.console import console
from haechi.cli.options import (
    BaseUrl,
    DataParallel,
    DbOption,
    ModelArgs,
    RayAddress,
    batch_size_value,
    model_arguments,
    replica_count,
)
from haechi.cli.render import print_report
from haechi.errors import InputError
from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.cache import ResponseCache
from haechi.evaluate.config import DEFAULT_TEMPLATE
from haechi.evaluate.judged import Judging
from haechi.evaluate.replicas import load_model
from haechi.models import load
from haechi.store import open_store
from haechi.tasks import DocumentSource, check_data, resolve
from haechi.validation import validated


def eval_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model spec: hf/<hub id or path>, openai/<model>, vllm/<id|path>, or mock/<name> (a torch-free stand-in for trying a task file).",
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
    base_url: BaseUrl = None,
    num_fewshot: Annotated[
        int | None, typer.Option(help="Override every task's few-shot count.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Evaluate only the first N documents of each task.")
    ] = None,
    batch_size: Annotated[
        str | None,
        typer.Option(
            help="hf backend: rows per forward pass, or 'auto' (halves on out-of-memory).",
            callback=batch_size_value,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder for results.json (and samples).")
    ] = None,
    log_samples: Annotated[
        bool,
        typer.Option(
            "--log-samples", help="Also write samples_<task>.jsonl with per-choice log-likelihoods."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the few-shot draws.")] = 1234,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Read each task from DIR/<task>/<split>.jsonl (.json, .csv, .tsv, .parquet) or its released files (see `haechi tasks show`), e.g. ../shared/data."
        ),
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
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Response cache file (SQLite); re-running a killed command resumes from it."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the response cache.")
    ] = False,
    chunk_size: Annotated[
        int, typer.Option(help="Requests per model call and per cache commit.")
    ] = 256,
    bootstrap_iters: Annotated[
        int,
        typer.Option(
            help="Resamples for the bootstrap stderr of corpus metrics (F1), as lm-eval's "
            "--bootstrap_iters; 0 skips it."
        ),
    ] = 100_000,
    apply_chat_template: Annotated[
        str | None,
        typer.Option(
            metavar="[TEMPLATE]",
            help="Render prompts with a chat template, as lm-eval's --apply_chat_template: "
            f"alone (or '{DEFAULT_TEMPLATE}'), the tokenizer's own (openai without a tokenizer: "
            f"the server's); or {', '.join(TEMPLATES)}, or a Jinja template file.",
        ),
    ] = None,
    fewshot_as_multiturn: Annotated[
        bool | None,
        typer.Option(
            "--fewshot-as-multiturn/--no-fewshot-as-multiturn",
            help="Each few-shot example its own user/assistant turns (default with a chat "
            "template, as lm-eval), or all in one user turn.",
        ),
    ] = None,
    system_instruction: Annotated[
        str | None, typer.Option(help="A system turn before each prompt (with the description).")
    ] = None,
    think_end_token: Annotated[
        str | None,
        typer.Option(
            help="Reasoning models: drop the generated text up to the last TOKEN (e.g. "
            "'</think>') before filters and metrics; --max-gen-toks counts it."
        ),
    ] = None,
    max_gen_toks: Annotated[
        int | None,
        typer.Option(help="Generated-token budget of generate_until tasks, reasoning included."),
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="Judged tasks (ko_logickor): the judge's model spec, e.g. hf/./judge or "
            "openai/gpt-4o; it grades every answer 1-10."
        ),
    ] = None,
    judge_baseline: Annotated[
        str | None,
        typer.Option(
            help="Judged tasks: a baseline model spec (loaded with --model-args); the judge "
            "compares each answer with the baseline's in both orders."
        ),
    ] = None,
    judge_method: Annotated[
        str,
        typer.Option(
            help="Judged tasks: greedy (one answer parsed), sampling, or logprobs "
            "(probability-weighted), as `haechi judge geval --method`."
        ),
    ] = "greedy",
    judge_chat: Annotated[
        bool,
        typer.Option(
            "--judge-chat",
            help="Judged tasks: send each judge form as a chat message (hosted chat models, "
            "instruct judges); greedy and sampling methods.",
        ),
    ] = False,
    judge_args: Annotated[
        str | None,
        typer.Option(help="The judge's backend options as key=value,... (as --model-args)."),
    ] = None,
    db: DbOption = None,
    data_parallel: DataParallel = None,
    ray_address: RayAddress = None,
) -> None:
    """Evaluate a model on benchmark tasks; the run is stored and shown in `haechi leaderboard`.

    Example: haechi eval --model hf/./my-model --tasks ko_arc,kobest --data-dir data/ -o out/
    """
    args = model_arguments(model_args, base_url)
    if batch_size is not None:
        args["batch_size"] = batch_size
    config = validated(
        EvalConfig,
        tasks=tasks.split(","),
        num_fewshot=num_fewshot,
        limit=limit,
        seed=seed,
        data_dir=data_dir,
        samples=samples,
        fewshot_sampling=fewshot_sampling,
        output=output,
        log_samples=log_samples,
        chunk_size=chunk_size,
        bootstrap_iters=bootstrap_iters,
        apply_chat_template=apply_chat_template,
        fewshot_as_multiturn=fewshot_as_multiturn,
        system_instruction=system_instruction,
        think_end_token=think_end_token,
        max_gen_toks=max_gen_toks,
    )
    # a typo in --tasks or a missing data file should not wait for a model to load
    specs, _ = resolve(config.tasks)
    check_data(specs, DocumentSource.choose(config.data_dir, config.samples), config.num_fewshot)
    judged = [s.task for s in specs if s.output_type == "judged"]
    if judged and judge is None:
        raise InputError(
            f"{', '.join(judged)} is graded by a judge model", field="judge", hint="--judge SPEC"
        )
    if judge_method not in ("greedy", "sampling", "logprobs"):
        raise InputError(
            f"unknown method {judge_method!r}",
            field="judge-method",
            hint="greedy, sampling or logprobs",
        )
    lm = load_model(
        model, args, data_parallel=replica_count(data_parallel), ray_address=ray_address
    )
    judging = None
    if judged and judge is not None:
        judging = Judging(
            load(judge, **model_arguments(judge_args, None)),
            load(judge_baseline, **args) if judge_baseline else None,
            judge_method,  # type: ignore[arg-type]
            judge_chat,
        )
    responses = None if no_cache else ResponseCache(cache)
    try:
        with open_store(db) as store:
            report = evaluate(
                lm,
                config,
                store=store,
                cache=responses,
                progress=console.is_terminal,
                judging=judging,
            )
    finally:
        if responses is not None:
            responses.close()
    print_report(report)
    if report.results_path is not None:
        console.print(f"results: {report.results_path}")
    stats = report.document["stats"]
    console.print(
        f"{stats['requests']} requests ({stats['cached_requests']} from the cache), "
        f"{stats['forwarded_tokens']} tokens forwarded, {stats['wall_seconds']} s"
    )
    console.print(f"stored as run {report.run_id}")
