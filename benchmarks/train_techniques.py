"""Throughput and peak memory of single-device training techniques, next to the estimate.

Not a test: a measurement. One ``haechi.build.train`` run per technique of Hugging Face's
"efficient training on a single GPU" guide (baseline, gradient accumulation, gradient
checkpointing, mixed precision, bf16 weights, Adafactor, 8-bit AdamW, LoRA, QLoRA), each
for ``--steps`` optimizer steps in a fresh Python process, on a random Llama built
locally (``haechi.models.smoke``) and synthetic Korean instructions whose responses are
longer than ``--max-length``: every sequence is cut to exactly that many tokens, so
micro-batches hold no padding and the estimate's sequence length is the real one.

samples/s and tokens/s count the seconds inside optimizer steps (the report's
``throughput``); the peak is ``torch.cuda.max_memory_allocated`` on CUDA and, on CPU, the
process's resident-set growth during training plus the model's tensors (the report's
``peak.method``), which includes what the allocator caches and libraries load. 8-bit
AdamW and QLoRA need CUDA and bitsandbytes; elsewhere their rows say "skipped".

    python benchmarks/train_techniques.py                     # CPU: hidden 384, 6 layers
    python benchmarks/train_techniques.py --hidden 2048 --layers 16 --batch-size 8 \\
        --max-length 1024 --steps 20                          # on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# (technique, settings beyond the baseline's: full fine-tuning, fp32, AdamW, batch B)
TECHNIQUES: list[tuple[str, dict[str, Any]]] = [
    ("baseline", {}),
    ("gradient accumulation", {"batch_size": 1, "grad_accum": "B"}),
    ("gradient checkpointing", {"grad_checkpointing": True}),
    ("mixed precision (bf16)", {"precision": "bf16-mixed"}),
    ("bf16 weights", {"precision": "bf16"}),
    ("Adafactor", {"optimizer": "adafactor"}),
    ("8-bit AdamW", {"optimizer": "adamw-8bit"}),
    ("LoRA r16", {"method": "lora"}),
    ("QLoRA r16", {"method": "qlora"}),
]
NEEDS_CUDA = {"8-bit AdamW", "QLoRA r16"}


def build_data(path: Path, examples: int) -> Path:
    """Prompt/response lines from the bundled Korean/English corpus, long responses."""
    from haechi.models.smoke import corpus_lines

    lines = corpus_lines()
    rows = []
    for i in range(examples):
        chosen = [lines[(i * 7 + k) % len(lines)] for k in range(24)]
        prompt = f"다음 글을 이어서 써 주세요: {chosen[0]}"
        rows.append({"prompt": prompt, "response": " ".join(chosen[1:])})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def run_one(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """Train one technique in this process; its numbers as a dict."""
    from haechi.build.train import train
    from haechi.build.train_config import TrainConfig

    settings: dict[str, Any] = {"method": "full", "batch_size": args.batch_size}
    for key, value in dict(TECHNIQUES)[name].items():
        settings[key] = args.batch_size if value == "B" else value
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(
            model=args.model,
            data=args.data,
            output=Path(out) / "run",
            max_steps=args.steps,
            max_length=args.max_length,
            precision=settings.pop("precision", "fp32"),
            device=args.device,
            force=True,
            save_steps=10**6,
            cpu_peak=args.cpu_peak,
            **settings,
        )
        report = train(config, progress=False)
    losses = [p.loss for p in report.losses]
    return {
        "technique": name,
        "samples_per_second": report.throughput.samples_per_second,
        "tokens_per_second": report.throughput.tokens_per_second,
        "peak": report.peak.bytes,
        "estimate": report.peak.estimated,
        "method": report.peak.method,
        "trainable": report.base_model.trainable_parameters,
        "parameters": report.base_model.parameters,
        "loss": [losses[0], losses[-1]],
        "device": report.device_name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run.")
    parser.add_argument(
        "--cpu-peak",
        choices=("rss", "profiler"),
        default="rss",
        help="CPU peak: resident set, or torch's allocator events (exact, slows the steps).",
    )
    parser.add_argument("--json", type=Path, help="Also write the rows here.")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: one technique
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(run_one(args, args.one)))
        return

    import torch

    from haechi.models.smoke import build_tiny_model

    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    try:
        import bitsandbytes  # noqa: F401

        has_bnb = True
    except ImportError:
        has_bnb = False
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_model(
            Path(tmp) / "model",
            hidden_size=args.hidden,
            num_layers=args.layers,
            num_heads=max(4, args.hidden // 64),
            num_kv_heads=max(2, args.hidden // 256),
            intermediate_size=args.hidden * 8 // 3 // 64 * 64,
            max_positions=max(1024, args.max_length),
        )
        data = build_data(Path(tmp) / "data.jsonl", 64)
        for name, _ in TECHNIQUES:
            if name in NEEDS_CUDA and not (cuda and has_bnb):
                why = "needs CUDA" if not cuda else "needs bitsandbytes"
                rows.append({"technique": name, "skipped": why})
                continue
            command = [sys.executable, __file__, "--one", name, "--model", str(model)]
            command += ["--data", str(data), "--steps", str(args.steps)]
            command += ["--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]
            command += ["--device", args.device, "--threads", str(args.threads)]
            command += ["--cpu-peak", args.cpu_peak]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                rows.append({"technique": name, "skipped": f"failed: {done.stderr.strip()[-300:]}"})
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{name}: done", file=sys.stderr)
    minutes = (time.perf_counter() - started) / 60
    print_table(args, rows, minutes)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", "utf-8")


def print_table(args: argparse.Namespace, rows: list[dict[str, Any]], minutes: float) -> None:
    done = [r for r in rows if "skipped" not in r]
    first = done[0] if done else {}
    print(
        f"device: {first.get('device', '?')}; {platform.platform()}; "
        f"{first.get('parameters', 0):,} parameters; batch {args.batch_size} x "
        f"{args.max_length} tokens; {args.steps} steps each; {args.threads} CPU thread(s); "
        f"{minutes:.1f} min"
    )
    print(f"peak: {first.get('method', '?')}\n")
    print("| technique | trained params | samples/s | tokens/s | peak MiB | estimate MiB | loss |")
    print("|---|---|---|---|---|---|---|")
    mib = 2**20
    for r in rows:
        if "skipped" in r:
            print(f"| {r['technique']} | skipped: {r['skipped']} | | | | | |")
            continue
        estimate = "n/a" if r["estimate"] is None else f"{r['estimate'] / mib:,.1f}"
        print(
            f"| {r['technique']} | {r['trainable']:,} | {r['samples_per_second']:.2f} | "
            f"{r['tokens_per_second']:,.0f} | {r['peak'] / mib:,.1f} | {estimate} | "
            f"{r['loss'][0]:.2f} → {r['loss'][1]:.2f} |"
        )


if __name__ == "__main__":
    main()
