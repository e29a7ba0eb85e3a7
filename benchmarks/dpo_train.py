"""DPO throughput and peak memory, next to the estimate: full (a second copy of the model
as the reference), full with precomputed reference log-probs, and LoRA (the base with
the adapters disabled as the reference).

Not a test: a measurement. One ``haechi.build.train`` run (``objective="dpo"``) per row,
each for ``--steps`` optimizer steps in a fresh Python process, on a random Llama built
locally (``haechi.models.smoke``) and synthetic Korean preference pairs whose answers are
longer than ``--max-length``: every row of a micro-batch (each pair's chosen and rejected
answers) is cut to exactly that many tokens, so the estimate's sequence length is the
real one. examples/s counts pairs; tokens/s the real tokens of both answers. The peak is
torch's CPU allocator (``--cpu-peak profiler``) or the process's resident set (``rss``),
as ``haechi build train`` reports it.

    python benchmarks/dpo_train.py --cpu-peak profiler
    python benchmarks/dpo_train.py                     # resident-set peaks
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

ROWS: list[tuple[str, dict[str, Any]]] = [
    ("full, reference copy", {"method": "full"}),
    ("full, precomputed reference", {"method": "full", "precompute_ref": True}),
    ("LoRA r16, base as reference", {"method": "lora"}),
]


def build_pairs(path: Path, pairs: int) -> Path:
    """Prompt/chosen/rejected lines from the bundled corpus, answers of 24 corpus lines."""
    from haechi.models.smoke import corpus_lines

    lines = corpus_lines()
    rows = []
    for i in range(pairs):
        picked = [lines[(i * 7 + k) % len(lines)] for k in range(48)]
        rows.append(
            {
                "prompt": f"다음 글을 이어서 써 주세요: {picked[0]}",
                "chosen": " ".join(picked[1:25]),
                "rejected": " ".join(reversed(picked[24:])),
            }
        )
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def run_one(args: argparse.Namespace, name: str) -> dict[str, Any]:
    from haechi.build.train import train
    from haechi.build.train_config import TrainConfig

    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(
            model=args.model,
            data=args.data,
            output=Path(out) / "run",
            objective="dpo",
            batch_size=args.batch_size,
            max_steps=args.steps,
            max_length=args.max_length,
            precision="fp32",
            device=args.device,
            save_steps=10**6,
            cpu_peak=args.cpu_peak,
            **dict(ROWS)[name],
        )
        report = train(config, progress=False)
    margins = [p.margin for p in report.preferences]
    return {
        "row": name,
        "steps": report.throughput.steps,
        "examples_per_second": report.throughput.samples_per_second,
        "tokens_per_second": report.throughput.tokens_per_second,
        "peak": report.peak.bytes,
        "estimate": report.peak.estimated,
        "method": report.peak.method,
        "reference": report.memory.overheads.get("reference model", 0),
        "peak_moment": report.memory.peak_moment,
        "parameters": report.base_model.parameters,
        "trainable": report.base_model.trainable_parameters,
        "margin": [margins[0], margins[-1]],
        "device": report.device_name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=2, help="Pairs per micro-batch.")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu-peak", choices=("rss", "profiler"), default="rss")
    parser.add_argument("--json", type=Path, help="Also write the rows here.")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(run_one(args, args.one)))
        return

    from haechi.models.smoke import build_tiny_model

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
        data = build_pairs(Path(tmp) / "pairs.jsonl", 32)
        for name, _ in ROWS:
            command = [sys.executable, __file__, "--one", name, "--model", str(model)]
            command += ["--data", str(data), "--steps", str(args.steps)]
            command += ["--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]
            command += ["--device", args.device, "--threads", str(args.threads)]
            command += ["--cpu-peak", args.cpu_peak]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                rows.append({"row": name, "skipped": f"failed: {done.stderr.strip()[-300:]}"})
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{name}: done", file=sys.stderr)
    print_table(args, rows, (time.perf_counter() - started) / 60)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", "utf-8")


def print_table(args: argparse.Namespace, rows: list[dict[str, Any]], minutes: float) -> None:
    done = [r for r in rows if "skipped" not in r]
    first = done[0] if done else {}
    print(
        f"device: {first.get('device', '?')}; {platform.platform()}; "
        f"{first.get('parameters', 0):,} parameters; {args.batch_size} pairs x 2 answers x "
        f"{args.max_length} tokens; {args.steps} steps each; {args.threads} CPU thread(s); "
        f"{minutes:.1f} min"
    )
    print(f"peak: {first.get('method', '?')}\n")
    print(
        "| DPO | trained params | steps | examples/s | tokens/s | peak MiB | estimate MiB "
        "| error | reference MiB | margin |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    mib = 2**20
    for r in rows:
        if "skipped" in r:
            print(f"| {r['row']} | {r['skipped']} | | | | | | | | |")
            continue
        estimate = r["estimate"] or 0
        error = (estimate - r["peak"]) / r["peak"] if r["peak"] else 0.0
        print(
            f"| {r['row']} | {r['trainable']:,} | {r['steps']} | "
            f"{r['examples_per_second']:.2f} | {r['tokens_per_second']:,.0f} | "
            f"{r['peak'] / mib:,.1f} | {estimate / mib:,.1f} | {error:+.1%} | "
            f"{r['reference'] / mib:,.1f} | {r['margin'][0]:+.3f} → {r['margin'][1]:+.3f} |"
        )


if __name__ == "__main__":
    main()
