"""Log-likelihood scoring with shared prefixes: every distinct prefix runs once.

Requests are the token sequences the model must see (context + continuation, minus the last
token). Sorted lexicographically, neighbours share their longest common prefixes, so the
requests form a prefix tree (trie). Trees are packed, up to a token budget, into one row
each; a 4-D attention mask lets every token attend only to its ancestors and position ids
restart along each branch, so each token sees exactly what it would see in its own
unshared sequence. The shared context of a document's choices — and the few-shot prefix
that documents of one MMLU subject share — thus runs once, and a one-token continuation
costs nothing beyond its context.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from haechi.models.base import LoglikelihoodResult
from haechi.models.token_floor import common_prefix


@dataclass(frozen=True)
class TokenPair:
    context: list[int]
    continuation: list[int]


def model_input(pair: TokenPair, max_length: int) -> list[int]:
    """The tokens fed to the model: everything but the last token, left-truncated so the
    input fits ``max_length`` (the harness's rule, so long documents score the same)."""
    return (pair.context + pair.continuation)[-(max_length + 1) :][:-1]


@dataclass
class Pack:
    """One row of a batch: a forest of prefix trees in preorder."""

    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    # request index → node indices whose logits predict its continuation tokens
    readouts: dict[int, list[int]] = field(default_factory=dict)


def build_packs(
    inputs: Sequence[list[int]], cont_lengths: Sequence[int], budget: int, share: bool = True
) -> list[Pack]:
    """Pack requests into rows of at most ``budget`` tree nodes (a longer request gets a
    row of its own). Without ``share`` every request is its own row."""
    order = sorted(range(len(inputs)), key=lambda i: inputs[i]) if share else range(len(inputs))
    packs: list[Pack] = []
    pack = Pack()
    path: list[int] = []  # node index at each depth along the previous sequence
    previous: list[int] = []
    for index in order:
        seq = inputs[index]
        shared = common_prefix(previous, seq) if share and pack.tokens else 0
        if pack.tokens and (not share or len(pack.tokens) + len(seq) - shared > budget):
            packs.append(pack)
            pack, path, shared = Pack(), [], 0
        del path[shared:]
        for depth in range(shared, len(seq)):
            pack.tokens.append(seq[depth])
            pack.parents.append(path[depth - 1] if depth else -1)
            pack.depths.append(depth)
            path.append(len(pack.tokens) - 1)
        n = cont_lengths[index]
        pack.readouts[index] = path[len(seq) - n : len(seq)]
        previous = seq
    if pack.tokens:
        packs.append(pack)
    return packs


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


@torch.inference_mode()
def score_pairs(
    model: Any,
    pairs: Sequence[TokenPair],
    *,
    max_length: int,
    batch_size: int,
    device: torch.device,
    share_prefixes: bool = True,
    pack_tokens: int = 2048,
    auto_batch: bool = False,
    desc: str = "scoring",
) -> tuple[list[LoglikelihoodResult], int]:
    """Score every pair; returns results in input order and the tokens forwarded.

    ``batch_size`` counts rows (packs of up to ``pack_tokens`` tree nodes); with
    ``auto_batch`` it is a starting point halved on out-of-memory. Log-probabilities are natural logs summed over continuation tokens; ``is_greedy`` says
    whether every continuation token is the argmax at its position.
    """
    inputs = [model_input(p, max_length) for p in pairs]
    conts = [p.continuation for p in pairs]
    # A row must hold a whole document (its long few-shot context and every choice), or
    # the choices would land in separate rows and share nothing.
    longest = max((len(i) for i in inputs), default=0)
    budget = max(pack_tokens, longest + longest // 4 + 64)
    packs = build_packs(inputs, [len(c) for c in conts], budget, share_prefixes)
    packs.sort(key=lambda p: -len(p.tokens))  # largest first: an out-of-memory shows at once
    results: list[LoglikelihoodResult | None] = [None] * len(pairs)
    size, start = batch_size, 0
    with tqdm(total=len(packs), desc=desc, unit="row", disable=None, leave=False) as bar:
        while start < len(packs):
            batch = packs[start : start + size]
            try:
                _score_batch(model, batch, conts, results, device)
            except torch.OutOfMemoryError:
                if size == 1 or not auto_batch:
                    raise
                # back off and redo only this batch: nothing scored so far is lost
                size = max(1, size // 2)
                torch.cuda.empty_cache()
                continue
            start += len(batch)
            bar.update(len(batch))
    return [r for r in results if r is not None], sum(len(p.tokens) for p in packs)


def _accepts_logits_to_keep(model: Any) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def _score_batch(
    model: Any,
    batch: Sequence[Pack],
    conts: Sequence[list[int]],
    results: list[LoglikelihoodResult | None],
    device: torch.device,
) -> None:
    width = max(len(p.tokens) for p in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    positions = torch.zeros((len(batch), width), dtype=torch.long)
    masks = []
    for row, pack in enumerate(batch):
        ids[row, : len(pack.tokens)] = torch.tensor(pack.tokens)
        positions[row, : len(pack.tokens)] = torch.tensor(pack.depths)
        masks.append(ancestor_mask(pack.parents, width))
    needed = sorted({n for pack in batch for nodes in pack.readouts.values() for n in nodes})
    kwargs: dict[str, Any] = {}
    if _accepts_logits_to_keep(model):
        # only the read-out positions go through the (vocabulary-sized) output layer
        kwargs["logits_to_keep"] = torch.tensor(needed, dtype=torch.long, device=device)
    else:
        needed = list(range(width))
    logits = model(
        input_ids=ids.to(device),
        attention_mask=torch.stack(masks)[:, None].to(device),
        position_ids=positions.to(device),
        **kwargs,
    ).logits
    column = {node: i for i, node in enumerate(needed)}
    for row, pack in enumerate(batch):
        for index, nodes in pack.readouts.items():
            cols = torch.tensor([column[n] for n in nodes], device=logits.device)
            logprobs = torch.log_softmax(logits[row, cols].float(), dim=-1)
            target = torch.tensor(conts[index], device=logprobs.device)
            picked = logprobs.gather(-1, target[:, None])[:, 0]
            greedy = bool((logprobs.argmax(dim=-1) == target).all())
            results[index] = LoglikelihoodResult(float(picked.sum()), greedy, len(target))
