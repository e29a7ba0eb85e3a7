"""One replica against two: ``haechi eval``'s data-parallel path on Ray, side by side.

Not a test: a measurement. In one process, on one model folder and the same synthetic
ARC (25-shot) and HellaSwag (10-shot) documents as ``eval_vs_lmeval.py``: the plain
in-process run, then a local Ray with 1 replica (holding every core) and with N replicas
(the cores split between them). Wall time excludes starting Ray and loading the replicas
(reported apart); tokens are the backends' own counters; scores must agree and per-choice
log-likelihoods stay within float32 rounding.

    python benchmarks/data_parallel.py --docs 20 --replicas 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.replicas import RayReplicas
from haechi.models import LanguageModel, load
from haechi.models.smoke import build_tiny_model

sys.path.insert(0, str(Path(__file__).parent))
from eval_vs_lmeval import synthetic_data

TASKS = [("arc_challenge", 25), ("hellaswag", 10)]


def run(model: LanguageModel, data: Path) -> dict[str, Any]:
    started = time.perf_counter()
    scores, forwarded, lls = {}, 0, []
    for task, shots in TASKS:
        config = EvalConfig(tasks=[task], data_dir=data, num_fewshot=shots, chunk_size=64)
        report = evaluate(model, config, progress=False)
        (summary,) = report.summaries
        scores[task] = (summary.metrics["acc"].value, summary.metrics["acc_norm"].value)
        forwarded += report.document["stats"]["forwarded_tokens"]
        lls += [ll for s in report.scores[0].samples for ll in s.loglikelihoods]  # type: ignore[union-attr]
    return {
        "seconds": time.perf_counter() - started,
        "forwarded": forwarded,
        "scores": scores,
        "lls": lls,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20, help="documents per task")
    parser.add_argument("--replicas", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synthetic_data(work / "data", options.docs)
        model_dir = build_tiny_model(
            work / "model", hidden_size=512, num_layers=8, num_heads=8, num_kv_heads=8,
            intermediate_size=1536, max_positions=4096,
        )  # fmt: skip
        spec = f"hf/{model_dir}"
        print("| run | start s | eval s | forwarded tokens | scores (acc/acc_norm) | max abs dll |")
        print("|---|---|---|---|---|---|", flush=True)
        reference = run(load(spec), work / "data")
        show("in-process", 0.0, reference, reference)
        for count in (1, options.replicas):
            started = time.perf_counter()
            with RayReplicas(spec, {}, replicas=count) as model:
                startup = time.perf_counter() - started
                show(
                    f"{count} replica(s) on local Ray",
                    startup,
                    run(model, work / "data"),
                    reference,
                )


def show(name: str, startup: float, result: dict[str, Any], reference: dict[str, Any]) -> None:
    delta = max(abs(a - b) for a, b in zip(result["lls"], reference["lls"], strict=True))
    same = "identical" if result["scores"] == reference["scores"] else str(result["scores"])
    print(f"| {name} | {startup:.1f} | {result['seconds']:.1f} | {result['forwarded']:,} "
          f"| {same} | {delta:.1e} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
