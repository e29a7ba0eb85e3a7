"""``haechi build train``: supervised fine-tuning, continued pre-training and preference
tuning (DPO) — full, LoRA, QLoRA — with a memory check first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from haechi.cli.build_memory_cmd import PROCESS_LABEL, estimate_table, gib, memory_size
from haechi.cli.console import console, err_console

if TYPE_CHECKING:
    from haechi.build.train_config import MemoryCheck, TrainReport


def train_command(
    model: Annotated[str, typer.Option("--model", "-m", help="A hub id or a model folder.")],
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="sft: jsonl of {messages: [...]} or {prompt, response} lines; causal-lm: "
            ".txt (blank-line separated documents), jsonl {text} lines or parquet (text column); "
            "dpo: preference pairs as --data-format says.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for checkpoints, adapter, report.")
    ],
    method: Annotated[str, typer.Option("--method", help="lora, qlora (GPU) or full.")] = "lora",
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            help="sft (instruction data), causal-lm (continued pre-training on raw text; "
            "held-out perplexity before and after) or dpo (preference pairs).",
        ),
    ] = "sft",
    data_format: Annotated[
        str | None,
        typer.Option(
            "--data-format",
            help="dpo: pairs (jsonl of prompt/chosen/rejected), arena (votes with both "
            "answers, or `haechi review export` of an arena campaign), review (`haechi review "
            "export` of a red-team campaign: safe answer chosen over harmful) or judge "
            "(`haechi judge pairwise` output). Default: pairs.",
        ),
    ] = None,
    beta: Annotated[
        float, typer.Option("--beta", help="dpo: β, how close the policy stays to the reference.")
    ] = 0.1,
    dpo_loss: Annotated[
        str,
        typer.Option("--dpo-loss", help="dpo: TRL's loss_type (sigmoid, ipo, hinge, robust, ...)."),
    ] = "sigmoid",
    precompute_ref: Annotated[
        bool,
        typer.Option(
            "--precompute-ref",
            help="dpo, full: compute the reference log-probs once first (no second model copy).",
        ),
    ] = False,
    eval_data: Annotated[
        Path | None, typer.Option("--eval-data", help="A jsonl of held-out examples.")
    ] = None,
    eval_fraction: Annotated[
        float | None, typer.Option("--eval-fraction", help="Hold out this share of --data.")
    ] = None,
    epochs: Annotated[float, typer.Option("--epochs", help="Passes over the data.")] = 1.0,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Optimizer steps (overrides --epochs).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Sequences per micro-batch.")] = 1,
    grad_accum: Annotated[
        int, typer.Option("--grad-accum", help="Micro-batches per optimizer step.")
    ] = 1,
    max_length: Annotated[
        int, typer.Option("--max-length", help="Tokens per sequence (longer ones are cut).")
    ] = 1024,
    lr: Annotated[
        float | None,
        typer.Option(
            "--learning-rate", "--lr", help="Default: 2e-4 for LoRA/QLoRA, 2e-5 for full."
        ),
    ] = None,
    warmup_steps: Annotated[int, typer.Option("--warmup-steps", help="Linear warm-up.")] = 0,
    weight_decay: Annotated[float, typer.Option("--weight-decay")] = 0.0,
    optimizer: Annotated[
        str, typer.Option("--optimizer", help="adamw, adamw-8bit (GPU), adafactor or sgd.")
    ] = "adamw",
    precision: Annotated[
        str,
        typer.Option(
            "--precision", help="auto, fp32, bf16-mixed, fp16-mixed (GPU) or bf16 (model cast)."
        ),
    ] = "auto",
    tf32: Annotated[bool, typer.Option("--tf32", help="TF32 matmuls (Ampere+ GPUs).")] = False,
    grad_checkpointing: Annotated[
        bool, typer.Option("--grad-checkpointing", help="Recompute activations in backward.")
    ] = False,
    packing: Annotated[
        bool, typer.Option("--packing", help="Pack examples into --max-length rows.")
    ] = False,
    assistant_only_loss: Annotated[
        bool,
        typer.Option("--assistant-only-loss", help="messages: train on assistant turns only."),
    ] = False,
    lora_rank: Annotated[int, typer.Option("--lora-rank")] = 16,
    lora_alpha: Annotated[int, typer.Option("--lora-alpha")] = 32,
    lora_dropout: Annotated[float, typer.Option("--lora-dropout")] = 0.05,
    lora_targets: Annotated[
        str, typer.Option("--lora-targets", help="Comma-separated projections with adapters.")
    ] = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cuda or cpu.")] = "auto",
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            "--gpu-memory",
            help="Memory the run may use, e.g. 24GB (default: the GPU's, or available RAM).",
        ),
    ] = None,
    cpu_peak: Annotated[
        str,
        typer.Option(
            "--cpu-peak", help="CPU peak: rss, or profiler (exact tensor bytes, slower steps)."
        ),
    ] = "rss",
    force: Annotated[
        bool, typer.Option("--force", help="Train even if the estimate does not fit.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last checkpoint in --output.")
    ] = False,
    merge: Annotated[
        bool, typer.Option("--merge", help="Also save base + adapter merged into one model.")
    ] = False,
    logging_steps: Annotated[
        int, typer.Option("--logging-steps", help="Log the loss every N.")
    ] = 10,
    save_steps: Annotated[
        int, typer.Option("--save-steps", help="Checkpoint every N steps.")
    ] = 500,
    eval_steps: Annotated[
        int | None, typer.Option("--eval-steps", help="Evaluate every N steps (and at the end).")
    ] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Hub revision.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Fine-tune a causal LM on Korean instruction data (TRL SFT: LoRA, QLoRA, full), raw
    text (--objective causal-lm) or preference pairs (--objective dpo: TRL DPO).

    First it prints the estimated peak memory of one training step.
    A run that exceeds the GPU's memory (on CPU: the available RAM),
    or --memory-limit, is refused with exit 2 and settings that would fit;
    --force trains anyway. Output: OUTPUT/adapter (or OUTPUT/model),
    OUTPUT/merged with --merge, checkpoint-N folders, and
    OUTPUT/train_report.json (settings, data sha256, versions, losses,
    samples/s, tokens/s, peak memory next to the estimate).

    Examples:

      haechi build train -m ./base --data sft.jsonl -o runs/lora

      haechi build train -m ./base --data sft.jsonl -o runs/q \\
        --method qlora --grad-checkpointing --batch-size 4 --grad-accum 8 \\
        --gpu-memory 24GB --merge

      haechi build train -m ./base --data sft.jsonl -o runs/full \\
        --method full --precision bf16 --eval-fraction 0.05 --max-steps 2000

      haechi build train -m ./base --data sft.jsonl -o runs/full \\
        --method full --precision bf16 --max-steps 4000 --resume

      haechi build train -m ./sft --objective dpo --data-format arena \\
        --data votes.jsonl -o runs/dpo --beta 0.1
    """
    from haechi.build.train import plan_memory, train
    from haechi.build.train_config import TrainConfig
    from haechi.build.train_memory import DoesNotFitError
    from haechi.validation import validated

    values: dict[str, Any] = {
        "model": model, "data": data, "output": output, "revision": revision,
        "eval_data": eval_data, "eval_fraction": eval_fraction, "method": method,
        "objective": objective, "data_format": data_format, "beta": beta,
        "dpo_loss": dpo_loss, "precompute_ref": precompute_ref,
        "epochs": epochs, "max_steps": max_steps, "batch_size": batch_size,
        "grad_accum": grad_accum, "max_length": max_length, "learning_rate": lr,
        "warmup_steps": warmup_steps, "weight_decay": weight_decay, "optimizer": optimizer,
        "precision": precision, "tf32": tf32, "grad_checkpointing": grad_checkpointing,
        "packing": packing, "assistant_only_loss": assistant_only_loss,
        "lora_rank": lora_rank, "lora_alpha": lora_alpha, "lora_dropout": lora_dropout,
        "lora_targets": tuple(t.strip() for t in lora_targets.split(",") if t.strip()),
        "seed": seed, "device": device, "memory_limit": memory_size(memory_limit, "memory-limit"), "cpu_peak": cpu_peak,
        "force": force,
        "resume": resume, "merge": merge, "logging_steps": logging_steps,
        "save_steps": save_steps, "eval_steps": eval_steps,
    }  # fmt: skip
    config = validated(TrainConfig, values)
    check = plan_memory(config)
    out = err_console if json_out else console
    if config.objective == "dpo":
        out.print("dpo: each pair is two rows (chosen, rejected): the estimate's batch counts rows")
    _print_check(check, out)
    if check.fits is False and not force:
        raise DoesNotFitError(check)
    report = train(config, progress=not json_out)
    if json_out:
        console.print_json(json.dumps(report.model_dump(mode="json")))
        return
    console.print(report_table(report))


