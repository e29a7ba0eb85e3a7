"""haechi's training-memory estimate vs the measured peak, with accelerate's figure beside.

Not a test: a measurement. Each row builds a random-init model from a config, runs three
training steps with the row's settings (``haechi.build.memory_measure``) and compares the
peak with ``haechi.build.memory_estimate``. On CPU the peak is the torch allocator's live
bytes from ``torch.profiler`` memory events; on CUDA ``torch.cuda.max_memory_allocated``.

accelerate's column is what ``accelerate estimate-memory`` prints under "Training using
Adam" for the same config: it builds ``AutoModel`` (no LM head) on the meta device and
reports the largest of its four AdamW terms (the fp32 row: 4x the fp32 model size; the
float16 row: 2x). It covers neither activations, nor LoRA, nor other optimizers ("n/a").

    python benchmarks/memory_estimate_vs_measured.py                  # CPU, small models
    python benchmarks/memory_estimate_vs_measured.py --preset 1b --device cuda
    python benchmarks/memory_estimate_vs_measured.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, PretrainedConfig

from haechi.build.memory_measure import measure

MODELS: dict[str, dict[str, Any]] = {
    "llama-26M": dict(
        model_type="llama",
        hidden_size=512,
        intermediate_size=1376,
        num_hidden_layers=6,
        num_attention_heads=8,
        num_key_value_heads=4,
        vocab_size=8192,
        tie_word_embeddings=False,
    ),
    "qwen2-tied-16M": dict(
        model_type="qwen2",
        hidden_size=384,
        intermediate_size=1024,
        num_hidden_layers=8,
        num_attention_heads=6,
        num_key_value_heads=2,
        vocab_size=16384,
        tie_word_embeddings=True,
    ),
    "llama-124M": dict(
        model_type="llama",
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        vocab_size=32000,
        tie_word_embeddings=False,
    ),
    # Llama 3.2 1B's shape (random weights): for a lent GPU
    "llama-1.2B": dict(
        model_type="llama",
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=64,
        vocab_size=128256,
        tie_word_embeddings=True,
    ),
}
FULL = [
    {"precision": "fp32", "optimizer": "adamw"},
    {"precision": "fp32", "optimizer": "sgd"},
    {"precision": "bf16", "optimizer": "adamw"},
    {"precision": "bf16-mixed", "optimizer": "adamw"},
    {"precision": "fp32", "optimizer": "adamw", "grad_checkpointing": True},
    {"precision": "bf16-mixed", "optimizer": "adamw", "grad_checkpointing": True},
    {"precision": "fp32", "optimizer": "adamw", "lora_rank": 16},
    {"precision": "bf16-mixed", "optimizer": "adamw", "lora_rank": 16, "grad_checkpointing": True},
    {"precision": "fp32", "optimizer": "adafactor"},
    {"precision": "fp32", "optimizer": "adamw", "attention": "eager"},
    {"precision": "bf16-mixed", "optimizer": "adamw", "grad_accum": 2},
]
PRESETS: dict[str, list[tuple[str, int, int, list[dict[str, Any]]]]] = {
    "cpu": [
        ("llama-26M", 4, 256, FULL),
        ("qwen2-tied-16M", 4, 256, FULL),
        ("llama-124M", 2, 512, [FULL[0], FULL[3], FULL[5], FULL[6]]),
    ],
    "1b": [
        (
            "llama-1.2B",
            4,
            2048,
            [
                {"precision": "bf16-mixed", "optimizer": "adamw"},
                {"precision": "bf16-mixed", "optimizer": "adamw", "grad_checkpointing": True},
                {"precision": "bf16-mixed", "optimizer": "adamw-8bit", "grad_checkpointing": True},
                {"precision": "fp32", "optimizer": "adamw", "grad_checkpointing": True},
                {"precision": "bf16-mixed", "optimizer": "adamw", "lora_rank": 16},
                {"precision": "bf16", "optimizer": "adamw"},
            ],
        )
    ],
}


def make_config(name: str) -> PretrainedConfig:
    values = dict(MODELS[name])
    return AutoConfig.for_model(values.pop("model_type"), **values)


def accelerate_figure(config: PretrainedConfig, precision: str) -> int:
    """What ``accelerate estimate-memory`` prints as "Training using Adam" for this config."""
    from accelerate import init_empty_weights
    from accelerate.commands.estimate import estimate_training_usage
    from accelerate.utils import calculate_maximum_sizes
    from transformers import AutoModel

    with init_empty_weights():
        model = AutoModel.from_config(config, dtype=torch.float32)
    total_size, _ = calculate_maximum_sizes(model)
    row = "float32" if precision == "fp32" else "float16"
    return int(max(estimate_training_usage(total_size, row).values()))


def describe(settings: dict[str, Any]) -> str:
    parts = [settings["precision"], settings["optimizer"]]
    if settings.get("grad_checkpointing"):
        parts.append("ckpt")
    if settings.get("lora_rank"):
        parts.append(f"LoRA r{settings['lora_rank']}")
    if settings.get("attention") == "eager":
        parts.append("eager attention")
    if settings.get("grad_accum", 1) > 1:
        parts.append(f"accumulate {settings['grad_accum']}")
    return " ".join(parts)


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--threads", type=int, help="torch CPU threads (memory does not change)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
        f"device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else "")
    )
    header = "| model | params | batch x seq | setting | estimate MiB | measured MiB | error | peak at | accelerate MiB |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    rows = []
    for name, batch, seq, settings_list in PRESETS[args.preset]:
        config = make_config(name)
        for settings in settings_list:
            start = time.perf_counter()
            result = measure(
                config,
                batch_size=batch,
                seq_len=seq,
                device=args.device,
                steps=args.steps,
                **settings,
            )
            seconds = time.perf_counter() - start
            adam_only = settings["optimizer"] == "adamw" and not settings.get("lora_rank")
            acc = accelerate_figure(config, settings["precision"]) if adam_only else None
            row = {
                "model": name,
                "parameters": result.estimate.parameters,
                "batch_size": batch,
                "seq_len": seq,
                "setting": describe(settings),
                "estimate_bytes": result.estimated_bytes,
                "measured_bytes": result.peak_bytes,
                "relative_error": result.relative_error,
                "peak_moment": result.estimate.peak_moment,
                "accelerate_bytes": acc,
                "seconds": seconds,
                "method": result.method,
            }
            rows.append(row)
            print(
                f"| {name} | {row['parameters'] / 1e6:.1f}M | {batch} x {seq} | {row['setting']} "
                f"| {mib(row['estimate_bytes'])} | {mib(row['measured_bytes'])} "
                f"| {row['relative_error']:+.1%} | {row['peak_moment']} "
                f"| {mib(acc) if acc is not None else 'n/a'} |",
                flush=True,
            )
    errors = [abs(r["relative_error"]) for r in rows]
    print(f"\nmax |error| {max(errors):.2%}, mean |error| {sum(errors) / len(errors):.2%}")
    print(f"method: {rows[0]['method']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
