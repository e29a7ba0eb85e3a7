"""generate_until tasks: answer filters and exact match agree with lm-eval; the engine runs them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.filters import apply_filter, exact_match
from haechi.evaluate.plan import plan_task
from haechi.evaluate.scoring import score_generations
from haechi.models import Generation, GenerationRequest, load
from haechi.tasks import DocumentSource, bundled_tasks

extraction = pytest.importorskip("lm_eval.filters.extraction", reason="lm-eval is a dev dependency")
lm_metrics = pytest.importorskip("lm_eval.api.metrics")

GSM8K = bundled_tasks()["ko_gsm8k"]
ANSWERS = [
    "3 + 5 = 8개입니다.\n#### 8",
    "답은 2,000원 입니다. #### 2,000.",
    "#### -3.5 그리고 #### 7",
    "숫자가 없습니다",
    "$1,234 and 56",
    "",
    "합계는 42",
]


@pytest.mark.parametrize("name", list(GSM8K.filters))
def test_filters_match_lm_eval(name: str) -> None:
    steps = GSM8K.filters[name]
    regex = steps[0]
    peer = extraction.RegexFilter(
        regex_pattern=regex.regex_pattern, group_select=regex.group_select, fallback=regex.fallback
    )
    expected = [x[0] for x in peer.apply([[a] for a in ANSWERS], [{}] * len(ANSWERS))]
    assert [apply_filter(steps, [a]) for a in ANSWERS] == expected


def test_exact_match_matches_lm_eval() -> None:
    rng = random.Random(0)
    pieces = ["8", "8.", "$8", "1,000", "1000", "Eight", "eight", "#### 8", "답: 8"]
    options = GSM8K.exact_match
    for _ in range(200):
        pred, ref = rng.choice(pieces), rng.choice(pieces)
        peer = lm_metrics.exact_match_hf_evaluate(
            [pred], [ref], regexes_to_ignore=options.regexes_to_ignore,
            ignore_case=options.ignore_case, ignore_punctuation=options.ignore_punctuation,
        )["exact_match"]  # fmt: skip
        assert exact_match(pred, ref, options) == peer, (pred, ref)


def test_scoring_reads_the_number_after_the_marks() -> None:
    (plan,) = plan_task(
        GSM8K, EvalConfig(tasks=["ko_gsm8k"], samples=True), DocumentSource("samples")
    )
    right = [Generation((p.answer,), ("stop",)) for p in plan.prompts]  # the reference itself
    wrong = [Generation(("#### 99999",), ("stop",)) for _ in plan.prompts]
    loose = [Generation((p.answer.replace("####", "답은"),), ("stop",)) for p in plan.prompts]
    assert score_generations(plan, right).metrics["exact_match,strict-match"].value == 1.0
    assert score_generations(plan, wrong).metrics["exact_match,strict-match"].value == 0.0
    loose_score = score_generations(plan, loose).metrics
    assert loose_score["exact_match,strict-match"].value == 0.0
    assert loose_score["exact_match,flexible-extract"].value == 1.0


def test_generation_task_end_to_end(tiny_llama_dir: Path, tmp_path: Path) -> None:
    model = load(f"hf/{tiny_llama_dir}")
    config = EvalConfig(tasks=["ko_gsm8k"], samples=True, output=tmp_path, log_samples=True)
    report = evaluate(model, config, progress=False)
    (plan,) = plan_task(GSM8K, config, DocumentSource("samples"))
    lines = (tmp_path / "samples_ko_gsm8k.jsonl").read_text(encoding="utf-8").splitlines()
    for prompt, line in zip(plan.prompts, lines, strict=True):
        sample = json.loads(line)
        direct = model.generate(
            [
                GenerationRequest(
                    prompt=prompt.context, max_new_tokens=256, stop=tuple(GSM8K.generation.until)
                )
            ]
        )[0]
        assert sample["response"] == direct.text
        assert sample["filtered"]["strict-match"] == apply_filter(
            GSM8K.filters["strict-match"], [direct.text]
        )
    results = report.document["results"]["ko_gsm8k"]
    assert {"exact_match,strict-match", "exact_match,flexible-extract"} <= set(results)
    assert report.document["stats"]["generation_requests"] == len(plan.prompts)
