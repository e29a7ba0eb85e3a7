"""Peer check: our hf backend scores requests exactly as lm-evaluation-harness 0.4.13 does."""

from __future__ import annotations

from pathlib import Path

import pytest

from haechi.models import LoglikelihoodRequest, load

lm_eval_hf = pytest.importorskip("lm_eval.models.huggingface", reason="lm-eval is a dev dependency")
from lm_eval.api.instance import Instance  # noqa: E402

PAIRS = [
    ("대한민국의 수도는", " 서울입니다."),
    ("질문: 물은 몇 도에서 끓습니까? 답변:  ", "섭씨 100도"),  # two trailing spaces
    ("Question: What is the capital of Korea?\nAnswer:", " Seoul"),
    ("", "고양이는 상자를 좋아합니다."),
    ("A", "B"),
    ("한글은 세종대왕이", " 만든 글자"),
]


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_qwen2_dir"])
def test_same_tokens_and_scores_as_lm_eval(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    peer = lm_eval_hf.HFLM(pretrained=str(model_dir), dtype="float32", device="cpu", batch_size=2)
    ours = load(f"hf/{model_dir}", batch_size=4)
    instances = [
        Instance(request_type="loglikelihood", doc={}, arguments=pair, idx=i)
        for i, pair in enumerate(PAIRS)
    ]
    expected = peer.loglikelihood(instances, disable_tqdm=True)
    got = ours.loglikelihood([LoglikelihoodRequest(*pair) for pair in PAIRS])
    for pair, (logprob, greedy), result in zip(PAIRS, expected, got, strict=True):
        assert result.logprob == pytest.approx(logprob, abs=1e-5), pair
        assert result.is_greedy == greedy
