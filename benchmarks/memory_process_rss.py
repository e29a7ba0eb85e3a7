"""The process figure of the memory estimate against the peak resident set the OS counts.

Not a test: a measurement. Each row runs in a fresh Python process (one torch thread) and
its peak resident set is read the way the OS counts it (VmHWM of the child, which
``resource.getrusage``'s ``ru_maxrss`` equals), the interpreter and imports included:

- plain rows: ``haechi.build.memory_process.process_rss``, the fp32 AdamW loop of
  ``memory_measure`` (random weights, 3 steps) on a Llama of 52M or 124M parameters;
- TRL rows: ``haechi build train`` (TRL's SFTTrainer, 3 steps, sequences cut to the
  length so no padding) on a random Llama built locally (76M parameters, the smoke
  tokenizer's 512-token vocabulary); its peak is the child's ``ru_maxrss`` (os.wait4).

Columns: the estimate's tensors at the peak, its process figure (tensors + allocator
cache + the measured baseline of a fresh interpreter with the same libraries), the
measured peak, and the errors of both figures.

    python benchmarks/memory_process_rss.py            # ~10 minutes on 2 busy cores
    python benchmarks/memory_process_rss.py --only plain --json rows.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from transformers import AutoConfig

from haechi.build.memory import setup_from
from haechi.build.memory_estimate import estimate_setup
from haechi.build.memory_process import PLAIN_LOOP, TRL_LOOP, baseline_rss, process_rss

MODELS: dict[str, dict[str, Any]] = {
    "llama-52M": dict(
        hidden_size=512,
        intermediate_size=1376,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        vocab_size=32000,
    ),
    "llama-124M": dict(
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        vocab_size=32000,
    ),
}
PLAIN = [
    ("llama-124M", 2, 512, {}),
    ("llama-52M", 4, 512, {}),
    ("llama-52M", 8, 256, {}),
    ("llama-52M", 8, 512, {}),
    ("llama-124M", 2, 512, {"precision": "bf16-mixed"}),
]
TRL = [
    (4, 256, {"method": "full"}),
    (2, 512, {"method": "full"}),
    (4, 256, {"method": "lora"}),
]


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def plain_row(name: str, batch: int, seq: int, extra: dict[str, Any]) -> dict[str, Any]:
    config = AutoConfig.for_model("llama", tie_word_embeddings=False, **MODELS[name])
    setup = setup_from(batch_size=batch, seq_len=seq, device="cpu", **extra)
    estimate = estimate_setup(config, setup)
    measured = process_rss(config, setup, steps=3, threads=1)
    setting = " ".join([extra.get("precision", "fp32"), "adamw"])
    return {
        "loop": "plain",
        "row": f"{name}, {batch} × {seq}, {setting}",
        "tensors": estimate.total,
        "process": estimate.process.total,
        "measured": measured,
    }


def trl_row(model: Path, data: Path, batch: int, seq: int, extra: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        argv = ["-m", "haechi", "build", "train", "-m", str(model), "--data", str(data)]
        argv += ["-o", f"{out}/run", "--device", "cpu", "--precision", "fp32", "--max-steps", "3"]
        argv += ["--batch-size", str(batch), "--max-length", str(seq), "--save-steps", "1000"]
        argv += ["--method", extra["method"], "--json"]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with open(f"{out}/stdout", "w") as stdout, open(f"{out}/stderr", "w") as stderr:
            child = subprocess.Popen([sys.executable, *argv], stdout=stdout, stderr=stderr, env=env)
            _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise SystemExit(Path(f"{out}/stderr").read_text()[-2000:])
        report = json.loads(Path(f"{out}/stdout").read_text())
    process = report["memory"]["process"]
    return {
        "loop": "TRL",
        "row": f"TRL SFT llama-76M, {batch} × {seq}, fp32 adamw, {extra['method']}",
        "tensors": process["tensors"],
        "process": process["total"],
        "measured": usage.ru_maxrss * 1024,
        "report_peak": report["peak"]["bytes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("plain", "trl"))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}; baselines (fresh interpreter, tiny model, 2 steps): "
          f"plain {mib(baseline_rss(PLAIN_LOOP))} MiB, TRL {mib(baseline_rss(TRL_LOOP))} MiB")  # fmt: skip
    print("| loop | model, batch × seq, setting | estimate tensors MiB | estimate process MiB "
          "| measured peak RSS MiB | error tensors | error process |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []

    def show(row: dict[str, Any]) -> None:
        rows.append(row)
        m = row["measured"]
        print(
            f"| {row['loop']} | {row['row']} | {mib(row['tensors'])} | {mib(row['process'])} "
            f"| {mib(m)} | {(row['tensors'] - m) / m:+.1%} | {(row['process'] - m) / m:+.1%} |",
            flush=True,
        )

    if args.only != "trl":
        for name, batch, seq, extra in PLAIN:
            show(plain_row(name, batch, seq, extra))
    if args.only != "plain":
        sys.path.insert(0, str(Path(__file__).parent))
        from train_techniques import build_data

        from haechi.models.smoke import build_tiny_model

        with tempfile.TemporaryDirectory() as tmp:
            model = build_tiny_model(
                Path(tmp) / "model", hidden_size=768, num_layers=12, num_heads=12,
                num_kv_heads=4, intermediate_size=2048, max_positions=1024,
            )  # fmt: skip
            data = build_data(Path(tmp) / "data.jsonl", 64)
            for batch, seq, extra in TRL:
                show(trl_row(model, data, batch, seq, extra))
    errors = [abs(r["process"] - r["measured"]) / r["measured"] for r in rows]
    print(f"\nprocess figure: max |error| {max(errors):.1%}; "
          f"{(time.perf_counter() - started) / 60:.1f} min")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
