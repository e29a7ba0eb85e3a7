"""The same evaluation through the hf backend and through llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

from haechi.evaluate import EvalConfig, evaluate
from haechi.models import load


@pytest.mark.llama_server
def test_openai_backend_scores_like_hf(tiny_llama_dir: Path, llama_server_url: str) -> None:
    config = EvalConfig(tasks=["kobest_copa", "ko_arc"], samples=True, num_fewshot=1)
    served = evaluate(
        load("openai/tiny", base_url=llama_server_url, concurrency=4), config, progress=False
    )
    local = evaluate(load(f"hf/{tiny_llama_dir}"), config, progress=False)
    for a, b in zip(served.scores, local.scores, strict=True):
        for sa, sb in zip(a.samples, b.samples, strict=True):
            assert sa.loglikelihoods == pytest.approx(sb.loglikelihoods, abs=1e-3)
            assert sa.n_tokens == sb.n_tokens
        assert a.metrics == b.metrics
