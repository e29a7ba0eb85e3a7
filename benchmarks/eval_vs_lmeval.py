"""haechi vs lm-evaluation-harness 0.4.13 on the same model, data and batch size.

Not a test: a measurement. Both run in this process, one after the other, on a model they
each load from the same folder; the same forward hook counts the tokens each pushes
through the model (padding included, since padding costs compute). Scores must agree.

    python benchmarks/eval_vs_lmeval.py                      # random ~30M Llama on CPU
    python benchmarks/eval_vs_lmeval.py --model DIR --device cuda --dtype bfloat16 --docs 200

Data are synthetic ARC-style (25-shot) and HellaSwag-style (10-shot) documents in Korean
and English, written in the Hub schemas, so both tools read the same files (MMLU-style
astronomy documents too, for ``gpu_suite.py``).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from haechi.evaluate import EvalConfig, evaluate
from haechi.models import load
from haechi.models.smoke import build_tiny_model, corpus_lines


def synthetic_data(root: Path, n_docs: int, seed: int = 0) -> None:
    """ARC and HellaSwag documents built from the bundled Korean/English sentences."""
    rng = random.Random(seed)
    lines = corpus_lines()

    def phrase() -> str:
        words = rng.choice(lines).split()
        start = rng.randrange(max(1, len(words) - 3))
        return " ".join(words[start : start + rng.randint(2, 5)])

    def arc(i: int) -> dict[str, Any]:
        return {
            "id": f"bench-{i}",
            "question": " ".join(rng.sample(lines, 2)),
            "choices": {"text": [phrase() for _ in range(4)], "label": list("ABCD")},
            "answerKey": rng.choice("ABCD"),
        }

    def hellaswag(i: int) -> dict[str, Any]:
        return {
            "ind": i,
            "activity_label": rng.choice(["요리", "운동", "Cooking", "Reading", "청소"]),
            "ctx_a": rng.choice(lines),
            "ctx_b": phrase(),
            "endings": [rng.choice(lines) for _ in range(4)],
            "label": str(rng.randrange(4)),
        }

    def mmlu(i: int) -> dict[str, Any]:
        choices = [phrase() for _ in range(4)]
        return {"question": rng.choice(lines), "subject": "astronomy", "choices": choices,
                "answer": rng.randrange(4)}  # fmt: skip

    splits = {
        "mmlu": {
            "test": [mmlu(i) for i in range(n_docs)],
            "dev": [mmlu(1000 + i) for i in range(5)],
        },
        "arc_challenge": {
            "test": [arc(i) for i in range(n_docs)],
            "train": [arc(1000 + i) for i in range(40)],
        },
        "hellaswag": {
            "validation": [hellaswag(i) for i in range(n_docs)],
            "train": [hellaswag(1000 + i) for i in range(40)],
        },
    }
    for task, parts in splits.items():
        (root / task).mkdir(parents=True, exist_ok=True)
        for split, rows in parts.items():
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            (root / task / f"{split}.jsonl").write_text(text, encoding="utf-8")


# task → lm-eval's YAML, its (test, few-shot) splits and the name its results go under
LM_EVAL_TASKS = {
    "arc_challenge": ("arc/arc_challenge.yaml", ("test", "train"), "arc_challenge"),
    "hellaswag": ("hellaswag/hellaswag.yaml", ("validation", "train"), "hellaswag"),
    "mmlu": ("mmlu/default/mmlu_astronomy.yaml", ("test", "dev"), "mmlu_astronomy"),
}


class TokenCounter:
    """Counts input positions (batch × length) of every forward call of a module."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.tokens = 0
        self.calls = 0
        self.handle = module.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            self.tokens += int(ids.numel())
            self.calls += 1


