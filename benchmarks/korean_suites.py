"""The public Korean sets in ../shared/data, end to end: KoCommonGEN v2 and KoBBQ.

Not a test: a measurement of what a run on the real files costs and reports. The shared
files keep their authors' names, so this links them into the layout ``--data-dir``
expects (links, not copies):

    DIR/ko_commongen_v2/test.jsonl    -> korean_commongen_v2_847_shuffled.jsonl
    DIR/ko_commongen_v2/fewshot.jsonl -> v2_5shot.jsonl
    DIR/kobbq/test.tsv                -> KoBBQ_test_samples.tsv

    python benchmarks/korean_suites.py                    # the random smoke model, CPU
    python benchmarks/korean_suites.py --model hf/DIR     # any model spec

With the random smoke model the scores are chance-level; the point is the time, the
token counts and that every document of the real files loads and scores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from haechi.evaluate import EvalConfig, evaluate
from haechi.models import load
from haechi.models.smoke import smoke_model_dir

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LINKS = {
    ("ko_commongen_v2", "test.jsonl"): "ko_commongen_v2/korean_commongen_v2_847_shuffled.jsonl",
    ("ko_commongen_v2", "fewshot.jsonl"): "ko_commongen_v2/v2_5shot.jsonl",
    ("kobbq", "test.tsv"): "kobbq/KoBBQ_test_samples.tsv",
}


def link_data(shared: Path, root: Path) -> None:
    for (task, name), source in LINKS.items():
        (root / task).mkdir(parents=True, exist_ok=True)
        (root / task / name).symlink_to(shared / source)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model spec (default: the random smoke model)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    if not (args.shared / "kobbq").is_dir():
        raise SystemExit(f"no shared data at {args.shared}: nothing to measure")
    data = Path(tempfile.mkdtemp(prefix="haechi-korean-"))
    link_data(args.shared, data)
    model = load(args.model or f"hf/{smoke_model_dir()}")
    print(f"model {model.name}  fingerprint {model.fingerprint}")
    for task in ("ko_commongen_v2", "kobbq"):
        config = EvalConfig(tasks=[task], data_dir=data, limit=args.limit)
        report = evaluate(model, config, progress=True)
        (summary,) = report.summaries
        stats = report.document["stats"]
        values = {k: round(v.value, 4) for k, v in summary.metrics.items()}
        print(
            f"\n{task}: {report.document['n-samples'][task]['effective']} documents, {summary.n_shot}-shot"
        )
        print(f"  metrics {json.dumps(values)}")
        print(
            f"  {stats['requests']} requests, {stats['wall_seconds']} s, forwarded {stats['forwarded_tokens']:,} "
            f"tokens vs {stats['naive_tokens']:,} one forward per request "
            f"({stats['naive_tokens'] / max(stats['forwarded_tokens'], 1):.2f}× fewer)"
        )


if __name__ == "__main__":
    main()
