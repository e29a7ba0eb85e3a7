"""``haechi judge``: G-Eval grading and its meta-evaluation against human ratings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.cli.judge_meta_cmd import meta_eval_command
from haechi.cli.options import BaseUrl, DbOption, ModelArgs, model_arguments

app = typer.Typer(
    help="Grade generations with an LLM judge (G-Eval) and meta-evaluate it against human ratings.",
    no_args_is_help=True,
)
app.command("meta-eval")(meta_eval_command)


@app.command("geval")
def geval_command(
    judge: Annotated[
        str,
        typer.Option("--judge", help="The judge's model spec, e.g. hf/./judge or openai/gpt-4o."),
    ],
    criteria: Annotated[
        str, typer.Option(help="Comma-separated criteria (bundled names or YAML paths).")
    ],
    input_path: Annotated[
        Path,
        typer.Option(
            "--input", help="Items jsonl: id, source, output [, doc_id, system, reference]."
        ),
    ],
    output: Annotated[Path, typer.Option(help="Scored jsonl to write.")],
    method: Annotated[
        str, typer.Option(help="logprobs (probability-weighted), sampling, or greedy.")
    ] = "logprobs",
    samples: Annotated[int, typer.Option(help="sampling: answers per item (the paper: 20).")] = 20,
    temperature: Annotated[float, typer.Option(help="sampling: temperature (the paper: 2).")] = 2.0,
    steps: Annotated[
        Path | None, typer.Option(help="JSON criterion → steps, to pin the evaluation steps.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampled answers.")] = 0,
    model_args: ModelArgs = None,
    base_url: BaseUrl = None,
    cache: Annotated[
        Path | None, typer.Option(help="Response cache (a killed run resumes from it).")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            help="The model whose outputs these are (spec or fingerprint): its model page "
            "in haechi serve lists the scores."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Score every item on every criterion; steps are generated once per judge and reused."""
    from haechi.evaluate.cache import ResponseCache
    from haechi.judge.criteria import resolve_criteria
    from haechi.judge.geval import evaluation_steps, load_pinned_steps, score_items
    from haechi.judge.items import read_items, write_scored
    from haechi.judge.record import store_judge_run
    from haechi.models import load

    if method not in ("logprobs", "sampling", "greedy"):
        from haechi.errors import InputError

        raise InputError(
            f"unknown method {method!r}", field="method", hint="logprobs, sampling or greedy"
        )
    chosen = resolve_criteria(criteria)
    items = read_items(input_path)
    model = load(judge, **model_arguments(model_args, base_url))
    pinned = load_pinned_steps(steps) if steps else None
    plan = evaluation_steps(model, chosen, pinned=pinned)
    responses = ResponseCache(cache)
    try:
        scores = score_items(
            model, items, chosen, plan, method=method, samples=samples,  # type: ignore[arg-type]
            temperature=temperature, seed=seed, cache=responses, progress=console.is_terminal,
        )  # fmt: skip
    finally:
        responses.close()
    write_scored(output, items, scores)
    table = Table("criterion", "mean score", "scored", "unparsed answers")
    for c in chosen:
        values = [v for row in scores if (v := row[c.name].score) is not None]
        unparsed = sum(row[c.name].unparsed for row in scores)
        mean = sum(values) / len(values) if values else float("nan")
        table.add_row(c.name, f"{mean:.3f}", f"{len(values)}/{len(scores)}", str(unparsed))
    console.print(table)
    run_id = store_judge_run(db, model, chosen, plan, method, scores, subject)
    console.print(f"scored items: {output}; stored as run {run_id}")


@app.command("pairwise")
def pairwise_command(
    judge: Annotated[str, typer.Option("--judge", help="The judge's model spec.")],
    criteria: Annotated[
        str, typer.Option(help="Comma-separated criteria (bundled names or YAML paths).")
    ],
    input_path: Annotated[
        Path, typer.Option("--input", help="Pairs jsonl: id, source, output_a, output_b.")
    ],
    output: Annotated[Path, typer.Option(help="jsonl of winners (A, B or tie) per criterion.")],
    steps: Annotated[
        Path | None, typer.Option(help="JSON criterion → steps, to pin the evaluation steps.")
    ] = None,
    model_args: ModelArgs = None,
    base_url: BaseUrl = None,
) -> None:
    """A vs B on every criterion, asked in both orders; a preference that flips with the
    position counts as a tie."""
    from haechi.judge.criteria import resolve_criteria
    from haechi.judge.geval import evaluation_steps, load_pinned_steps, pairwise
    from haechi.judge.items import read_pairs, write_jsonl
    from haechi.models import load

    chosen = resolve_criteria(criteria)
    pairs = read_pairs(input_path)
    model = load(judge, **model_arguments(model_args, base_url))
    plan = evaluation_steps(model, chosen, pinned=load_pinned_steps(steps) if steps else None)
    records: list[dict[str, object]] = []
    tally = {c.name: {"A": 0, "B": 0, "tie": 0} for c in chosen}
    for pair in pairs:
        winners: dict[str, object] = {}
        for c in chosen:
            verdict = pairwise(
                model, c, plan[c.name], pair["source"], pair["output_a"], pair["output_b"]
            )
            winners[c.name] = {"winner": verdict.winner, "orders": list(verdict.orders)}
            tally[c.name][verdict.winner] += 1
        records.append({**pair, "pairwise": winners})
    write_jsonl(output, records)
    table = Table("criterion", "A wins", "B wins", "ties")
    for name, counts in tally.items():
        table.add_row(name, str(counts["A"]), str(counts["B"]), str(counts["tie"]))
    console.print(table)