def run_lm_eval(
    model_dir: Path, data: Path, task: str, shots: int, args: argparse.Namespace
) -> dict[str, Any]:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    yaml, split_names, name = LM_EVAL_TASKS[task]
    config = load_yaml(Path(lm_eval.__file__).parent / "tasks" / yaml)
    files = {s: str(data / task / f"{s}.jsonl") for s in split_names}
    config.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": files})
    peer = HFLM(
        pretrained=str(model_dir), dtype=args.dtype, device=args.device, batch_size=args.batch_size
    )
    counter = TokenCounter(peer.model)
    started = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model=peer, tasks=[config], num_fewshot=shots, bootstrap_iters=0,
        task_manager=TaskManager(include_defaults=False), log_samples=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    metrics = out["results"][name]
    return {
        "seconds": seconds,
        "tokens": counter.tokens,
        "acc": metrics["acc,none"],
        "acc_norm": metrics.get("acc_norm,none"),
        "lls": [[r[0] for r in s["filtered_resps"]] for s in out["samples"][name]],
    }


def run_haechi(
    model_dir: Path, data: Path, task: str, shots: int, args: argparse.Namespace
) -> dict[str, Any]:
    model = load(
        f"hf/{model_dir}", dtype=args.dtype, device=args.device, batch_size=args.batch_size
    )
    counter = TokenCounter(model.model)  # type: ignore[attr-defined]
    started = time.perf_counter()
    config = EvalConfig(tasks=[task], data_dir=data, num_fewshot=shots, fewshot_sampling="lm-eval")
    report = evaluate(model, config, progress=False)
    seconds = time.perf_counter() - started
    (summary,) = [s for s in report.summaries if s.name == task]
    stats = report.document["stats"]
    return {
        "seconds": seconds,
        "tokens": counter.tokens,
        "forwarded": stats["forwarded_tokens"],
        "naive": stats["naive_tokens"],
        "floor": stats["floor_tokens"],
        "acc": summary.metrics["acc"].value,
        "acc_norm": summary.metrics["acc_norm"].value if "acc_norm" in summary.metrics else None,
        "lls": [list(s.loglikelihoods) for s in report.scores[0].samples],  # type: ignore[union-attr]
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, help="a checkpoint folder (default: build a random ~30M Llama)"
    )
    parser.add_argument("--docs", type=int, default=40, help="documents per task")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="haechi-bench-"))
    model_dir = args.model
    if model_dir is None:
        model_dir = build_tiny_model(
            work / "model", hidden_size=512, num_layers=8, num_heads=8, num_kv_heads=8,
            intermediate_size=1536, max_positions=4096,
        )  # fmt: skip
    synthetic_data(work / "data", args.docs)
    print(
        f"model {model_dir}, {args.docs} docs per task, batch size {args.batch_size}, {args.device} {args.dtype}"
    )
    print(f"torch threads {torch.get_num_threads()}")
    rows = []
    for task, shots in (("arc_challenge", 25), ("hellaswag", 10)):
        theirs = run_lm_eval(model_dir, work / "data", task, shots, args)
        ours = run_haechi(model_dir, work / "data", task, shots, args)
        worst = max(
            abs(a - b)
            for la, lb in zip(theirs["lls"], ours["lls"], strict=True)
            for a, b in zip(la, lb, strict=True)
        )
        same = theirs["acc"] == ours["acc"] and theirs["acc_norm"] == ours["acc_norm"]
        rows.append((task, shots, theirs, ours, worst, same))
    print()
    print(
        "| task | shots | lm-eval s | haechi s | speed-up | lm-eval tokens | haechi tokens | fewer tokens | acc / acc_norm (both) | max |Δ ll| |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for task, shots, theirs, ours, worst, same in rows:
        print(
            f"| {task} | {shots} | {theirs['seconds']:.1f} | {ours['seconds']:.1f} | "
            f"{theirs['seconds'] / ours['seconds']:.2f}× | {theirs['tokens']:,} | {ours['tokens']:,} | "
            f"{theirs['tokens'] / ours['tokens']:.2f}× | "
            f"{ours['acc']:.4f} / {ours['acc_norm']:.4f} {'identical' if same else 'DIFFER'} | {worst:.1e} |"
        )
    print()
    for task, _, _, ours, _, _ in rows:
        print(
            f"{task}: haechi forwarded {ours['forwarded']:,} real tokens; one forward per request would be {ours['naive']:,}"
        )


if __name__ == "__main__":
    main()
