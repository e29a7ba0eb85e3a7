"""Streaming generation: text pieces as they are produced, for the chat playground.

The ``LanguageModel`` protocol stays as it is. ``stream(model, request)`` streams from the
backends that can (hf: transformers' ``TextIteratorStreamer`` with ``generate`` in a thread;
openai: the server's server-sent events) and falls back to one piece from ``generate`` for
any other model (vllm, wrappers such as a guarded model).

Stop strings are honoured on this side as well: no text at or past a stop string is ever
yielded, even when a server misses a stop string split across two tokens.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from haechi.errors import BackendError
from haechi.models.base import GenerationRequest, LanguageModel
from haechi.models.http_retry import public_url, redact, server_message

# SentencePiece's byte-fallback pieces, e.g. <0xEB>
_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")

if TYPE_CHECKING:
    from haechi.models.hf import HFModel
    from haechi.models.openai_api import OpenAIModel


class TextStream:
    """An iterator of text pieces (characters, not tokens) of one completion.

    While iterating, ``text`` is what has been yielded so far. ``finish_reason`` is set once
    the stream ends: ``stop`` (end of turn or a stop string), ``length`` (``max_new_tokens``
    reached) or ``cancelled`` (closed early, or interrupted by Ctrl-C). Closing the stream
    stops the backend's work (the generation thread, or the HTTP response).
    """

    def __init__(self, pieces: Generator[str, None, str]) -> None:
        self._pieces = pieces
        self.text = ""
        self.finish_reason: str | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            piece = next(self._pieces)
        except StopIteration as end:
            self.finish_reason = str(end.value)
            raise
        except KeyboardInterrupt:
            self.finish_reason = "cancelled"
            raise
        self.text += piece
        return piece

    def close(self) -> None:
        if self.finish_reason is None:
            self.finish_reason = "cancelled"
        self._pieces.close()

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StopFilter:
    """Passes text through but holds back any end that could be the start of a stop string,
    and cuts the text at the first stop string."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.text = ""
        self.sent = 0
        self.stopped = False

    def push(self, piece: str) -> str:
        """Add ``piece``; return the text now safe to show (maybe empty)."""
        self.text += piece
        # The search of hf_generate.truncate_at_stop, not the function: that module imports
        # torch, which an openai-only install does not have.
        cut = min((i for i in (self.text.find(s) for s in self.stops) if i >= 0), default=None)
        self.stopped = cut is not None
        safe = cut if cut is not None else len(self.text) - _held_back(self.text, self.stops)
        out = self.text[self.sent : max(safe, self.sent)]
        self.sent = max(safe, self.sent)
        return out

    def flush(self) -> str:
        """The held-back end once the text is complete (it was no stop string after all)."""
        if self.stopped:
            return ""
        out, self.sent = self.text[self.sent :], len(self.text)
        return out


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of ``text`` that is a proper beginning of a stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


def stream(model: LanguageModel, request: GenerationRequest) -> TextStream:
    """Stream one completion of ``request`` (``n`` must be 1, no ``top_logprobs``).

    Nothing runs until the first piece is asked for; see ``TextStream`` for the results.
    """
    if request.n != 1 or request.top_logprobs:
        raise ValueError("streaming gives one completion without log-probabilities")
    from haechi.models.hf import HFModel
    from haechi.models.openai_api import OpenAIModel

    if isinstance(model, HFModel):
        return TextStream(_hf_pieces(model, request))
    if isinstance(model, OpenAIModel):
        return TextStream(_openai_pieces(model, request))
    return TextStream(_whole(model, request))


def _whole(model: LanguageModel, request: GenerationRequest) -> Generator[str, None, str]:
    [generation] = model.generate([request])
    if generation.text:
        yield generation.text
    return generation.finish_reasons[0]


# -- hf ------------------------------------------------------------------------------------


