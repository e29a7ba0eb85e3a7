"""The unique-prefix floor: the fewest tokens any engine must forward for a set of inputs.

Each distinct prefix of the inputs (a node of their prefix tree) has to run once, whatever
the engine; every other token can be shared. Backends report it next to what they forwarded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def unique_prefix_tokens(sequences: Iterable[Sequence[int]]) -> int:
    """Nodes of the prefix tree of ``sequences``: sorted, each adds what it does not share
    with its predecessor (its longest common prefix with any earlier one)."""
    total = 0
    previous: Sequence[int] = ()
    for seq in sorted(tuple(s) for s in sequences):
        total += len(seq) - common_prefix(previous, seq)
        previous = seq
    return total
