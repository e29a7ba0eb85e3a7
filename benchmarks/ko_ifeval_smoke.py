"""Ko-IFEval on a model, and lm-eval 0.4.13's ifeval checks on the same answers.

Not a test: a measurement. It runs ``ko_ifeval`` (the 129 bundled prompts), then re-judges
every logged answer with lm-eval's own ifeval scorer for the instructions lm-eval has
(the English ids, less the two that need nltk's punkt data) and counts the per-instruction
verdicts, strict and loose, on which the two agree; it also times both scorers.

    python benchmarks/ko_ifeval_smoke.py                 # the random smoke model, CPU
    python benchmarks/ko_ifeval_smoke.py --model hf/DIR --batch-size 16
    python benchmarks/ko_ifeval_smoke.py --run OUT       # answers a run logged in OUT
                                                         # (haechi eval --log-samples -o OUT)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.instructions import follow, instructions_of
from haechi.models import load
from haechi.models.smoke import smoke_model_dir
from haechi.tasks import DocumentSource, bundled_tasks, load_documents

NEEDS_PUNKT = {"length_constraints:number_sentences", "change_case:capital_word_frequency"}


def lm_eval_scorer() -> Any:
    """lm-eval's ifeval utils, imported offline, langdetect seeded as haechi seeds it."""
    import nltk
    from langdetect.detector_factory import DetectorFactory

    nltk.download = lambda *args, **kwargs: False  # no network: punkt is never used below
    DetectorFactory.seed = 0
    from lm_eval.tasks.ifeval import utils

    return utils


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model spec (default: the random smoke model)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--run", type=Path, help="a folder with samples_ko_ifeval.jsonl")
    args = parser.parse_args()
    run = args.run
    if run is None:
        run = Path(tempfile.mkdtemp(prefix="haechi-ifeval-"))
        model = load(args.model or f"hf/{smoke_model_dir()}", batch_size=args.batch_size)
        config = EvalConfig(tasks=["ko_ifeval"], limit=args.limit, output=run, log_samples=True)
        report = evaluate(model, config, progress=True)
        print(f"model {model.name}: {report.document['stats']['wall_seconds']} s")
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    for key, value in results["results"]["ko_ifeval"].items():
        if "_acc," in key:
            print(f"  {key}: {value:.4f}")
    lines = (run / "samples_ko_ifeval.jsonl").read_text(encoding="utf-8").splitlines()
    samples = [json.loads(line) for line in lines]
    docs = load_documents(bundled_tasks()["ko_ifeval"], "test", DocumentSource("hub"))
    peer = lm_eval_scorer()

    started = time.perf_counter()
    ours = [follow(s["response"], instructions_of(docs[s["doc_id"]].fields)) for s in samples]
    ours_s = time.perf_counter() - started
    compared = agreed = 0
    started = time.perf_counter()
    for sample, verdicts in zip(samples, ours, strict=True):
        fields = docs[sample["doc_id"]].fields
        kept = [i for i, name in enumerate(verdicts.ids) if not name.startswith("ko_")]
        kept = [i for i in kept if verdicts.ids[i] not in NEEDS_PUNKT]
        if not kept:
            continue
        doc = peer.InputExample(
            key=fields["key"],
            instruction_id_list=[verdicts.ids[i] for i in kept],
            prompt=fields["prompt"],
            kwargs=[fields["kwargs"][i] for i in kept],
        )
        strict = peer.test_instruction_following_strict(doc, sample["response"])
        loose = peer.test_instruction_following_loose(doc, sample["response"])
        for j, i in enumerate(kept):
            compared += 2
            agreed += strict.follow_instruction_list[j] == verdicts.strict[i]
            agreed += loose.follow_instruction_list[j] == verdicts.loose[i]
    peer_s = time.perf_counter() - started
    n_instructions = sum(len(v.ids) for v in ours)
    print(
        f"{len(samples)} answers, {n_instructions} instructions judged by haechi in {ours_s:.2f} s"
    )
    print(f"lm-eval judged {compared // 2} of them (strict and loose) in {peer_s:.2f} s")
    print(f"verdicts agreeing: {agreed} of {compared}")


if __name__ == "__main__":
    main()