def _hf_pieces(model: HFModel, request: GenerationRequest) -> Generator[str, None, str]:
    import torch
    from transformers import (
        LogitsProcessorList,
        StoppingCriteria,
        StoppingCriteriaList,
        TextIteratorStreamer,
    )

    # The prompt is tokenized exactly as HFModel.generate does it (chat template or plain).
    from haechi.models.hf_generate import prompt_token_ids, stop_token_ids

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool)

    class StableStreamer(TextIteratorStreamer):
        """Queues only text that later tokens cannot change, so the pieces add up to the
        final decode: transformers' own rule shows letters at once, but SentencePiece's
        byte fallback decodes a run of byte tokens as one UTF-8 sequence, and a later byte
        can turn an already shown "H" into a replacement character."""

        def put(self, value: Any) -> None:
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.reshape(-1).tolist())
            last = str(self.tokenizer.convert_ids_to_tokens(self.token_cache[-1]))
            if _BYTE_TOKEN.fullmatch(last):
                return  # a byte run may still grow into (or spoil) a character
            text = str(self.tokenizer.decode(self.token_cache, **self.decode_kwargs))
            if not text.endswith("\ufffd"):  # an unfinished byte-level character
                self.on_finalized_text(text[self.print_len :])
                self.print_len = len(text)

    cancel = threading.Event()
    prompt = prompt_token_ids(model.tokenizer, request)
    eos_ids = stop_token_ids(model)
    pad = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else eos_ids[0]
    streamer = StableStreamer(model.tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs: dict[str, Any] = {
        "max_new_tokens": request.max_new_tokens,
        "do_sample": request.temperature > 0,
        "eos_token_id": eos_ids,
        "pad_token_id": pad,
        "streamer": streamer,
        "stopping_criteria": StoppingCriteriaList([Cancelled()]),
    }
    if request.temperature > 0:
        kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=0)
    if request.stop:
        kwargs.update(stop_strings=list(request.stop), tokenizer=model.tokenizer)
    # Decode-time processors (a haechi.guard guard) shape the stream as they shape generate.
    if processors := getattr(model, "logits_processors", None):
        kwargs["logits_processor"] = LogitsProcessorList(processors)
    if request.seed is not None:
        torch.manual_seed(request.seed)
    ids = torch.tensor([prompt], device=model.device)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with torch.inference_mode():
                outcome["sequences"] = model.model.generate(
                    ids, attention_mask=torch.ones_like(ids), **kwargs
                )
        except BaseException as exc:  # handed to the reading thread, which raises it
            outcome["error"] = exc
            streamer.end()  # unblock the reader

    thread = threading.Thread(target=work, name="haechi-stream", daemon=True)
    thread.start()
    stops = StopFilter(request.stop)
    try:
        for piece in streamer:
            if text := stops.push(piece):
                yield text
            if stops.stopped:
                break
        if tail := stops.flush():
            yield tail
    finally:
        cancel.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    new = outcome["sequences"][0, len(prompt) :].tolist()
    ended = next((i + 1 for i, t in enumerate(new) if t in eos_ids), None)
    model.stats.add(forwarded=len(prompt), generated=ended or len(new), requests=1)
    return "stop" if stops.stopped or ended is not None else "length"


# -- openai --------------------------------------------------------------------------------


def _openai_pieces(model: OpenAIModel, request: GenerationRequest) -> Generator[str, None, str]:
    """One streamed ``/chat/completions`` (or ``/completions``) call. Unlike ``generate``,
    a failed stream is not retried: a person is waiting and can send the message again."""
    from haechi.models.openai_api import API_KEY_ENV, _generation_payload

    chat = request.messages is not None
    url = model.base_url + ("/chat/completions" if chat else "/completions")
    payload = {**_generation_payload(model.model, request, 1, 0), "stream": True}
    # The key the model was built with (from $OPENAI_API_KEY), sent as it sends it.
    key = model._api_key
    secrets = [s for s in (key, httpx.URL(model.base_url).password) if s]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    hint = f"check {API_KEY_ENV} and --base-url (now {public_url(model.base_url)})"
    stops = StopFilter(request.stop)
    reason = ""
    with (
        httpx.Client(headers=headers, timeout=httpx.Timeout(model.args.timeout)) as client,
        _open(client, url, payload, secrets, hint) as response,
    ):
        for event in _events(response, url, secrets):
            _count_usage(model, event)
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                if piece and (text := stops.push(str(piece))):
                    yield text
                reason = str(choice.get("finish_reason") or reason)
            if stops.stopped:
                break
    if tail := stops.flush():
        yield tail
    model.stats.add(requests=1)
    return "stop" if stops.stopped else reason or "stop"


@contextmanager
def _open(
    client: httpx.Client, url: str, payload: dict[str, Any], secrets: list[str], hint: str
) -> Iterator[httpx.Response]:
    """POST and keep the response open for reading; HTTP errors become ``BackendError``."""
    try:
        response = client.send(client.build_request("POST", url, json=payload), stream=True)
    except httpx.TransportError as exc:
        raise BackendError(redact(f"POST {url}: {type(exc).__name__}: {exc}", secrets)) from None
    try:
        if response.status_code >= 400:
            response.read()
            message = redact(server_message(response), secrets)
            raise BackendError(
                f"POST {url} failed with HTTP {response.status_code}: {message} ({hint})"
            )
        yield response
    finally:
        response.close()


def _events(response: httpx.Response, url: str, secrets: list[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of the ``data:`` lines of a server-sent event stream, up to
    ``[DONE]``; an ``error`` object sent mid-stream raises ``BackendError``."""
    try:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alive blank lines
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                raise BackendError(
                    f"POST {url} streamed a line that is not JSON: {data[:200]!r}"
                ) from None
            if not isinstance(event, dict):
                raise BackendError(f"POST {url} streamed an unexpected shape: {data[:200]!r}")
            if "error" in event:
                raise BackendError(
                    redact(f"POST {url} failed mid-stream: {event['error']}", secrets)
                )
            yield event
    except httpx.TransportError as exc:
        raise BackendError(redact(f"POST {url}: stream broke: {exc}", secrets)) from None


def _count_usage(model: OpenAIModel, event: dict[str, Any]) -> None:
    usage = event.get("usage")
    if isinstance(usage, dict):
        model.stats.add(
            forwarded=int(usage.get("prompt_tokens") or 0),
            generated=int(usage.get("completion_tokens") or 0),
        )
