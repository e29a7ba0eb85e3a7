"""Log-likelihood scoring with shared prefixes: every distinct prefix runs once.

Requests are the token sequences the model must see (context + continuation, minus the last
token). Sorted lexicographically, neighbours share their longest common prefixes, so the
requests form a prefix tree (trie). Trees are packed, up to a token budget, into rows
(``hf_packing``: which requests share a row, which rows a batch); a 4-D attention mask lets every token attend only to its ancestors and position ids
restart along each branch, so each token sees exactly what it would see in its own
unshared sequence. The shared context of a document's choices — and the few-shot prefix
that documents of one MMLU subject share — thus runs once, and a one-token continuation
costs nothing beyond its context.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import DynamicCache

from haechi.models.base import LoglikelihoodResult
from haechi.models.hf_packing import Pack, ancestor_mask, batch_end, build_packs
from haechi.models.token_floor import common_prefix


@dataclass(frozen=True)
class TokenPair:
    context: list[int]
    continuation: list[int]


def model_input(pair: TokenPair, max_length: int) -> list[int]:
    """The tokens fed to the model: everything but the last token, left-truncated so the
    input fits ``max_length`` (the harness's rule, so long documents score the same)."""
    return (pair.context + pair.continuation)[-(max_length + 1) :][:-1]


@dataclass(frozen=True)
class Scored:
    """``score_pairs``'s answer: ``forwarded`` real tokens, ``padding`` positions on top."""

    results: list[LoglikelihoodResult]
    forwarded: int
    padding: int


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
) -> Scored:
    """Score every pair: results in input order, the tokens forwarded and the padding.

    ``batch_size`` counts rows (packs of up to ``pack_tokens`` tree nodes), at most: a
    batch ends early rather than pad a short row far (``batch_end``); with
    ``auto_batch`` it is a starting point halved on out-of-memory. Chained packs
    (``hf_packing``) go one at a time through their trunk's key/value cache.
    Log-probabilities are natural logs summed over continuation tokens; ``is_greedy``
    says whether every continuation token is the argmax at its position.
    """
    inputs = [model_input(p, max_length) for p in pairs]
    conts = [p.continuation for p in pairs]
    # A row must hold a whole document (its long few-shot context and every choice), or
    # the choices would land in separate rows and share nothing.
    longest = max((len(i) for i in inputs), default=0)
    budget = max(pack_tokens, longest + longest // 4 + 64)
    packs = build_packs(inputs, [len(c) for c in conts], budget, share_prefixes)
    chain = [p for p in packs if p.chained]
    # largest first: an out-of-memory shows at once
    rows = sorted((p for p in packs if not p.chained), key=lambda p: -len(p.tokens))
    results: list[LoglikelihoodResult | None] = [None] * len(pairs)
    size, start, padding = batch_size, 0, 0
    with tqdm(total=len(packs), desc=desc, unit="row", disable=None, leave=False) as bar:
        forwarded = _score_chain(model, chain, conts, results, device, bar.update)
        while start < len(rows):
            batch = rows[start : batch_end(rows, start, size)]
            try:
                _score_batch(model, batch, conts, results, device)
            except torch.OutOfMemoryError:
                if len(batch) == 1 or not auto_batch:
                    raise
                # back off and redo only this batch: nothing scored so far is lost
                size = max(1, len(batch) // 2)
                torch.cuda.empty_cache()
                continue
            real = sum(len(p.tokens) for p in batch)
            forwarded += real
            padding += len(batch) * len(batch[0].tokens) - real
            start += len(batch)
            bar.update(len(batch))
    return Scored([r for r in results if r is not None], forwarded, padding)


def _score_chain(
    model: Any,
    chain: Sequence[Pack],
    conts: Sequence[list[int]],
    results: list[LoglikelihoodResult | None],
    device: torch.device,
    advance: Callable[[int], object],
) -> int:
    """Score chained packs in order, each on top of its trunk's cache: the part of the
    trunk the previous pack's trunk shares is kept, the rest computed. Returns the
    tokens forwarded."""
    cache, forwarded = DynamicCache(), 0
    cached: list[int] = []
    for pack in chain:
        trunk = pack.tokens[: pack.trunk]
        keep = common_prefix(cached, trunk)
        if cache.get_seq_length() > keep:
            cache.crop(keep - cache.get_seq_length())
        if keep < len(trunk):
            kwargs = {"logits_to_keep": 1} if _accepts_logits_to_keep(model) else {}
            model(
                input_ids=torch.tensor([trunk[keep:]], device=device),
                position_ids=torch.arange(keep, len(trunk), device=device)[None],
                **_cache_kwargs(model, cache),
                **kwargs,
            )
        cached = trunk
        _score_batch(model, [pack], conts, results, device, cache)
        cache.crop(len(trunk) - cache.get_seq_length())  # the trunk alone again
        forwarded += len(pack.tokens) - keep
        advance(1)
    return forwarded


def _accepts_logits_to_keep(model: Any) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def _cache_kwargs(model: Any, cache: DynamicCache) -> dict[str, Any]:
    # transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name warns)
    name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    return {name: cache, "use_cache": True}


def _score_batch(
    model: Any,
    batch: Sequence[Pack],
    conts: Sequence[list[int]],
    results: list[LoglikelihoodResult | None],
    device: torch.device,
    cache: DynamicCache | None = None,
) -> None:
    """Forward a batch of packs; with ``cache`` (one pack), the nodes after its trunk on
    top of the trunk's cached keys and values, which every node attends to."""
    skip = batch[0].trunk if cache is not None else 0
    width = max(len(p.tokens) for p in batch) - skip
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    positions = torch.zeros((len(batch), width), dtype=torch.long)
    masks = []
    for row, pack in enumerate(batch):
        ids[row, : len(pack.tokens) - skip] = torch.tensor(pack.tokens[skip:])
        positions[row, : len(pack.tokens) - skip] = torch.tensor(pack.depths[skip:])
        parents = [p - skip if p >= skip else -1 for p in pack.parents[skip:]]
        masks.append(ancestor_mask(parents, width))
    mask = torch.stack(masks)[:, None]
    if skip:
        mask = torch.cat([torch.ones((len(batch), 1, width, skip), dtype=torch.bool), mask], -1)
    needed = sorted({n - skip for pack in batch for nodes in pack.readouts.values() for n in nodes})
    kwargs: dict[str, Any] = _cache_kwargs(model, cache) if cache is not None else {}
    if _accepts_logits_to_keep(model):
        # only the read-out positions go through the (vocabulary-sized) output layer
        kwargs["logits_to_keep"] = torch.tensor(needed, dtype=torch.long, device=device)
    else:
        needed = list(range(width))
    logits = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        **kwargs,
    ).logits
    column = {node + skip: i for i, node in enumerate(needed)}
    for row, pack in enumerate(batch):
        for index, nodes in pack.readouts.items():
            cols = torch.tensor([column[n] for n in nodes], device=logits.device)
            logprobs = torch.log_softmax(logits[row, cols].float(), dim=-1)
            target = torch.tensor(conts[index], device=logprobs.device)
            picked = logprobs.gather(-1, target[:, None])[:, 0]
            greedy = bool((logprobs.argmax(dim=-1) == target).all())
            results[index] = LoglikelihoodResult(float(picked.sum()), greedy, len(target))
