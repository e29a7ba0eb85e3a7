"""The openai backend against real servers on 127.0.0.1: llama.cpp and a scripted fault server."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.models.servers import Fault, FaultServer, free_port

from haechi.errors import BackendError, InputError
from haechi.models import (
    ChatMessage,
    GenerationRequest,
    LanguageModel,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    load,
)
from haechi.models.openai_api import OpenAIModel

SECRET = "sk-test-THIS-KEY-MUST-NEVER-SHOW-0123456789"

# f32 weights and an f32 KV cache on both sides: per-token log-probabilities agree to ~5e-7
# (float32 rounding of logits near -6, summed in a different order). A continuation here has
# at most 8 tokens, so 1e-4 on the sum leaves a 20x margin and still catches a token scored
# at the wrong position (those differ by > 0.01 on this random model).
TOLERANCE = 1e-4

PAIRS = [
    ("안녕하세요 저는", " 학생입니다."),  # Korean; 생 is not in the vocabulary: 3 byte tokens
    ("The capital of France is", " Paris"),  # English
    ("오늘 날씨가 ", "맑습니다"),  # context ending in a space (moved to the continuation)
    ("가나다", " 쀍뷁"),  # a continuation of byte tokens only
    ("질문: 가나다 쀍뷁", " 답"),  # byte tokens in the context
    ("안녕하세요", "."),  # a one-token continuation
]

Reference = Callable[[str, str], LoglikelihoodResult]


def _fast(url: str, **args: object) -> OpenAIModel:
    """A model on ``url`` whose retries wait milliseconds, not seconds."""
    defaults: dict[str, object] = {"backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 3}
    model = load("openai/test-model", base_url=url, **(defaults | args))
    assert isinstance(model, OpenAIModel)
    return model


# -- against llama.cpp ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def torch_reference(tiny_llama_dir: Path) -> Reference:
    """Score like lm-evaluation-harness with a float32 forward pass of the HF checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()

    def score(context: str, continuation: str) -> LoglikelihoodResult:
        stripped = context.rstrip()
        context, continuation = stripped, context[len(stripped) :] + continuation
        whole = tokenizer(context + continuation)["input_ids"]
        n = len(whole) - len(tokenizer(context)["input_ids"])
        with torch.no_grad():
            logprobs = model(torch.tensor([whole])).logits[0].log_softmax(-1)
        targets = whole[-n:]
        rows = logprobs[len(whole) - n - 1 : len(whole) - 1]
        total = sum(float(rows[i, t]) for i, t in enumerate(targets))
        greedy = all(int(rows[i].argmax()) == t for i, t in enumerate(targets))
        return LoglikelihoodResult(total, greedy, n)

    return score


