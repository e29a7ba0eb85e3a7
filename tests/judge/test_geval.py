"""G-Eval with tiny judges: the logprob path against a hand computation, sampling,
parsing, steps reuse, pairwise swaps, and llama.cpp's top_logprobs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from haechi.judge import (
    JudgeItem,
    bundled_criteria,
    evaluation_steps,
    form_prompt,
    pairwise,
    parse_score,
    score_items,
)
from haechi.judge.parsing import score_token
from haechi.models import load

ITEMS = [
    JudgeItem(
        "a",
        "서울은 대한민국의 수도이며 인구가 가장 많은 도시이다.",
        "서울은 한국의 수도다.",
        "d1",
        "s1",
    ),
    JudgeItem(
        "b",
        "The meeting started at three and ended at five.",
        "The meeting lasted two hours.",
        "d2",
        "s2",
    ),
]


def hand_weighted_score(model_dir: Path, prompt: str, scores: list[int]) -> float:
    """Σ p(s)·s with p from one plain forward pass per score string, renormalised."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    logprobs = []
    for s in scores:
        context = tok(prompt).input_ids
        whole = tok(prompt + f" {s}").input_ids
        cont = whole[len(context) :]
        with torch.no_grad():
            logits = model(torch.tensor([whole[:-1]])).logits[0, -len(cont) :]
        lp = torch.log_softmax(logits, -1)[torch.arange(len(cont)), torch.tensor(cont)].sum()
        logprobs.append(float(lp))
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    return sum(s * w for s, w in zip(scores, weights, strict=True)) / sum(weights)


@pytest.mark.parametrize("criterion", ["coherence", "accuracy_ko", "fluency"])
def test_logprob_score_equals_a_hand_computation(criterion: str, tiny_llama_dir: Path) -> None:
    judge = load(f"hf/{tiny_llama_dir}")
    c = bundled_criteria()[criterion]
    steps = {c.name: "1. Read.\n2. Score."}
    (row_a, row_b) = score_items(judge, ITEMS, [c], steps, progress=False)
    for item, row in zip(ITEMS, (row_a, row_b), strict=True):
        expected = hand_weighted_score(
            tiny_llama_dir, form_prompt(c, steps[c.name], item), c.scores
        )
        got = row[c.name]
        assert got.score == pytest.approx(expected, abs=1e-5)
        assert sum(got.distribution.values()) == pytest.approx(1.0)
        assert set(got.distribution) == set(c.scores)


def test_sampling_is_reproducible_and_counts_unparsed(tiny_qwen2_dir: Path) -> None:
    judge = load(f"hf/{tiny_qwen2_dir}")
    c = bundled_criteria()["relevance"]
    steps = {c.name: "1. Read."}
    first = score_items(
        judge, ITEMS, [c], steps, method="sampling", samples=6, seed=3, progress=False
    )
    again = score_items(
        judge, ITEMS, [c], steps, method="sampling", samples=6, seed=3, progress=False
    )
    assert [r[c.name].answers for r in first] == [r[c.name].answers for r in again]
    for row in first:
        s = row[c.name]
        parsed = [parse_score(a, 1, 5) for a in s.answers]
        assert len(s.answers) == 6 and s.unparsed == parsed.count(None)
        values = [v for v in parsed if v is not None]
        assert s.score == (sum(values) / len(values) if values else None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", 4.0), (" 3", 3.0), ("점수: 4", 4.0), ("4/5", 4.0), ("Coherence: 2", 2.0),
        ("４점", 4.0), ("５", 5.0), ("- 일관성: 3점입니다", 3.0), ("Score: 7", None),
        ("잘 모르겠습니다", None), ("", None), ("3.5", 3.5), ("10/10", None),
    ],
)  # fmt: skip
def test_parse_score(text: str, expected: float | None) -> None:
    assert parse_score(text, 1, 5) == expected


def test_score_tokens() -> None:
    assert [score_token(t, 1, 5) for t in ["4", " 4", "４", "▁4", "44", "a", "0"]] == [
        4,
        4,
        4,
        None,
        None,
        None,
        None,
    ]


def test_steps_are_generated_once_and_reused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    judge = load(f"hf/{tiny_llama_dir}")
    c = bundled_criteria()["helpfulness_ko"]
    steps = evaluation_steps(judge, [c], folder=tmp_path)
    calls = judge.stats.requests
    assert evaluation_steps(judge, [c], folder=tmp_path) == steps
    assert judge.stats.requests == calls  # read back, not generated again
    assert evaluation_steps(judge, [c], pinned={c.name: "고정 단계"}, folder=tmp_path) == {
        c.name: "고정 단계"
    }


def test_pairwise_is_a_tie_exactly_when_the_orders_disagree(tiny_llama_dir: Path) -> None:
    judge = load(f"hf/{tiny_llama_dir}")
    c = bundled_criteria()["helpfulness_ko"]
    outcomes = set()
    for a, b in [
        ("좋은 답변입니다.", "나쁜 답"),
        ("서울", "부산"),
        ("A long answer here.", "short"),
        ("네", "아니요"),
    ]:
        verdict = pairwise(judge, c, "1. 비교한다.", "질문", a, b)
        first, second = verdict.orders
        consistent = first == {"A": "B", "B": "A"}[second]
        assert verdict.winner == (first if consistent else "tie")
        outcomes.add(verdict.winner)
        swapped = pairwise(judge, c, "1. 비교한다.", "질문", b, a)
        assert swapped.winner == {"A": "B", "B": "A", "tie": "tie"}[verdict.winner]
    assert outcomes


@pytest.mark.llama_server
def test_openai_judge_reads_top_logprobs(llama_server_url: str) -> None:
    judge = load("openai/tiny", base_url=llama_server_url)
    c = bundled_criteria()["coherence"]
    rows = score_items(judge, ITEMS, [c], {c.name: "1. Read."}, progress=False)
    for row in rows:
        s = row[c.name]
        if s.distribution:
            assert sum(s.distribution.values()) == pytest.approx(1.0)
            assert set(s.distribution) <= set(c.scores)
            assert c.score_min <= (s.score or 0) <= c.score_max
        else:
            assert s.unparsed == 1 and s.score is None
        assert len(s.answers) == 1
