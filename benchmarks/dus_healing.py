"""Does the depth up-scaling seam heal quickly? Held-out perplexity of a small Korean LM before
depth up-scaling, right after it, and along continued pre-training of the up-scaled model.

A random tiny Llama is first trained on KoSBi's Korean sentences (``haechi build train
--objective causal-lm``) so that it has a perplexity worth losing; it is then up-scaled with
``depth_upscale`` (SOLAR's recipe: two copies, M layers cut at the seam) and trained again on
the same text, the held-out perplexity read every ``--eval-every`` steps.

    python benchmarks/dus_healing.py [--pretrain-steps 200] [--heal-steps 60]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from haechi.build.train import train
from haechi.build.train_config import TrainConfig, TrainReport
from haechi.build.upscale import depth_upscale
from haechi.models.smoke import build_tiny_model

KOSBI = Path(__file__).resolve().parents[2] / "shared" / "data" / "kosbi" / "kosbi_valid.json"


def write_corpus(folder: Path, train_docs: int, held_docs: int) -> tuple[Path, Path]:
    items = json.loads(KOSBI.read_text(encoding="utf-8"))
    docs = [f"{item['context']} {item['sentence']}" for item in items]
    train_file, held_file = folder / "train.jsonl", folder / "held.jsonl"
    for path, part in ((train_file, docs[:train_docs]), (held_file, docs[-held_docs:])):
        path.write_text(
            "".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in part), "utf-8"
        )
    return train_file, held_file


def run(model: Path, data: Path, held: Path, out: Path, steps: int, every: int) -> TrainReport:
    config = TrainConfig(
        model=str(model), data=data, eval_data=held, output=out, objective="causal-lm",
        method="full", packing=True, max_length=128, batch_size=8, learning_rate=1e-3,
        warmup_steps=10, max_steps=steps, eval_steps=every, logging_steps=every,
        save_steps=10_000, device="cpu",
    )  # fmt: skip
    return train(config, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pretrain-steps", type=int, default=200)
    parser.add_argument("--heal-steps", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--remove", type=int, default=2, help="SOLAR's M")
    args = parser.parse_args()
    if not KOSBI.is_file():
        raise SystemExit(f"no KoSBi at {KOSBI}: nothing to measure")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data, held = write_corpus(root, train_docs=2000, held_docs=200)
        base = build_tiny_model(
            root / "random", hidden_size=128, num_layers=6, intermediate_size=352, num_heads=4
        )
        pretrained = run(base, data, held, root / "pre", args.pretrain_steps, args.pretrain_steps)
        assert pretrained.perplexity_after is not None and pretrained.perplexity_before is not None
        print("| model | layers | steps | held-out perplexity |\n|---|---|---|---|", flush=True)
        print(f"| random init | 6 | 0 | {pretrained.perplexity_before.value:.2f} |")
        print(
            f"| trained base | 6 | {pretrained.global_step} | {pretrained.perplexity_after.value:.2f} |",
            flush=True,
        )
        up = depth_upscale(root / "pre" / "model", root / "up", remove=args.remove)
        layers = len(up.layer_map)
        healed = run(root / "up", data, held, root / "heal", args.heal_steps, args.eval_every)
        assert healed.perplexity_before is not None and healed.perplexity_after is not None
    print(
        f"| right after DUS (M={args.remove}) | {layers} | 0 | {healed.perplexity_before.value:.2f} |"
    )
    for point in healed.eval_losses:
        print(
            f"| healing (trainer eval loss) | {layers} | {point.step} | {math.exp(point.loss):.2f} |"
        )
    print(f"| healed | {layers} | {healed.global_step} | {healed.perplexity_after.value:.2f} |")
    print(f"held-out: 200 KoSBi documents, {healed.perplexity_after.tokens} predicted tokens")
    print(f"wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
