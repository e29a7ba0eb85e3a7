"""Requests laid out for data-parallel replicas: whole prefix trees per shard.

A backend shares prefixes only among the requests of one call, so requests that share a
prefix (a document's choices, a subject's few-shot block) must land in the same shard and
the same chunk. Requests are sorted by their text into a preorder walk of their prefix tree
(``models/token_floor.prefix_order``); shards are contiguous ranges of that walk holding
about equal work (unique-prefix characters), each cut moved, within a small window, to
where the walk branches off nearest the root; each shard is cut into chunks of at most
``chunk`` requests the same way. The layout depends only on the requests and the two
sizes, so a resumed run recomputes exactly the chunks that had not finished.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise

from haechi.models.base import GenerationRequest, LoglikelihoodRequest
from haechi.models.token_floor import prefix_order


@dataclass(frozen=True)
class Chunk:
    """Request indices one replica runs in one call (and the cache commits together)."""

    replica: int
    indices: tuple[int, ...]


def prefix_text(request: LoglikelihoodRequest | GenerationRequest) -> str:
    """What the model reads first to last, as one string to sort and compare."""
    if isinstance(request, LoglikelihoodRequest):
        return request.context + request.continuation
    if request.prompt is not None:
        return request.prompt
    # a chat is read message by message; separators no text contains keep roles apart
    return "".join(f"\x00{m.role}\x01{m.content}" for m in request.messages or ())


def shard_chunks(texts: Sequence[str], replicas: int, chunk: int) -> list[Chunk]:
    """Chunks of ``texts``' indices, replica by replica, each replica's in walk order."""
    walk = prefix_order(texts)
    order = [index for index, _ in walk]
    # ``shared[p]``: what a cut before position p would make the next call recompute
    shared = [depth for _, depth in walk]
    work = [len(texts[i]) - depth + 1 for i, depth in walk]  # +1: no request is free
    bounds = _shard_bounds(shared, work, replicas)
    chunks = []
    for replica, (start, stop) in enumerate(pairwise(bounds)):
        for a, b in _chunk_bounds(shared, start, stop, chunk):
            chunks.append(Chunk(replica, tuple(order[a:b])))
    return chunks


def _shard_bounds(shared: Sequence[int], work: Sequence[int], parts: int) -> list[int]:
    """Cuts where the work before reaches each ``k/parts`` of the total, each moved to
    minimise what it costs in characters: the prefix the next shard recomputes plus how
    far the shard misses its share."""
    n = len(work)
    before = list(accumulate(work, initial=0))  # work of positions [0, p)
    window = max(1, n // (4 * parts))
    bounds = [0]
    for k in range(1, parts):
        target = before[-1] * k / parts
        ideal = bisect_left(before, target)
        lo, hi = max(bounds[-1] + 1, ideal - window), min(n - 1, ideal + window)
        if lo > hi:  # fewer requests than replicas: this shard stays empty
            bounds.append(bounds[-1])
            continue
        bounds.append(min(range(lo, hi + 1), key=lambda p: shared[p] + abs(before[p] - target)))
    bounds.append(n)
    return bounds


def _chunk_bounds(
    shared: Sequence[int], start: int, stop: int, chunk: int
) -> list[tuple[int, int]]:
    """Cuts of ``[start, stop)`` into pieces of ``3/4 chunk`` to ``chunk`` requests."""
    pieces = []
    while stop - start > chunk:
        end = start + chunk
        # the cut splitting the shallowest branch, the latest of equals (fewer calls)
        cut = min(range(max(start + 1, end - chunk // 4), end + 1), key=lambda p: (shared[p], -p))
        pieces.append((start, cut))
        start = cut
    if stop > start:
        pieces.append((start, stop))
    return pieces
