"""The same evaluation through the hf backend and through llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

from haechi.errors import BackendError
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


@pytest.mark.llama_server
def test_openai_backend_under_a_chat_template(tiny_llama_dir: Path, llama_server_url: str) -> None:
    """Generation goes to /chat/completions (the server renders its template); scoring the
    rendered text through /completions needs a server that reads special tokens in prompt
    text, which llama-cpp-python's does not: refused, saying so."""
    model = load("openai/tiny", base_url=llama_server_url, tokenizer=str(tiny_llama_dir))
    config = EvalConfig(tasks=["ko_gsm8k"], samples=True, limit=2, num_fewshot=1,
                        apply_chat_template="default", max_gen_toks=8)  # fmt: skip
    served = evaluate(model, config, progress=False)
    assert served.document["config"]["chat_template"]["generation_via_chat_messages"] is True
    assert all(s.completion_tokens > 0 for s in served.scores[0].samples)
    scoring = config.model_copy(update={"tasks": ["kobest_copa"]})
    with pytest.raises(BackendError, match="does not read special tokens"):
        evaluate(model, scoring, progress=False)
