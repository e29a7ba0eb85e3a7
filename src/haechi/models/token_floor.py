"""The unique-prefix floor: the fewest tokens any engine must forward for a set of inputs.

Each distinct prefix of the inputs (a node of their prefix tree) has to run once, whatever
the engine; every other token can be shared. Backends report it next to what they forwarded.
The same walk over the sorted inputs tells the evaluation engine where its shards may be cut
without splitting a tree (``evaluate/shards.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common prefix of ``a`` and ``b`` (token lists or strings)."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prefix_order(sequences: Sequence[Any]) -> list[tuple[int, int]]:
    """``(index, shared)`` for each sequence (all strings, or all token tuples) in lexicographic order, ``shared`` being its
    longest common prefix with its predecessor there (0 for the first): a preorder walk of
    the prefix tree, where ``shared`` is how deep each sequence branches off."""
    order = sorted(range(len(sequences)), key=lambda i: sequences[i])
    walk: list[tuple[int, int]] = []
    previous: Sequence[Any] = ()
    for index in order:
        walk.append((index, common_prefix(previous, sequences[index])))
        previous = sequences[index]
    return walk


def unique_prefix_tokens(sequences: Iterable[Sequence[int]]) -> int:
    """Nodes of the prefix tree of ``sequences``: sorted, each adds what it does not share
    with its predecessor (its longest common prefix with any earlier one)."""
    seqs = [tuple(s) for s in sequences]
    return sum(len(seqs[i]) - shared for i, shared in prefix_order(seqs))
