"""``mock/NAME``: a deterministic stand-in model that needs no torch and no server.

For trying a task file or a campaign end to end, and for tests about the engine rather than
the model (Inspect's ``mockllm`` idea). Every character is a token; a continuation's
log-probability is a fixed pseudo-random function of (seed, the text before each character,
the character), so equal inputs always score equally and a shared prefix scores the same
under any batching. Generations are drawn the same way from a small Korean vocabulary unless
``reply`` fixes them. ``latency`` (seconds per request) makes it slow on purpose, e.g. to kill
a run mid-way.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from haechi.models.base import (
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenLogprob,
    TokenStats,
)
from haechi.models.fingerprint import digest
from haechi.models.spec import validate_args
from haechi.models.token_floor import unique_prefix_tokens

WORDS = ("네", "아니요", "서울", "한국", "바다", "사람", "시간", "오늘", "좋다", "그리고", ".")
GREEDY_BELOW = 0.5  # a character is "greedy" when its draw is below this


class MockArgs(BaseModel):
    """Options of the ``mock`` backend."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    reply: str | None = None
    latency: float = Field(0.0, ge=0.0)


class MockModel:
    """A model whose answers are a pure function of its seed and the input text."""

    def __init__(self, name: str, args: MockArgs) -> None:
        self.name = name
        self.args = args
        self.stats = TokenStats()
        self.fingerprint = digest(self.describe())

    @classmethod
    def from_args(cls, target: str, args: dict[str, object]) -> MockModel:
        return cls(target, validate_args(MockArgs, args, "mock"))

    def describe(self) -> dict[str, object]:
        return {
            "backend": "mock",
            "name": self.name,
            "seed": self.args.seed,
            "reply": self.args.reply,
        }

    def _draw(self, *parts: str) -> float:
        """A uniform draw in [0, 1) fixed by the seed and ``parts``."""
        key = "\x00".join((str(self.args.seed), *parts)).encode("utf-8")
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64

    def _char_logprob(self, before: str, char: str) -> tuple[float, bool]:
        u = self._draw("ll", before, char)
        return math.log(0.02 + 0.9 * (1.0 - u)), u < GREEDY_BELOW

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        results = []
        for request in requests:
            self._wait()
            total, greedy = 0.0, True
            for i, char in enumerate(request.continuation):
                logprob, top = self._char_logprob(request.context + request.continuation[:i], char)
                total += logprob
                greedy = greedy and top
            results.append(LoglikelihoodResult(total, greedy, len(request.continuation)))
        texts = [r.context + r.continuation for r in requests]
        forwarded = sum(len(t) for t in texts)
        self.stats.add(
            forwarded=forwarded,
            naive=forwarded,
            requests=len(requests),
            floor=unique_prefix_tokens([ord(c) for c in t] for t in texts),
        )
        return results

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self._generate(request) for request in requests]

    def _generate(self, request: GenerationRequest) -> Generation:
        self._wait()
        prompt = request.prompt or "\n".join(
            f"{m.role}: {m.content}" for m in request.messages or ()
        )
        texts, reasons, logprobs = [], [], []
        for index in range(request.n):
            draw = str(index if request.temperature > 0 else 0)
            text, reason = self._complete(prompt, draw, request)
            texts.append(text)
            reasons.append(reason)
            logprobs.append(tuple(self._token(prompt + text[:i], c) for i, c in enumerate(text)))
        completion = sum(len(t) for t in texts)
        self.stats.add(generated=completion, requests=1)
        return Generation(
            tuple(texts),
            tuple(reasons),
            tuple(logprobs) if request.top_logprobs else None,
            prompt_tokens=len(prompt) * request.n,
            completion_tokens=completion,
        )

    def _complete(self, prompt: str, draw: str, request: GenerationRequest) -> tuple[str, str]:
        if self.args.reply is not None:
            text = self.args.reply
        else:
            count = 1 + int(self._draw("len", prompt, draw) * 12)
            picks = (int(self._draw("w", prompt, draw, str(i)) * len(WORDS)) for i in range(count))
            text = " ".join(WORDS[p] for p in picks)
        cuts = [text.find(s) for s in request.stop if s and s in text]
        if cuts:
            return text[: min(cuts)], "stop"
        if len(text) > request.max_new_tokens:
            return text[: request.max_new_tokens], "length"
        return text, "stop"

    def _token(self, before: str, char: str) -> TokenLogprob:
        logprob, _ = self._char_logprob(before, char)
        return TokenLogprob(char, logprob, {char: logprob})

    def _wait(self) -> None:
        if self.args.latency:
            time.sleep(self.args.latency)
