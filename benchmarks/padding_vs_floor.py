"""Tokens the hf backend pushes through the embedding, padding included, against the floor.

Not a test: a measurement. For every bundled multiple-choice task, at its leaderboard
few-shot count, a forward hook on the input embedding counts every position forwarded
(batch x width: padding costs compute too) while ``haechi.evaluate`` runs the task as
``haechi eval`` does (same chunks, same batches); the floor is the unique-prefix floor of
the same requests (``TokenStats.floor_tokens``).

    python benchmarks/padding_vs_floor.py                       # every task, CPU
    python benchmarks/padding_vs_floor.py --tasks hellaswag,arc_challenge --batch-size 64

Documents: a task whose files are in ``--shared`` (../shared/data: ko_commongen_v2,
kobbq) reads them; every other task gets ``--docs`` documents (and a few-shot pool of
``--pool``) made from its bundled samples: each text field (one with a space) gets a
random run of the tiny model's corpus words prepended, so lengths vary as real few-shot
prompts do while the prompt's structure stays the task's own.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from eval_vs_lmeval import TokenCounter

from haechi.errors import HaechiError
from haechi.evaluate import EvalConfig, evaluate
from haechi.models import load
from haechi.models.smoke import build_tiny_model, corpus_lines
from haechi.tasks import resolve
from haechi.tasks.registry import bundled_tasks
from haechi.tasks.sources import release_files, split_file
from haechi.tasks.spec import TaskSpec

# The Open LLM Leaderboard's counts where the spec keeps lm-eval's 0-shot default.
LEADERBOARD_SHOTS = {"arc_challenge": 25, "hellaswag": 10, "mmlu": 5}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def stretched(row: dict[str, Any], words: list[str], rng: random.Random, keep: set[str]) -> Any:
    """``row`` with a random run of ``words`` before each text; one text gets one run
    everywhere in the row, so an answer stays equal to its choice."""
    runs: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if k in keep else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and " " in value.strip():
            if value not in runs:
                n = rng.randint(0, 2 * len(value.split()))
                runs[value] = " ".join(rng.choices(words, k=n))
            return f"{runs[value]} {value}" if runs[value] else value
        return value

    return walk(row)


def sample_rows(task: str, split: str) -> list[dict[str, Any]]:
    from haechi.documents import read_file

    folder = Path(str(resources.files("haechi.tasks").joinpath("samples", task)))
    path = split_file(folder, split)
    return [d.fields for d in read_file(path)] if path else []


def build_data(root: Path, specs: list[TaskSpec], args: argparse.Namespace) -> dict[str, str]:
    """A data folder for ``specs``; returns where each task's documents come from."""
    words = " ".join(corpus_lines()).split()
    origin = {}
    root.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        test, pool = spec.dataset.test_split, spec.dataset.fewshot_split
        if args.shared.is_dir() and release_files(args.shared, spec.dataset, test):
            for pattern in {p.split("/")[0] for ps in spec.dataset.data_files.values() for p in ps}:
                if not (root / pattern).exists():
                    (root / pattern).symlink_to(args.shared / pattern)
            origin[spec.task] = f"{args.shared.name} (real)"
            continue
        keep = {spec.subtask_field} if spec.subtask_field else set()
        rng = random.Random(f"{args.seed}:{spec.task}")  # the same documents in any task list
        (root / spec.task).mkdir(parents=True, exist_ok=True)
        for split, n in ((test, args.docs), (pool, args.pool)):
            rows = sample_rows(spec.task, split) if split else []
            if not rows or (root / spec.task / f"{split}.jsonl").exists():
                continue
            made = [stretched(rows[i % len(rows)], words, rng, keep) for i in range(n)]
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in made)
            (root / spec.task / f"{split}.jsonl").write_text(text, encoding="utf-8")
        origin[spec.task] = "samples, stretched"
    return origin


def measure(
    model: Any, task: str, shots: int, limit: int, data: Path, counter: TokenCounter
) -> dict[str, Any]:
    before = counter.tokens
    config = EvalConfig(
        tasks=[task], data_dir=data, num_fewshot=shots, limit=limit, bootstrap_iters=0
    )
    report = evaluate(model, config, progress=False)
    stats = report.document["stats"]
    (summary,) = [s for s in report.summaries if s.name == task]
    return {
        "task": task,
        "shots": shots,
        "documents": sum(len(s.samples) for s in report.scores),  # type: ignore[union-attr]
        "floor": stats["floor_tokens"],
        "forwarded": stats["forwarded_tokens"],
        "padding": stats.get("padding_tokens", 0),
        "through_embedding": counter.tokens - before,
        "metrics": {name: m.value for name, m in summary.metrics.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", help="comma-separated (default: every multiple-choice task)")
    parser.add_argument(
        "--docs", type=int, default=64, help="documents per task (the first N of real data)"
    )
    parser.add_argument("--pool", type=int, default=40, help="few-shot pool (stretched)")
    parser.add_argument("--batch-size", default="8", help="rows per batch, or auto")
    parser.add_argument("--shared", type=Path, default=SHARED, help="real data sets folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    names = args.tasks.split(",") if args.tasks else sorted(bundled_tasks())
    specs = [s for s in resolve(names)[0] if s.output_type == "multiple_choice"]
    work = Path(tempfile.mkdtemp(prefix="haechi-padding-"))
    origin = build_data(work / "data", specs, args)
    checkpoint = build_tiny_model(work / "model", max_positions=4096)
    model = load(f"hf/{checkpoint}", dtype="float32", batch_size=args.batch_size)
    counter = TokenCounter(model.model.get_input_embeddings())  # type: ignore[attr-defined]
    print(f"tiny Llama (vocab 512), batch size {args.batch_size}, {platform.machine()}")
    print("| task | shots | docs | data | floor | forwarded | + padding | through embedding "
          "| ratio to floor |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for spec in specs:
        shots = LEADERBOARD_SHOTS.get(spec.task, spec.num_fewshot)
        try:
            row = measure(model, spec.task, shots, args.docs, work / "data", counter)
        except HaechiError as exc:  # a stretched sample its processor cannot read
            print(f"| {spec.task} | {shots} | skipped: {exc} |", flush=True)
            continue
        row["data"] = origin[spec.task]
        rows.append(row)
        print(f"| {spec.task} | {shots} | {row['documents']} | {row['data']} | {row['floor']:,} "
              f"| {row['forwarded']:,} | {row['padding']:,} | {row['through_embedding']:,} "
              f"| {row['through_embedding'] / row['floor']:.3f} |", flush=True)  # fmt: skip
    worst = max(rows, key=lambda r: r["through_embedding"] / r["floor"])
    total = sum(r["through_embedding"] for r in rows) / sum(r["floor"] for r in rows)
    print(f"\nworst {worst['task']} {worst['through_embedding'] / worst['floor']:.3f}x the floor;"
          f" all tasks together {total:.3f}x")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
