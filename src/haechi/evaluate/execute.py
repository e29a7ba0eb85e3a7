"""Sending requests to the model in fixed chunks, through the response cache, with progress.

Chunks are fixed slices of the request list and each is cached whole, so a resumed run
recomputes exactly the chunks an interrupted one had not finished, with the same batches:
the numbers are the ones an uninterrupted run gives. A data-parallel model
(``evaluate/replicas.py``) gets the requests sharded by prefix tree instead
(``evaluate/shards.py``): its replicas run their chunks side by side, each chunk is cached
as it comes back, and one bar counts them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from haechi.evaluate.cache import (
    ResponseCache,
    decode_generation,
    decode_loglikelihood,
    encode_generation,
    encode_loglikelihood,
    generation_key,
    loglikelihood_key,
)
from haechi.evaluate.replicas import Method, ReplicatedModel
from haechi.evaluate.shards import prefix_text, shard_chunks
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
        model, "loglikelihood", requests, chunk, cache, progress, "scoring",
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
        model, "generate", requests, chunk, cache, progress, "generating",
        generation_key, encode_generation, decode_generation,
    )  # fmt: skip


def _run_cached(
    model: LanguageModel,
    method: Method,
    requests: Sequence[Req],
    chunk: int,
    cache: ResponseCache | None,
    progress: bool,
    label: str,
    key: Callable[[Req], str],
    encode: Callable[[Res], str],
    decode: Callable[[str], Res],
) -> tuple[list[Res], int]:
    keys = [key(r) for r in requests] if cache else []
    stored = cache.get_many(model.fingerprint, keys) if cache else [None] * len(requests)
    results: list[Res | None] = [None if v is None else decode(v) for v in stored]
    hits = sum(1 for r in results if r is not None)
    layout = _layout(model, requests, chunk)
    todo = [c for c in layout if any(results[i] is None for i in c[1])]
    # no bar for no work (a log-likelihood-only run has no generations)
    with progress_bar(
        label, len(requests), show=progress and bool(requests), unit="requests", transient=True
    ) as advance:
        advance(len(requests) - sum(len(indices) for _, indices in todo))
        for position, done in _compute(model, method, requests, todo):
            computed: list[Res] = done
            indices = todo[position][1]
            for index, result in zip(indices, computed, strict=True):
                results[index] = result
            if cache is not None:
                cache.put_many(
                    model.fingerprint,
                    zip([keys[i] for i in indices], map(encode, computed), strict=True),
                )
            advance(len(indices))
    return [r for r in results if r is not None], hits


def _layout(
    model: LanguageModel, requests: Sequence[Req], chunk: int
) -> list[tuple[int, tuple[int, ...]]]:
    """``(replica, request indices)`` of every chunk: fixed slices for one model, whole
    prefix trees per replica for replicas."""
    if isinstance(model, ReplicatedModel):
        texts = [prefix_text(r) for r in requests]  # type: ignore[arg-type]
        return [(c.replica, c.indices) for c in shard_chunks(texts, model.replicas, chunk)]
    return [
        (0, tuple(range(start, min(start + chunk, len(requests)))))
        for start in range(0, len(requests), chunk)
    ]


def _compute(
    model: LanguageModel,
    method: Method,
    requests: Sequence[Req],
    chunks: Sequence[tuple[int, tuple[int, ...]]],
) -> Iterator[tuple[int, list[Any]]]:
    """``(position in chunks, results)``, as each chunk finishes."""
    work = [(replica, [requests[i] for i in indices]) for replica, indices in chunks]
    if isinstance(model, ReplicatedModel):
        yield from model.map_chunks(method, work)
        return
    compute = getattr(model, method)
    for position, (_, batch) in enumerate(work):
        yield position, compute(batch)