@pytest.fixture(scope="session")
def greedy_pair(tiny_llama_dir: Path) -> tuple[str, str]:
    """A (context, continuation) whose continuation is the model's argmax next token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    for context in ["안녕하세요", "오늘 날씨가", "The capital of France is", "저는 학생", "가나다"]:
        ids = tokenizer(context)["input_ids"]
        with torch.no_grad():
            best = int(model(torch.tensor([ids])).logits[0, -1].argmax())
        piece = str(tokenizer.convert_ids_to_tokens(best))
        if piece.startswith("<"):  # a byte or special token has no text of its own
            continue
        continuation = piece.replace("▁", " ")
        if tokenizer(context + continuation)["input_ids"] == [*ids, best]:
            return context, continuation
    pytest.fail("no context of the tiny model has a plain-text argmax token")


@pytest.mark.llama_server
@pytest.mark.parametrize("split", ["text_offset", "tokenizer"])
def test_loglikelihood_matches_torch(
    split: str,
    llama_server_url: str,
    tiny_llama_dir: Path,
    torch_reference: Reference,
    greedy_pair: tuple[str, str],
) -> None:
    args = {"tokenizer": str(tiny_llama_dir)} if split == "tokenizer" else {}
    model = _fast(llama_server_url, concurrency=4, **args)
    pairs = [*PAIRS, greedy_pair]
    results = model.loglikelihood([LoglikelihoodRequest(c, x) for c, x in pairs])
    for (context, continuation), got in zip(pairs, results, strict=True):
        want = torch_reference(context, continuation)
        assert got.n_tokens == want.n_tokens, (context, continuation)
        assert got.logprob == pytest.approx(want.logprob, abs=TOLERANCE), (context, continuation)
        assert got.is_greedy == want.is_greedy, (context, continuation)
    assert results[-1].is_greedy and results[PAIRS.index(("안녕하세요", "."))].n_tokens == 1
    assert model.stats.requests == len(pairs) and model.stats.forwarded_tokens > 0


@pytest.mark.llama_server
def test_text_offsets_are_characters_after_a_dummy_prefix(llama_server_url: str) -> None:
    """What the text_offset split relies on, pinned: offsets count characters (a Hangul
    syllable split into three byte tokens gives them one offset) of the detokenized text,
    which starts with SentencePiece's dummy-prefix space."""
    body = {"prompt": "가 쀍 a", "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0}
    logprobs = httpx.post(llama_server_url + "/completions", json=body).json()["choices"][0][
        "logprobs"
    ]
    offsets = logprobs["text_offset"]
    assert logprobs["tokens"][:2] == [" ", "가"] and offsets[:2] == [0, 1]
    assert offsets[3:6] == [3, 3, 3]  # 쀍: 3 byte tokens at character 3 (in bytes: 5, 6, 7)
    text = " 가 쀍 a"  # what the server detokenized: 7 characters, 10 UTF-8 bytes
    assert offsets[-1] == len(text) != len(text.encode())  # where the generated token starts
    assert logprobs["token_logprobs"][0] is None  # the first token after BOS is never scored


@pytest.mark.llama_server
@pytest.mark.parametrize("split", ["text_offset", "tokenizer"])
def test_empty_context_is_refused_on_llama_cpp(
    split: str, llama_server_url: str, tiny_llama_dir: Path
) -> None:
    """llama-cpp-python reports null for the first token after BOS, so a continuation with
    an empty context cannot be scored there; the error must say why instead of a bad sum."""
    args = {"tokenizer": str(tiny_llama_dir)} if split == "tokenizer" else {}
    model = _fast(llama_server_url, **args)
    with pytest.raises(BackendError, match="first token after BOS"):
        model.loglikelihood([LoglikelihoodRequest("", "안녕하세요")])


@pytest.mark.llama_server
def test_generate_plain_and_chat(llama_server_url: str) -> None:
    model = _fast(llama_server_url)
    hello = (ChatMessage("user", "안녕하세요?"),)
    plain, chat, scored, two = model.generate(
        [
            GenerationRequest(prompt="오늘 날씨는", max_new_tokens=24),
            GenerationRequest(messages=hello, max_new_tokens=24),
            GenerationRequest(prompt="The capital of", max_new_tokens=5, top_logprobs=2),
            GenerationRequest(messages=hello, max_new_tokens=4, n=2),
        ]
    )
    assert plain.text and chat.text and plain.logprobs is None
    # max_tokens: exactly five tokens, each with its alternatives; greedy picks the best.
    assert scored.finish_reasons == ("length",) and scored.logprobs is not None
    assert len(scored.logprobs[0]) == 5
    for token in scored.logprobs[0]:
        assert 1 <= len(token.top) <= 3 and token.logprob <= 0
        assert token.logprob == pytest.approx(max(token.top.values()))
    # llama-cpp-python ignores n; the backend asks again for the missing completions.
    assert len(two.texts) == 2 and two.texts[0] == two.texts[1]


@pytest.mark.llama_server
@pytest.mark.parametrize("chat", [False, True])
def test_generate_honours_stop_strings(llama_server_url: str, chat: bool) -> None:
    model = _fast(llama_server_url)
    request = (
        GenerationRequest(messages=(ChatMessage("user", "안녕하세요?"),), max_new_tokens=24)
        if chat
        else GenerationRequest(prompt="오늘 날씨는", max_new_tokens=24)
    )
    [probe] = model.generate([_with(request, top_logprobs=1)])
    assert probe.logprobs is not None
    # Stop at a whole generated token: llama-cpp-python 0.3.36 misses some stop strings that
    # span two tokens, which is the server's business, not the backend's.
    stop = next(
        t.token
        for t in probe.logprobs[0][2:]
        if t.token and t.token.isprintable() and t.token.strip() == t.token
    )
    [stopped] = model.generate([_with(request, stop=(stop,))])
    assert stopped.text == probe.text[: probe.text.index(stop)]
    assert stopped.finish_reasons == ("stop",)


def _with(request: GenerationRequest, **changes: Any) -> GenerationRequest:
    return dataclasses.replace(request, **changes)


@pytest.mark.llama_server
def test_chat_top_logprobs(llama_server_url: str) -> None:
    model = _fast(llama_server_url)
    request = GenerationRequest(
        messages=(ChatMessage("user", "hello"),), max_new_tokens=3, top_logprobs=2
    )
    [generation] = model.generate([request])
    assert generation.logprobs is not None and len(generation.logprobs[0]) == 3
    assert all(len(t.top) >= 1 for t in generation.logprobs[0])


# -- against the fault server ------------------------------------------------------------

Servers = Callable[..., FaultServer]


def test_retries_429_and_5xx_then_succeeds(
    fault_server: Servers, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server = fault_server(
        [Fault(429, headers={"Retry-After": "1"}), Fault(500), Fault(503, message=SECRET)]
    )
    model = _fast(server.url)
    with caplog.at_level(logging.WARNING):
        [result] = model.loglikelihood([LoglikelihoodRequest("abc", "de")])
    assert result == LoglikelihoodResult(-2.0, True, 2)
    assert server.attempts == 4
    # Retry-After: 1 was honoured even though backoff_max is 0.05 s.
    assert server.seen[1].at - server.seen[0].at >= 0.95
    assert server.seen[3].at - server.seen[1].at < 0.5
    assert "429" in caplog.text and "500" in caplog.text and SECRET not in caplog.text


def test_gives_up_after_max_retries_naming_the_last_cause(fault_server: Servers) -> None:
    server = fault_server([Fault(500)] * 3 + [Fault(502, message="bad gateway")] * 10)
    model = _fast(server.url, max_retries=4)
    with pytest.raises(BackendError, match=r"after 5 attempt.*HTTP 502: bad gateway"):
        model.loglikelihood([LoglikelihoodRequest("a", "b")])
    assert server.attempts == 5


def test_timeouts_are_retried_then_fail(fault_server: Servers) -> None:
    server = fault_server([Fault(sleep=1.5)] * 3)
    model = _fast(server.url, timeout=0.2, max_retries=2)
    with pytest.raises(BackendError, match=r"after 3 attempt.*timed out"):
        model.generate([GenerationRequest(prompt="x")])
    assert server.attempts == 3


def test_connection_errors_are_retried_then_fail() -> None:
    model = _fast(f"http://127.0.0.1:{free_port()}/v1", max_retries=2)
    with pytest.raises(BackendError, match=r"after 3 attempt.*connection error"):
        model.generate([GenerationRequest(prompt="x")])


def test_401_fails_at_once_and_never_shows_the_key(
    fault_server: Servers, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    # Servers may quote the key back; the backend must redact it.
    server = fault_server([Fault(401, message=f"Incorrect API key provided: {SECRET}")])
    model = _fast(server.url)
    with caplog.at_level(logging.DEBUG), pytest.raises(BackendError) as failure:
        model.loglikelihood([LoglikelihoodRequest("a", "b")])
    message = str(failure.value)
    assert server.attempts == 1
    assert "401" in message and "OPENAI_API_KEY" in message and "--base-url" in message
    assert server.seen[0].headers["Authorization"] == f"Bearer {SECRET}"
    for text in (message, repr(failure.value), str(model.describe()), model.fingerprint,
                 repr(model), caplog.text):  # fmt: skip
        assert SECRET not in text


def test_other_4xx_fail_at_once_with_the_server_message(fault_server: Servers) -> None:
    server = fault_server([Fault(400, message="max_tokens is too large")])
    with pytest.raises(BackendError, match=r"HTTP 400: max_tokens is too large"):
        _fast(server.url).generate([GenerationRequest(prompt="x")])
    assert server.attempts == 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_is_bounded_at_the_server(fault_server: Servers, concurrency: int) -> None:
    server = fault_server(delay=0.05)
    model = _fast(server.url, concurrency=concurrency)
    requests = [LoglikelihoodRequest("ctx", "x" * (i + 1)) for i in range(18)]
    results = model.loglikelihood(requests)
    assert [r.logprob for r in results] == [-float(i + 1) for i in range(18)]  # in order
    assert server.max_in_flight == concurrency


def test_empty_context_is_scored_after_an_echoed_bos(fault_server: Servers) -> None:
    """A server that echoes BOS (null logprob, like vLLM) scores every continuation token;
    trailing context whitespace moves into the continuation."""
    model = _fast(fault_server().url)
    empty, spaced, nothing = model.loglikelihood(
        [
            LoglikelihoodRequest("", "한국어"),
            LoglikelihoodRequest("질문 ", "답"),
            LoglikelihoodRequest("질문", ""),
        ]
    )
    assert empty == LoglikelihoodResult(-3.0, True, 3)
    assert spaced == LoglikelihoodResult(-2.0, True, 2)
    assert nothing == LoglikelihoodResult(0.0, True, 0)


def test_generation_requests_on_the_wire(fault_server: Servers) -> None:
    server = fault_server()
    model = _fast(server.url)
    chat, plain = model.generate(
        [
            GenerationRequest(
                messages=(ChatMessage("system", "짧게"), ChatMessage("user", "안녕")),
                max_new_tokens=7,
                temperature=0.5,
                top_p=0.9,
                stop=("\n",),
                seed=3,
                top_logprobs=0,
            ),
            GenerationRequest(prompt="hi", n=3, max_new_tokens=2),
        ]
    )
    assert chat.text == "ok: 안녕" and plain.texts == ("ok: hi",) * 3
    by_path = {seen.path: seen.body for seen in server.seen}
    assert by_path["/v1/chat/completions"] == {
        "model": "test-model",
        "messages": [{"role": "system", "content": "짧게"}, {"role": "user", "content": "안녕"}],
        "max_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 3,
    }
    assert by_path["/v1/completions"]["n"] == 3 and server.attempts == 2
    assert model.stats.requests == 2 and model.stats.generated_tokens == 4


def test_synchronous_calls_work_inside_a_running_event_loop(fault_server: Servers) -> None:
    model = _fast(fault_server().url)

    async def caller() -> list[LoglikelihoodResult]:
        return model.loglikelihood([LoglikelihoodRequest("a", "bc")])

    assert asyncio.run(caller()) == [LoglikelihoodResult(-2.0, True, 2)]


def test_args_env_and_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    model = load("openai/gpt-x", concurrency="2", timeout="1.5")
    assert isinstance(model, OpenAIModel) and isinstance(model, LanguageModel)
    assert model.name == "openai/gpt-x" and model.args.concurrency == 2
    assert model.describe()["base_url"] == "http://127.0.0.1:9/v1"
    other = load("openai/gpt-x", base_url="http://127.0.0.1:10/v1")
    assert other.fingerprint != model.fingerprint
    with pytest.raises(InputError, match="concurency"):
        load("openai/gpt-x", concurency="2")
    with pytest.raises(InputError, match="http://"):
        load("openai/gpt-x", base_url="localhost:8000/v1")
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert load("openai/gpt-x").describe()["base_url"] == "https://api.openai.com/v1"
    proxied = load("openai/gpt-x", base_url="http://me:pa55word@127.0.0.1:9/v1")
    assert "pa55word" not in str(proxied.describe()) + repr(proxied)
