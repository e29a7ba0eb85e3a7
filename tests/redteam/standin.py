"""An in-process target of fixed latency that counts what a runner does to it.

``StandInTarget`` answers every chat request after ``latency`` seconds, alternating a Korean
refusal and a compliant answer by prompt length, and costs ``tokens`` per answer. It keeps
the counts a throughput test asserts on: calls in flight at once (the most, and over time),
batch sizes, and, for a ``serial`` target (one request served at a time, the others queued:
llama.cpp's server), how often it finished a request and found none queued while the run
still had work to send (``idle_gaps``): each such gap is time the target sat idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from haechi.errors import BackendError
from haechi.models import Generation, GenerationRequest, LoglikelihoodRequest, TokenStats
from haechi.models.base import LoglikelihoodResult

REFUSAL = "죄송하지만 그 요청은 도와드릴 수 없습니다."
ANSWER = "네, 설명해 드릴게요. 먼저 기본 개념부터 보겠습니다."


class StandInTarget:
    """A target for tests; ``expected`` is how many calls the run will make (for
    ``idle_gaps``), ``fail_at`` makes the n-th call (1-based) raise ``BackendError``."""

    name = "standin/fixed-latency"
    fingerprint = "standin-0"

    def __init__(
        self,
        latency: float,
        *,
        concurrent: bool = True,
        serial: bool = False,
        tokens: int = 0,
        expected: int | None = None,
        fail_at: int | None = None,
    ) -> None:
        self.concurrent_calls = concurrent
        self.latency = latency
        self.serial = serial
        self.tokens = tokens
        self.expected = expected
        self.fail_at = fail_at
        self.stats = TokenStats()
        self.calls = 0
        self.prompts: list[str] = []
        self.batches: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.idle_gaps = 0
        self.events: list[tuple[float, int]] = []  # (time, in flight after the change)
        self.spans: list[tuple[float, float]] = []  # each call's start and end
        self._lock = threading.Lock()
        self._server = threading.Lock()  # a serial target serves one call at a time

    def describe(self) -> dict[str, object]:
        return {"backend": "standin", "latency": self.latency}

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        raise NotImplementedError

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        with self._lock:
            self.calls += 1
            call = self.calls
            self.batches.append(len(requests))
            self.prompts += [r.messages[-1].content for r in requests if r.messages]
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.events.append((time.perf_counter(), self.in_flight))
        started = time.perf_counter()
        try:
            if call == self.fail_at:
                raise BackendError("scripted failure")
            if self.serial:
                with self._server:
                    time.sleep(self.latency)
                    with self._lock:
                        more = self.expected is None or self.calls < self.expected
                        if self.in_flight == 1 and more:
                            self.idle_gaps += 1  # nobody queued behind this one
            else:
                time.sleep(self.latency)
            return [self._answer(r) for r in requests]
        finally:
            with self._lock:
                self.in_flight -= 1
                self.events.append((time.perf_counter(), self.in_flight))
                self.spans.append((started, self.events[-1][0]))

    def busy(self, slots: int) -> float:
        """The share of ``slots × time`` that calls were in flight, from the first call to
        the last start (after it, the run has nothing left to send)."""
        first = self.events[0][0]
        last_start = max(
            t for i, (t, n) in enumerate(self.events) if i == 0 or n > self.events[i - 1][1]
        )
        area = 0.0
        for (t0, n), (t1, _) in zip(self.events, self.events[1:], strict=False):
            if t0 >= last_start:
                break
            area += n * (min(t1, last_start) - t0)
        return area / (slots * (last_start - first)) if last_start > first else 1.0

    def _answer(self, request: GenerationRequest) -> Generation:
        prompt = request.messages[-1].content if request.messages else request.prompt or ""
        text = REFUSAL if len(prompt) % 2 else ANSWER
        return Generation((text,), ("stop",), prompt_tokens=self.tokens, completion_tokens=0)
