"""``haechi guard``: train a GeDi for guided decoding and look at its class posteriors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from haechi.cli.console import console
from haechi.errors import InputError

app = typer.Typer(
    help="Decode-time mitigations: GeDi-guided generation (train a GeDi, score texts).",
    no_args_is_help=True,
)

DataOption = Annotated[
    str,
    typer.Option(
        "--data",
        help="kocohub:DIR (Korean HateSpeech), kosbi:DIR (KoSBi) or a jsonl/csv/tsv file "
        "with text and label.",
    ),
]
DesiredOption = Annotated[
    str | None,
    typer.Option("--desired", help="For a plain file: the label to steer towards."),
]
SplitOption = Annotated[
    str | None,
    typer.Option("--split", help="Dataset split (kocohub: train|dev; kosbi: valid|test)."),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", help="Use only the first N examples.", min=1)
]


@app.command("train-gedi")
def train_gedi_command(
    base: Annotated[str, typer.Option("--base", help="The small LM to start from: hf/ID|PATH.")],
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Folder for the trained GeDi.")],
    desired: DesiredOption = None,
    split: SplitOption = None,
    limit: LimitOption = None,
    gen_weight: Annotated[
        float, typer.Option("--gen-weight", help="λ: weight of the generative loss.")
    ] = 0.8,
    learning_rate: Annotated[float, typer.Option("--lr", help="AdamW learning rate.")] = 2e-5,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 1,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Stop after N steps (overrides epochs).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 4,
    max_length: Annotated[
        int, typer.Option("--max-length", help="Tokens per text, control code included.")
    ] = 192,
    save_every: Annotated[
        int, typer.Option("--save-every", help="Checkpoint every N steps.")
    ] = 500,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    resume: Annotated[
        bool, typer.Option("--resume/--no-resume", help="Continue from OUT's last checkpoint.")
    ] = True,
) -> None:
    """Train a GeDi (class-conditional LM with two control-code tokens) on labelled texts.

    Re-running the same command after an interruption continues from the last checkpoint.
    """
    from haechi.guard.data import load_labelled
    from haechi.guard.gedi_config import GediTraining
    from haechi.guard.gedi_train import train_gedi
    from haechi.validation import validated

    settings = validated(
        GediTraining,
        gen_weight=gen_weight, learning_rate=learning_rate, epochs=epochs, max_steps=max_steps,
        batch_size=batch_size, max_length=max_length, save_every=save_every, seed=seed,
    )  # fmt: skip
    labelled = load_labelled(data, desired=desired, split=split).limited(limit)
    record = labelled.record()
    console.print(
        f"{record.examples:,} examples: {record.desired:,} {labelled.classes.desired} "
        f"(desired), {record.undesired:,} {labelled.classes.undesired} (undesired)"
    )
    try:
        result = train_gedi(
            base, labelled, out, settings, resume=resume, progress=console.is_terminal
        )
    except KeyboardInterrupt:
        console.print("interrupted: run the same command again to resume")
        raise typer.Exit(130) from None
    resumed = f", resumed at step {result.resumed_from}" if result.resumed_from else ""
    console.print(
        f"GeDi saved to {result.out}: {result.steps} steps{resumed}, "
        f"mean loss {result.mean_loss:.4f} nats, {result.seconds:.1f} s"
    )


@app.command("score")
def score_command(
    gedi: Annotated[Path, typer.Argument(help="A trained GeDi folder.")],
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to score.")] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Also score a labelled set and print its AUC.")
    ] = None,
    desired: DesiredOption = None,
    split: SplitOption = None,
    limit: LimitOption = None,
    class_bias: Annotated[
        float, typer.Option("--class-bias", help="Added to the desired class's logit.")
    ] = 0.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Print P(desired | text), the GeDi's Bayes-rule class posterior, for each text."""
    from haechi.guard.data import load_labelled
    from haechi.guard.gedi_model import GediModel
    from haechi.guard.scoring import desired_posterior, evaluate_gedi

    if not texts and data is None:
        raise InputError("give texts to score or --data", field="texts")
    model = GediModel.load(gedi)
    scores = desired_posterior(model, texts or [], class_bias=class_bias) if texts else []
    evaluation = None
    if data is not None:
        evaluation = evaluate_gedi(
            model, load_labelled(data, desired=desired, split=split).limited(limit)
        )
    if json_out:
        report: dict[str, object] = {
            "classes": model.config.classes.model_dump(),
            "scores": [
                {"text": t, "p_desired": p} for t, p in zip(texts or [], scores, strict=True)
            ],
        }
        if evaluation is not None:
            report["evaluation"] = vars(evaluation)
        console.print_json(json.dumps(report, ensure_ascii=False))
        return
    if texts:
        table = Table("text", f"P({model.config.classes.desired})", title="GeDi class posterior")
        for text, p in zip(texts, scores, strict=True):
            table.add_row(text, f"{p:.4f}")
        console.print(table)
    if evaluation is not None:
        console.print(
            f"{data}: AUC {evaluation.auc:.4f} over {evaluation.examples:,} examples; "
            f"mean P(desired) {evaluation.mean_desired:.4f} (desired) vs "
            f"{evaluation.mean_undesired:.4f} (undesired)"
        )
