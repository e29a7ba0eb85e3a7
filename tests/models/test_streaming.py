"""Streaming: the pieces add up to what ``generate`` returns, stop strings cut the stream,
closing it stops the work. hf on the tiny models; openai on llama.cpp over loopback."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.models.servers import Fault, FaultServer

from haechi.errors import BackendError
from haechi.models import ChatMessage, GenerationRequest, LanguageModel, load
from haechi.models.hf import HFModel
from haechi.models.streaming import StopFilter, StreamingModel, stream

HELLO = (ChatMessage("user", "안녕하세요"),)
REQUESTS = [
    GenerationRequest(prompt="오늘 날씨는", max_new_tokens=24),
    GenerationRequest(messages=HELLO, max_new_tokens=24),
    GenerationRequest(prompt="The capital of", max_new_tokens=24),
]


@pytest.fixture(scope="module")
def hf_models(tiny_llama_dir: Path, tiny_qwen2_dir: Path) -> dict[str, HFModel]:
    models = {"llama": load(f"hf/{tiny_llama_dir}"), "qwen2": load(f"hf/{tiny_qwen2_dir}")}
    assert all(isinstance(m, HFModel) for m in models.values())
    return models  # type: ignore[return-value]


def _stop_inside(text: str) -> str:
    """A stop string that first occurs well inside ``text`` (two characters, no spaces)."""
    for start in range(len(text) // 3, len(text) - 2):
        stop = text[start : start + 2]
        if stop.strip() == stop and text.index(stop) >= len(text) // 4:
            return stop
    pytest.fail(f"no usable stop string in {text!r}")


# -- the stop filter -----------------------------------------------------------------------


def test_stop_filter_holds_back_a_possible_stop_and_cuts_at_the_first() -> None:
    stops = StopFilter(["<|im_end|>", "\n\n"])
    shown = [stops.push(p) for p in ["안녕", "하세요<|im", "_e", "nd|>그 뒤"]]
    assert shown == ["안녕", "하세요", "", ""] and stops.stopped
    assert stops.flush() == ""
    # A held-back end that turns out not to be a stop comes out with the next piece or at
    # the end.
    loose = StopFilter(["<|im_end|>"])
    assert [loose.push("a<|i"), loose.push("x"), loose.push("<")] == ["a", "<|ix", ""]
    assert loose.flush() == "<" and not loose.stopped


# -- hf ------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["llama", "qwen2"])
@pytest.mark.parametrize("request_", REQUESTS, ids=["plain", "chat", "english"])
def test_hf_pieces_add_up_to_generate(
    hf_models: dict[str, HFModel], family: str, request_: GenerationRequest
) -> None:
    model = hf_models[family]
    [whole] = model.generate([request_])
    before = model.stats.requests
    answer = stream(model, request_)
    pieces = list(answer)
    assert len(pieces) > 3  # it streamed, not one block at the end
    assert "".join(pieces) == answer.text == whole.text
    assert answer.finish_reason == whole.finish_reasons[0]
    assert model.stats.requests == before + 1


def test_hf_stream_stops_at_a_stop_string(hf_models: dict[str, HFModel]) -> None:
    model = hf_models["llama"]
    [whole] = model.generate([REQUESTS[1]])
    stop = _stop_inside(whole.text)
    request = dataclasses.replace(REQUESTS[1], stop=(stop,))
    answer = stream(model, request)
    pieces = list(answer)
    assert "".join(pieces) == whole.text[: whole.text.index(stop)]
    assert answer.finish_reason == "stop"
    assert model.generate([request])[0].text == answer.text  # as the non-streaming path cuts


def test_hf_sampling_is_seeded(hf_models: dict[str, HFModel]) -> None:
    model = hf_models["qwen2"]
    request = dataclasses.replace(REQUESTS[0], temperature=1.0, seed=7, max_new_tokens=20)
    first, again = "".join(stream(model, request)), "".join(stream(model, request))
    assert first == again == model.generate([request])[0].text


def test_closing_the_stream_stops_generation(hf_models: dict[str, HFModel]) -> None:
    model = hf_models["llama"]
    request = dataclasses.replace(REQUESTS[1], max_new_tokens=2000)  # ~15 s if run to the end
    generated = model.stats.generated_tokens
    with stream(model, request) as answer:
        first = next(answer)
    assert answer.finish_reason == "cancelled" and answer.text == first
    # The thread was joined on close; it had generated far fewer than 2000 tokens.
    assert model.stats.generated_tokens == generated  # a cancelled stream reports nothing


def test_logits_processors_shape_the_stream(hf_models: dict[str, HFModel]) -> None:
    """A model with decode-time processors (how haechi.guard guards a model) streams what
    its generate returns, not the unprocessed text."""
    from transformers import SuppressTokensLogitsProcessor

    plain = hf_models["llama"]
    [unprocessed] = plain.generate([REQUESTS[1]])
    processed = copy.copy(plain)
    banned = plain.tokenizer(unprocessed.text, add_special_tokens=False)["input_ids"]
    processed.logits_processors = [SuppressTokensLogitsProcessor(banned)]
    [whole] = processed.generate([REQUESTS[1]])
    assert whole.text != unprocessed.text
    assert "".join(stream(processed, REQUESTS[1])) == whole.text


def test_other_models_stream_one_piece(hf_models: dict[str, HFModel]) -> None:
    """A model without a ``stream`` method (a wrapper, vllm) still streams: one piece."""

    @dataclasses.dataclass
    class Wrapped:
        inner: HFModel

        def __getattr__(self, name: str) -> object:
            if name == "stream":  # only the LanguageModel protocol is passed through
                raise AttributeError(name)
            return getattr(self.inner, name)

    wrapped: LanguageModel = Wrapped(hf_models["llama"])  # type: ignore[assignment]
    assert not isinstance(wrapped, StreamingModel)
    assert isinstance(hf_models["llama"], StreamingModel)
    answer = stream(wrapped, REQUESTS[0])
    assert list(answer) == [hf_models["llama"].generate([REQUESTS[0]])[0].text]
    assert answer.finish_reason == "length"


def test_streaming_refuses_several_answers(hf_models: dict[str, HFModel]) -> None:
    with pytest.raises(ValueError, match="one completion"):
        stream(hf_models["llama"], dataclasses.replace(REQUESTS[0], n=2))


# -- openai --------------------------------------------------------------------------------


@pytest.mark.llama_server
@pytest.mark.parametrize("request_", REQUESTS[:2], ids=["plain", "chat"])
def test_openai_pieces_add_up_to_generate(
    llama_server_url: str, request_: GenerationRequest
) -> None:
    model = load("openai/tiny", base_url=llama_server_url)
    [whole] = model.generate([request_])
    answer = stream(model, request_)
    pieces = list(answer)
    assert len(pieces) > 3
    assert "".join(pieces) == answer.text == whole.text
    assert answer.finish_reason == whole.finish_reasons[0]


@pytest.mark.llama_server
def test_openai_stream_stops_at_a_stop_string(llama_server_url: str) -> None:
    """Any substring stops the stream, even one the server misses because it spans two
    tokens: nothing at or after it is shown."""
    model = load("openai/tiny", base_url=llama_server_url)
    [whole] = model.generate([REQUESTS[1]])
    stop = _stop_inside(whole.text)
    answer = stream(model, dataclasses.replace(REQUESTS[1], stop=(stop,)))
    assert "".join(answer) == whole.text[: whole.text.index(stop)]
    assert answer.finish_reason == "stop"


Servers = Callable[..., FaultServer]


def test_openai_http_errors_name_the_status_without_the_key(
    fault_server: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-NEVER-SHOWN-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    server = fault_server([Fault(401, message=f"bad key {secret}")])
    model = load("openai/tiny", base_url=server.url)
    with pytest.raises(BackendError, match="HTTP 401") as caught:
        list(stream(model, REQUESTS[1]))
    assert secret not in str(caught.value) and "OPENAI_API_KEY" in str(caught.value)
    assert server.seen[0].headers["Authorization"] == f"Bearer {secret}"
    assert server.seen[0].body["stream"] is True
