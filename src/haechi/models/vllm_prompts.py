"""Prompt log-probabilities from vLLM with its automatic prefix caching.

vLLM (V1, checked on 0.32.0) by default skips reading the prefix cache for a request that
asks for ``prompt_logprobs``: every token is recomputed. Reading it anyway
(``skip_reading_prefix_cache=False``) is sound for every position after the cached ones,
while the entries of a cached position hold garbage. A cache hit is whole blocks of a
prefix another request already ran; it covers a continuation token only when the shared
prefix runs past the context (continuations that start alike, or a context ending on a
block boundary). So: sort the prompts, so that requests sharing a context run one after
another and hit the cache, send them in one call, check each answer's ``num_cached_tokens``
against where its continuation starts, and send the few whose hit reached into the
continuation again without the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class ScoredPrompts:
    """Per prompt, ``(logprob, rank)`` of each continuation token; what vLLM computed
    (prompt tokens minus its prefix-cache hits, retries included) and took from cache."""

    continuations: list[list[tuple[float, int]]]
    computed_tokens: int
    cached_tokens: int
    retried: int


def score_prompts(
    engine: Any, prompts: Sequence[list[int]], cont_lengths: Sequence[int], *, use_cache: bool
) -> ScoredPrompts:
    """Score the last ``cont_lengths[i]`` tokens of each prompt (``0 < n < len(prompt)``)."""
    order = sorted(range(len(prompts)), key=lambda i: prompts[i])
    found: list[list[tuple[float, int]] | None] = [None] * len(prompts)
    computed = cached = 0
    outputs = _run(engine, [prompts[i] for i in order], read_cache=use_cache)
    retry = []
    for index, out in zip(order, outputs, strict=True):
        hit = int(out.num_cached_tokens or 0)
        computed += len(prompts[index]) - hit
        cached += hit
        first = len(prompts[index]) - cont_lengths[index]
        # the logprob of token p comes from the logits at p - 1: it was computed iff p > hit
        if first > hit:
            found[index] = _continuation(out, prompts[index], first)
        else:
            retry.append(index)
    if retry:
        for index, out in zip(retry, _run(engine, [prompts[i] for i in retry]), strict=True):
            computed += len(prompts[index])
            found[index] = _continuation(
                out, prompts[index], len(prompts[index]) - cont_lengths[index]
            )
    return ScoredPrompts([f for f in found if f is not None], computed, cached, len(retry))


def _run(engine: Any, prompts: Sequence[list[int]], *, read_cache: bool = False) -> list[Any]:
    from vllm import SamplingParams

    params = SamplingParams(
        max_tokens=1,
        temperature=0.0,
        prompt_logprobs=0,  # the prompt token's own log-probability and rank only
        detokenize=False,  # token ids are all we read (and cached positions hold no ids)
        skip_reading_prefix_cache=not read_cache,
    )
    return list(engine.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False))


def _continuation(out: Any, prompt: list[int], first: int) -> list[tuple[float, int]]:
    entries = []
    for position in range(first, len(prompt)):
        entry = out.prompt_logprobs[position][prompt[position]]
        entries.append((float(entry.logprob), int(entry.rank)))
    return entries
