"""Streaming generation: text pieces as they are produced, for the chat playground.

Streaming is an optional method of a backend: one that can stream defines
``stream(request)``, a generator of text pieces that returns the finish reason (hf:
``models/hf_stream.py``; openai: ``models/openai_stream.py``). ``stream(model, request)``
wraps it in a ``TextStream``, and falls back to one piece from ``generate`` for a model
without it (vllm).

Stop strings are honoured on this side as well: no text at or past a stop string is ever
yielded, even when a server misses a stop string split across two tokens.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Protocol, runtime_checkable

from haechi.models.base import GenerationRequest, LanguageModel

Pieces = Generator[str, None, str]  # text pieces; returns the finish reason


@runtime_checkable
class StreamingModel(Protocol):
    """A backend that can stream: ``stream`` yields text pieces of one completion
    (``request.n == 1``) and returns ``stop`` or ``length``; closing it stops the work."""

    def stream(self, request: GenerationRequest) -> Pieces: ...


class TextStream:
    """An iterator of text pieces (characters, not tokens) of one completion.

    While iterating, ``text`` is what has been yielded so far. ``finish_reason`` is set once
    the stream ends: ``stop`` (end of turn or a stop string), ``length`` (``max_new_tokens``
    reached) or ``cancelled`` (closed early, or interrupted by Ctrl-C). Closing the stream
    stops the backend's work (the generation thread, or the HTTP response).
    """

    def __init__(self, pieces: Pieces) -> None:
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
    if isinstance(model, StreamingModel):
        return TextStream(model.stream(request))
    return TextStream(_whole(model, request))


def _whole(model: LanguageModel, request: GenerationRequest) -> Pieces:
    [generation] = model.generate([request])
    if generation.text:
        yield generation.text
    return generation.finish_reasons[0]
