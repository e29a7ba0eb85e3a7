"""``vllm serve``'s OpenAI-compatible server through the openai backend equals hf."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.models.test_vllm_backend import GENERATIONS, TOLERANCE, _task_requests
from tests.models.vllm_helpers import build_head32_llama, require_vllm, vllm_server

from haechi.models import load


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_vllm()
    return build_head32_llama(tmp_path_factory.mktemp("vllm-models"))


@pytest.fixture(scope="module")
def server_url(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with vllm_server(checkpoint, tmp_path_factory.mktemp("vllm-serve") / "server.log") as url:
        yield url


def test_openai_backend_on_vllm_serve_equals_hf(server_url: str, checkpoint: Path) -> None:
    served = load("openai/tiny", base_url=server_url, tokenizer=str(checkpoint), concurrency=4)
    reference = load(f"hf/{checkpoint}", dtype="float32")
    requests = _task_requests(["kobest_copa", "ko_arc"])
    got = served.loglikelihood(requests)
    want = reference.loglikelihood(requests)
    worst = max(abs(g.logprob - w.logprob) for g, w in zip(got, want, strict=True))
    assert worst < TOLERANCE
    assert [g.is_greedy for g in got] == [w.is_greedy for w in want]
    plain = [r for r in GENERATIONS if r.prompt is not None and not r.stop]
    # The server's text is vLLM's incremental detokenization: it keeps SentencePiece's
    # leading space and holds back a trailing partial UTF-8 character, which hf's decode
    # shows as U+FFFD. The tokens are the same; the text differs only there.
    got_texts = [_plain(g.text) for g in served.generate(plain)]
    assert got_texts == [_plain(w.text) for w in reference.generate(plain)]


def _plain(text: str) -> str:
    return text.removeprefix(" ").rstrip("\ufffd")
