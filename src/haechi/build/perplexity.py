"""Held-out perplexity of a causal LM on documents, for continued pre-training's before/after.

Each document is tokenized on its own (BOS as the tokenizer adds it) and cut into windows of
at most ``max_length`` tokens; every token but a window's first is predicted from what comes
before it in that window. Perplexity is exp(mean negative log-likelihood per predicted token).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, computed_field


class Perplexity(BaseModel):
    """``nll`` nats per predicted token over ``tokens`` predicted tokens."""

    nll: float
    tokens: int
    documents: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def value(self) -> float:
        return math.exp(self.nll)


def perplexity(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int) -> Perplexity:
    """Perplexity of ``model`` (transformers causal LM) on ``texts``; the model's mode is kept."""
    import torch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            for text in texts:
                ids = tokenizer(text, add_special_tokens=True)["input_ids"]
                for start in range(0, len(ids), max_length):
                    window = ids[start : start + max_length]
                    if len(window) < 2:
                        continue
                    batch = torch.tensor([window], device=device)
                    logits = model(input_ids=batch).logits.float()
                    logprobs = torch.log_softmax(logits[0, :-1], dim=-1)
                    picked = logprobs.gather(1, batch[0, 1:, None])
                    total -= float(picked.sum())
                    count += len(window) - 1
    finally:
        model.train(was_training)
    return Perplexity(
        nll=total / count if count else float("nan"), tokens=count, documents=len(texts)
    )
