"""Sending requests to the model in fixed chunks, through the response cache, with progress.

Chunks are fixed slices of the request list and each is cached whole, so a resumed run
recomputes exactly the chunks an interrupted one had not finished, with the same batches:
the numbers are the ones an uninterrupted run gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from haechi.evaluate.cache import (
    ResponseCache,
    decode_generation,
    decode_loglikelihood,
    encode_generation,
    encode_loglikelihood,
    generation_key,
    loglikelihood_key,
)
from haechi.models.base import (
    Generation,
    GenerationRequest,
    LanguageModel,
    LoglikelihoodRequest,
    LoglikelihoodResult,
)
from haechi.progress import progress_bar

Req = TypeVar("Req")
Res = TypeVar("Res")


def run_loglikelihood(
    model: LanguageModel,
    requests: Sequence[LoglikelihoodRequest],
    *,
    chunk: int,
    cache: ResponseCache | None,
    progress: bool,
) -> tuple[list[LoglikelihoodResult], int]:
    """Results in request order, and how many came from the cache."""
    return _run_cached(
        model.fingerprint, requests, model.loglikelihood, chunk, cache, progress, "scoring",
        loglikelihood_key, encode_loglikelihood, decode_loglikelihood,
    )  # fmt: skip


def run_generation(
    model: LanguageModel,
    requests: Sequence[GenerationRequest],
    *,
    chunk: int,
    cache: ResponseCache | None,
    progress: bool,
) -> tuple[list[Generation], int]:
    """Generations in request order, and how many came from the cache."""
    return _run_cached(
        model.fingerprint, requests, model.generate, chunk, cache, progress, "generating",
        generation_key, encode_generation, decode_generation,
    )  # fmt: skip


def _run_cached(
    fingerprint: str,
    requests: Sequence[Req],
    compute: Callable[[Sequence[Req]], list[Res]],
    chunk: int,
    cache: ResponseCache | None,
    progress: bool,
    label: str,
    key: Callable[[Req], str],
    encode: Callable[[Res], str],
    decode: Callable[[str], Res],
) -> tuple[list[Res], int]:
    keys = [key(r) for r in requests] if cache else []
    stored = cache.get_many(fingerprint, keys) if cache else [None] * len(requests)
    results: list[Res | None] = [None if v is None else decode(v) for v in stored]
    hits = sum(1 for r in results if r is not None)
    # no bar for no work (a log-likelihood-only run has no generations)
    with progress_bar(
        label, len(requests), show=progress and bool(requests), unit="requests", transient=True
    ) as advance:
        for start in range(0, len(requests), chunk):
            stop = min(start + chunk, len(requests))
            if any(r is None for r in results[start:stop]):
                computed = compute(requests[start:stop])
                results[start:stop] = computed
                if cache is not None:
                    cache.put_many(
                        fingerprint, zip(keys[start:stop], map(encode, computed), strict=True)
                    )
            advance(stop - start)
    return [r for r in results if r is not None], hits
