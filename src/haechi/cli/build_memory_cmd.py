"""``haechi build memory estimate|measure``: the training-memory anatomy of a model."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from haechi.build.memory import (
    MeasuredPeak,
    MemoryEstimate,
    ProcessPeak,
    TrainingSetup,
    load_config,
    setup_from,
)
from haechi.cli.console import console
from haechi.errors import InputError

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="A hub id, a model folder or a config.json.")
]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Sequences per micro-batch.")]
SeqLen = Annotated[int, typer.Option("--seq-len", help="Tokens per sequence.")]
PrecisionOption = Annotated[
    str, typer.Option("--precision", help="fp32, bf16-mixed, fp16-mixed (autocast) or bf16.")
]
OptimizerOption = Annotated[
    str, typer.Option("--optimizer", help="adamw, adamw-8bit (bitsandbytes), adafactor or sgd.")
]
Checkpointing = Annotated[
    bool, typer.Option("--grad-checkpointing", help="Recompute each layer in backward.")
]
LoraRank = Annotated[
    int | None, typer.Option("--lora-rank", help="Train LoRA adapters of this rank only.")
]
LoraTargets = Annotated[
    str, typer.Option("--lora-targets", help="Comma-separated projections that get adapters.")
]
GradAccum = Annotated[int, typer.Option("--grad-accum", help="Micro-batches per optimizer step.")]
AttentionOption = Annotated[
    str, typer.Option("--attention", help="sdpa (fused kernel) or eager (keeps the scores).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (bytes) for scripts.")]


def estimate_command(
    model: ModelOption,
    batch_size: BatchSize,
    seq_len: SeqLen,
    precision: PrecisionOption = "fp32",
    optimizer: OptimizerOption = "adamw",
    grad_checkpointing: Checkpointing = False,
    lora_rank: LoraRank = None,
    lora_targets: LoraTargets = "q_proj,v_proj",
    grad_accum: GradAccum = 1,
    attention: AttentionOption = "sdpa",
    device: Annotated[
        str, typer.Option("--device", help="cuda (adds the CUDA context) or cpu.")
    ] = "cuda",
    gpu_memory: Annotated[
        str | None,
        typer.Option("--gpu-memory", help="Say whether it fits this much, e.g. 80GB or 24GiB."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Predict the peak memory of a training step, component by component."""
    from haechi.build.memory_estimate import estimate_setup

    setup = _setup(
        batch_size, seq_len, precision, optimizer, grad_checkpointing, lora_rank,
        lora_targets, grad_accum, attention, device,
    )  # fmt: skip
    result = estimate_setup(
        load_config(model), setup, gpu_memory=memory_size(gpu_memory), model=model
    )
    if json_out:
        console.print_json(json.dumps(result.model_dump(mode="json")))
        return
    console.print(estimate_table(result))


