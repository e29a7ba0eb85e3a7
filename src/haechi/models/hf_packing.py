"""Packing prefix trees into rows: which requests share a row, and which rows a batch.

Sorted requests are cut into runs of at most a budget of tree nodes, each cut where the
neighbours share least (what the next run recomputes). A run whose requests share a long
chain (``Pack.trunk``: a document's few-shot context, an MMLU subject's shots) with the
run before it is scored through that chain's key/value cache (``hf_scoring``), so the
chain runs once for the whole sequence of such runs; the other runs are set side by side in
rows of similar length, and rows are batched so that padding stays small.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise

import torch

from haechi.models.token_floor import common_prefix

# Padding a row to its batch's longest costs as much as real tokens; a batch takes a
# shorter row only while padding stays within this share of its real tokens, so rows of
# unequal length (few-shot contexts vary) cost little beyond the unique-prefix floor.
PADDING_SLACK = 0.05


# A run goes through the cache of its predecessor's trunk when they share at least this
# many tokens and an eighth of the run: below that, recomputing costs less than the
# unbatched forward the cache needs.
CHAIN_MIN_TOKENS = 64


@dataclass
class Pack:
    """One row of a batch: a forest of prefix trees in preorder."""

    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    # request index → node indices whose logits predict its continuation tokens
    readouts: dict[int, list[int]] = field(default_factory=dict)
    # leading nodes on every request's path before any read-out: a chain
    trunk: int = 0
    # scored through the previous chained pack's trunk cache (``chained`` is in run order)
    chained: bool = False


def build_packs(
    inputs: Sequence[list[int]], cont_lengths: Sequence[int], budget: int, share: bool = True
) -> list[Pack]:
    """Pack requests into rows of at most ``budget`` tree nodes (a longer request gets a
    row of its own): the chained packs first, in run order, then the rows the others fill.
    Without ``share`` every request is its own row."""
    if not share:
        return [_pack(inputs, cont_lengths, [i]) for i in range(len(inputs))]
    order = sorted(range(len(inputs)), key=lambda i: inputs[i])
    runs = _runs([inputs[i] for i in order], budget)
    packs = [_pack(inputs, cont_lengths, order[start:end]) for start, end in runs]
    for before, after in pairwise(packs):
        common = common_prefix(before.tokens[: before.trunk], after.tokens[: after.trunk])
        if common >= CHAIN_MIN_TOKENS and 8 * common >= len(after.tokens):
            before.chained = after.chained = True
    return [p for p in packs if p.chained] + _fill([p for p in packs if not p.chained], budget)


def _runs(seqs: Sequence[list[int]], budget: int) -> list[tuple[int, int]]:
    """Cut sorted ``seqs`` into runs of at most ``budget`` tree nodes. Where a run must
    end, it ends at the boundary whose neighbours share the fewest tokens (the latest of
    those): what the next run recomputes is shortest, and a document's choices, which
    share their whole context, stay together. A shorter row costs no padding
    (``batch_end``), a recomputed prefix does."""
    shared = [0] + [common_prefix(seqs[k - 1], seqs[k]) for k in range(1, len(seqs))]
    fresh = list(accumulate((len(s) - c for s, c in zip(seqs, shared, strict=True)), initial=0))

    def nodes(start: int, end: int) -> int:  # tree nodes of seqs[start:end]
        return shared[start] + fresh[end] - fresh[start]

    runs, start = [], 0
    for k in range(1, len(seqs)):
        if nodes(start, k + 1) <= budget:
            continue
        cuts = [c for c in range(start + 1, k) if nodes(c, k + 1) <= budget]
        cut = min([*cuts, k], key=lambda c: (shared[c], -c))
        runs.append((start, cut))
        start = cut
    return [*runs, (start, len(seqs))] if seqs else runs


def _pack(inputs: Sequence[list[int]], cont_lengths: Sequence[int], indices: Sequence[int]) -> Pack:
    """The prefix tree of ``inputs[i]`` for ``indices`` (in sorted order), in preorder."""
    pack = Pack()
    path: list[int] = []  # node index at each depth along the previous sequence
    previous: list[int] = []
    trunk = min(len(inputs[i]) - max(cont_lengths[i], 1) for i in indices)
    for index in indices:
        seq = inputs[index]
        shared = common_prefix(previous, seq)
        if previous:
            trunk = min(trunk, shared)
        del path[shared:]
        for depth in range(shared, len(seq)):
            pack.tokens.append(seq[depth])
            pack.parents.append(path[depth - 1] if depth else -1)
            pack.depths.append(depth)
            path.append(len(pack.tokens) - 1)
        n = cont_lengths[index]
        pack.readouts[index] = path[len(seq) - n : len(seq)]
        previous = seq
    pack.trunk = max(trunk, 0)
    return pack


def _fill(packs: Sequence[Pack], budget: int) -> list[Pack]:
    """Put packs side by side in rows of at most ``budget`` nodes, best fit decreasing, so
    rows come out of similar length (separate trees never attend to each other)."""
    rows: list[Pack] = []
    room: list[tuple[int, int]] = []  # (free nodes, row), ascending
    for pack in sorted(packs, key=lambda p: -len(p.tokens)):
        i = bisect_left(room, (len(pack.tokens), -1))
        if i == len(room):
            rows.append(Pack())
            free, row = budget, len(rows) - 1
        else:
            free, row = room.pop(i)
        _append(rows[row], pack)
        insort(room, (free - len(pack.tokens), row))
    return rows


def _append(row: Pack, pack: Pack) -> None:
    offset = len(row.tokens)
    row.tokens += pack.tokens
    row.parents += [p + offset if p >= 0 else -1 for p in pack.parents]
    row.depths += pack.depths
    row.readouts.update({i: [n + offset for n in nodes] for i, nodes in pack.readouts.items()})


def ancestor_mask(parents: Sequence[int], width: int) -> torch.Tensor:
    """``mask[i, j]``: node ``j`` is ``i`` or an ancestor of ``i`` (nodes in preorder, so
    ``j``'s subtree is the index range ``[j, end[j]]``). Padding attends to itself."""
    n = len(parents)
    end = list(range(n))
    for i in range(n - 1, -1, -1):
        if parents[i] >= 0 and end[i] > end[parents[i]]:
            end[parents[i]] = end[i]
    idx = torch.arange(width)
    ends = torch.tensor(end + list(range(n, width)))
    mask = (idx[None, :] <= idx[:, None]) & (ends[None, :] >= idx[:, None])
    if width > n:
        mask[n:, :] = torch.eye(width, dtype=torch.bool)[n:, :]
    return mask


def batch_end(packs: Sequence[Pack], start: int, size: int) -> int:
    """End of the batch that starts at ``packs[start]`` (packs longest first): at most
    ``size`` rows, and only rows long enough that padding them to the first row's length
    adds at most ``PADDING_SLACK`` of the batch's real tokens."""
    width, real, end = len(packs[start].tokens), 0, start
    while end < len(packs) and end - start < size:
        real += len(packs[end].tokens)
        if end > start and (end - start + 1) * width > (1 + PADDING_SLACK) * real:
            break
        end += 1
    return end