def _print_check(check: MemoryCheck, out: Any) -> None:
    if check.estimate is None or check.process is None:
        out.print("[yellow]no memory estimate for this model family: the check is skipped")
        return
    out.print(estimate_table(check.estimate))
    if check.overheads:
        table = Table("what TRL, peft, bitsandbytes change", f"at {check.peak_moment}")
        for item, nbytes in check.overheads.items():
            table.add_row(item, ("+" if nbytes > 0 else "−") + gib(abs(nbytes)))
        out.print(table)
    process = check.process
    verdict = "fits" if check.fits else "[bold red]does NOT fit[/]"
    out.print(
        f"this run: {gib(process.tensors)} of tensors at the peak; "
        f"{PROCESS_LABEL[process.device]} {gib(process.total)}; {verdict} in "
        f"{gib(check.limit)} ({check.limit_source})"
    )
    if check.advice:
        table = Table("change", "expected peak", title="settings that would fit")
        for change, total in check.advice.items():
            table.add_row(change, gib(total))
        out.print(table)
    elif not check.fits:
        out.print("no setting the estimator knows fits")


def report_table(report: TrainReport) -> Table:
    """Loss, throughput, peak memory next to the estimate, and where the outputs are."""
    table = Table(
        "",
        "",
        show_header=False,
        title=f"trained {report.config.method} ({report.config.objective})",
    )
    losses = report.losses
    if losses:
        table.add_row(
            "loss", f"{losses[0].loss:.4f} (step {losses[0].step}) → {losses[-1].loss:.4f}"
        )
    if report.eval_losses:
        table.add_row("eval loss", f"{report.eval_losses[-1].loss:.4f}")
    for label, points in (("", report.preferences), ("held-out ", report.eval_preferences)):
        if points:
            first, last = points[0], points[-1]
            table.add_row(
                f"{label}reward margin",
                f"{first.margin:+.4f} (step {first.step}) → {last.margin:+.4f}, "
                f"accuracy {last.accuracy:.2f}",
            )
    if report.data.dropped:
        dropped = ", ".join(f"{n} {why}" for why, n in report.data.dropped.items())
        table.add_row("pairs", f"{report.data.train_examples} (dropped: {dropped})")
    before, after = report.perplexity_before, report.perplexity_after
    if before is not None and after is not None:
        table.add_row(
            "held-out perplexity",
            f"{before.value:,.2f} → {after.value:,.2f} ({after.tokens:,} tokens)",
        )
    resumed = f" (resumed from {Path(report.resumed_from).name})" if report.resumed_from else ""
    table.add_row("steps", f"{report.global_step}{resumed}")
    speed = report.throughput
    table.add_row("samples/s", f"{speed.samples_per_second:,.2f}")
    table.add_row("tokens/s", f"{speed.tokens_per_second:,.0f} (real tokens, padding left out)")
    peak = report.peak
    estimated = "" if peak.estimated is None else f" (estimate {gib(peak.estimated)})"
    table.add_row("peak memory", f"{gib(peak.bytes)}{estimated}")
    table.add_row("measured by", peak.method)
    for kind, folder in report.outputs.items():
        table.add_row(kind, folder)
    table.add_row("report", str(report.config.output / "train_report.json"))
    return table