def measure_command(
    model: ModelOption,
    batch_size: BatchSize,
    seq_len: SeqLen,
    precision: PrecisionOption = "fp32",
    optimizer: OptimizerOption = "adamw",
    grad_checkpointing: Checkpointing = False,
    lora_rank: LoraRank = None,
    lora_targets: LoraTargets = "q_proj,v_proj",
    grad_accum: GradAccum = 1,
    attention: AttentionOption = "sdpa",
    device: Annotated[
        str | None, typer.Option("--device", help="cuda or cpu (default: cuda when present).")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Optimizer steps to run (≥ 2).")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random weights.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Run real training steps (random weights) and report the peak next to the estimate."""
    import torch

    from haechi.build.memory_measure import measure_setup

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    setup = _setup(
        batch_size, seq_len, precision, optimizer, grad_checkpointing, lora_rank,
        lora_targets, grad_accum, attention, device,
    )  # fmt: skip
    result = measure_setup(load_config(model), setup, steps=steps, seed=seed, model=model)
    if json_out:
        console.print_json(json.dumps(result.model_dump(mode="json")))
        return
    console.print(estimate_table(result.estimate))
    console.print(measured_table(result))


def _setup(
    batch_size: int,
    seq_len: int,
    precision: str,
    optimizer: str,
    grad_checkpointing: bool,
    lora_rank: int | None,
    lora_targets: str,
    grad_accum: int,
    attention: str,
    device: str,
) -> TrainingSetup:
    values: dict[str, Any] = {
        "batch_size": batch_size,
        "seq_len": seq_len,
        "precision": precision,
        "optimizer": optimizer,
        "grad_checkpointing": grad_checkpointing,
        "lora_rank": lora_rank,
        "lora_targets": tuple(t.strip() for t in lora_targets.split(",") if t.strip()),
        "grad_accum": grad_accum,
        "attention": attention,
        "device": device,
    }
    return setup_from(**values)


def memory_size(value: str | None, field: str = "gpu-memory") -> int | None:
    """A byte count from "24GB", "80GiB" or plain bytes; errors name ``field``."""
    if value is None:
        return None
    from haechi.build.checkpoint_io import parse_size

    try:
        return parse_size(int(value) if value.isdigit() else value)
    except InputError as exc:
        raise InputError(exc.message, field=field, hint=exc.hint) from None


def gib(n: int) -> str:
    """Bytes as GiB (2^30) with two decimals, or MiB below 1 GiB."""
    return f"{n / 2**30:,.2f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def estimate_table(item: MemoryEstimate) -> Table:
    """Components (full size and alive at the peak), the temporaries and the total."""
    s = item.setup
    title = (
        f"{item.model}: batch {s.batch_size} x {s.seq_len} tokens, {s.precision}, {s.optimizer}"
        + (", checkpointing" if s.grad_checkpointing else "")
        + (f", LoRA r={s.lora_rank}" if s.lora_rank else "")
        + (f", accumulate {s.grad_accum}" if s.grad_accum > 1 else "")
        + f", {s.device}"
    )
    table = Table("component", "size", "alive at the peak", title=title)
    names = ("weights", "gradients", "optimizer_states", "activations")
    for name in names:
        table.add_row(name.replace("_", " "), gib(getattr(item, name)), gib(item.at_peak[name]))
    table.add_row("other (at the peak)", "", gib(item.other))
    for name, value in item.other_items.items():
        if value:
            table.add_row(f"  {name.replace('_', ' ')}", "", gib(value), style="dim")
    table.add_row("tensors at the peak", "", gib(item.total), style="bold")
    for label, size in process_rows(item.process):
        table.add_row(label, "", size, style="dim")
    table.add_row(PROCESS_LABEL[item.process.device], "", gib(item.process.total), style="bold")
    table.caption = (
        f"{item.parameters:,} parameters ({item.trainable_parameters:,} trained); "
        f"peak at: {item.peak_moment}"
        + ("" if item.fits_gpu is None else f"; fits {gib(item.gpu_memory or 0)}: ")
        + ("" if item.fits_gpu is None else ("yes" if item.fits_gpu else "NO"))
    )
    return table


PROCESS_LABEL = {
    "cpu": "expected process peak (RSS)",
    "cuda": "expected GPU memory (reserved + context)",
}


def process_rows(process: ProcessPeak) -> list[tuple[str, str]]:
    """What the process adds to the tensors, one row a part (as ``+ size``)."""
    rows = [("  + allocator cache (freed, still held)", process.allocator_cache)]
    if process.device == "cuda":
        rows.append(("  + CUDA context (modelled, not measured)", process.cuda_context))
    else:
        rows.append(("  + interpreter and libraries (measured)", process.baseline))
    return [(label, gib(value)) for label, value in rows]


def measured_table(item: MeasuredPeak) -> Table:
    """Estimated vs measured peak and the relative error."""
    table = Table("estimated tensors", "measured", "error", "method", title="measured peak")
    table.add_row(
        gib(item.estimated_bytes),
        gib(item.peak_bytes),
        f"{item.relative_error:+.1%}",
        item.method,
    )
    return table
