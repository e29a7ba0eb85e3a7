"""Batched log-likelihood scoring of tokenized (context, continuation) pairs with a causal LM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from haechi.models.base import LoglikelihoodResult


@dataclass(frozen=True)
class TokenPair:
    context: list[int]
    continuation: list[int]


def model_input(pair: TokenPair, max_length: int) -> list[int]:
    """The tokens fed to the model: everything but the last token, left-truncated so the
    input fits ``max_length`` (the harness's rule, so long documents score the same)."""
    return (pair.context + pair.continuation)[-(max_length + 1) :][:-1]


@torch.inference_mode()
def score_pairs(
    model: Any,
    pairs: Sequence[TokenPair],
    *,
    max_length: int,
    batch_size: int,
    device: torch.device,
    desc: str = "scoring",
) -> tuple[list[LoglikelihoodResult], int]:
    """Score every pair; returns the results in input order and the tokens forwarded.

    Longest inputs go first so the first batch shows an out-of-memory at once and padding
    stays small. Log-probabilities are natural logs, summed over continuation tokens.
    """
    results: list[LoglikelihoodResult | None] = [None] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda i: -len(model_input(pairs[i], max_length)))
    forwarded = 0
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc=desc, unit="batch", disable=None, leave=False):
        inputs = [model_input(pairs[i], max_length) for i in batch]
        width = max(len(x) for x in inputs)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, tokens in enumerate(inputs):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        forwarded += sum(len(x) for x in inputs)
        for row, index in enumerate(batch):
            cont = pairs[index].continuation
            end = len(inputs[row])
            logprobs = torch.log_softmax(logits[row, end - len(cont) : end].float(), dim=-1)
            target = torch.tensor(cont, device=logprobs.device)
            picked = logprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            greedy = bool((logprobs.argmax(dim=-1) == target).all())
            results[index] = LoglikelihoodResult(float(picked.sum()), greedy, len(cont))
    return [r for r in results if r is not None], forwarded
