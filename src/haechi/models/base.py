"""The ``LanguageModel`` protocol and the values that cross it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score ``continuation`` given ``context`` (plain strings, no template applied)."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    """``logprob`` is the summed natural-log probability (nats) of the continuation tokens.

    ``is_greedy`` is true when every continuation token is the argmax at its position;
    ``n_tokens`` counts the continuation tokens.
    """

    logprob: float
    is_greedy: bool
    n_tokens: int


@dataclass(frozen=True)
class GenerationRequest:
    """A plain prompt or a chat conversation to continue.

    Exactly one of ``prompt`` and ``messages`` is set. ``temperature == 0`` means greedy.
    ``top_logprobs`` asks for that many alternatives per generated token.
    """

    prompt: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int | None = None
    top_logprobs: int = 0

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("GenerationRequest needs exactly one of prompt or messages")


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the top alternatives (nats)."""

    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Generation:
    """``texts`` holds ``n`` completions; ``logprobs`` one list per completion when asked.
    ``prompt_tokens`` and ``completion_tokens`` are what this request cost (all ``n``)."""

    texts: tuple[str, ...]
    finish_reasons: tuple[str, ...]
    logprobs: tuple[tuple[TokenLogprob, ...], ...] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def text(self) -> str:
        return self.texts[0]


@dataclass
class TokenStats:
    """What a backend actually ran, so the engine can report it.

    ``naive_tokens`` is what one full forward pass per log-likelihood request would have
    run (lm-evaluation-harness's HF backend); ``forwarded_tokens`` what really ran;
    ``floor_tokens`` the unique-prefix floor of those requests (``token_floor``), the least
    any engine must run; ``cached_tokens`` prompt tokens an engine took from its own prefix
    cache instead of computing them (vLLM), not counted in ``forwarded_tokens``;
    ``padding_tokens`` positions forwarded as padding (rows padded to their batch's
    longest), not counted in ``forwarded_tokens`` either though they cost as much.
    """

    forwarded_tokens: int = 0
    naive_tokens: int = 0
    generated_tokens: int = 0
    requests: int = 0
    floor_tokens: int = 0
    cached_tokens: int = 0
    padding_tokens: int = 0

    def add(
        self,
        *,
        forwarded: int = 0,
        naive: int = 0,
        generated: int = 0,
        requests: int = 0,
        floor: int = 0,
        cached: int = 0,
        padding: int = 0,
    ) -> None:
        with _STATS_LOCK:  # HTTP backends count from several threads at once
            self.forwarded_tokens += forwarded
            self.naive_tokens += naive
            self.generated_tokens += generated
            self.requests += requests
            self.floor_tokens += floor
            self.cached_tokens += cached
            self.padding_tokens += padding


_STATS_LOCK = threading.Lock()


@runtime_checkable
class LanguageModel(Protocol):
    """What every backend offers. Results come back in request order."""

    name: str
    fingerprint: str
    stats: TokenStats

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResult]: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...

    def describe(self) -> dict[str, object]:
        """The configuration that identifies this model in records (no secrets)."""
        ...


def serves_concurrent_calls(model: LanguageModel) -> bool:
    """Whether ``model.generate`` may be called from several threads at once, each call
    served in parallel (a backend says so with a true ``concurrent_calls`` attribute: the
    HTTP ones). Others batch within one call instead, and get one call at a time."""
    return bool(getattr(model, "concurrent_calls", False))


@runtime_checkable
class GuidableModel(LanguageModel, Protocol):
    """A backend whose generation runs decode-time logits processors (``haechi.guard``):
    its tokenizer, device, identity (what the fingerprint hashes) and the processor list
    every ``generate`` and ``stream`` call passes on."""

    tokenizer: Any
    device: Any
    identity: dict[str, Any]
    logits_processors: list[Any]

    def padding_token_id(self) -> int:
        """The id that ``generate`` left-pads prompts with (a processor must skip it)."""
        ...
