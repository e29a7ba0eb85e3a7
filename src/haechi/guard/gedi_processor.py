"""GeDi-guided decoding as a ``transformers`` ``LogitsProcessor``.

At every step the GeDi gives, for every candidate next token ``x``, the class posterior
``P(desired | prompt, generated, x)`` by Bayes' rule over its two control codes (see
``gedi_model``), and the target's next-token log-probabilities become::

    log p_LM(x | …) + ω · log P(desired | …, x)

then the reference code's filter removes low-posterior tokens (``guided_scores``).

The two control-code passes run as one batch of 2·B rows. The first call reads
``[code] + prompt`` for each row (the prompt's tokens count towards the posterior, as in
the reference code); later calls feed only the token just chosen, with the GeDi's KV
cache kept from the previous step, so each generated token costs one small-model step.
Prompts arrive left-padded: leading ``pad_token_id`` tokens are dropped from the GeDi's
view of each row (a prompt that itself starts with the pad token would lose it).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LogitsProcessor

from haechi.guard.gedi_model import GediModel
from haechi.guard.spec import GediGuidance


def guided_scores(
    scores: torch.Tensor, log_desired: torch.Tensor, guidance: GediGuidance
) -> torch.Tensor:
    """The guided next-token scores (log domain, unnormalised; float32).

    ``scores``: the target's logits ``[B, V]``; ``log_desired``: log P(desired | …, x)
    for the first ``n ≤ V`` token ids ``[B, n]`` (ids ≥ n, not in the shared vocabulary,
    are removed). Filtering, as in the reference code: in order of rising posterior,
    tokens whose cumulative guided probability is below ``filter_p`` are removed unless
    their posterior reaches ``target_p``; the most desired token always stays.
    """
    n = log_desired.shape[-1]
    weighted = torch.log_softmax(scores.float(), dim=-1)[:, :n] + guidance.disc_weight * log_desired
    order = torch.sort(log_desired, dim=-1, stable=True).indices
    cumulative = torch.softmax(weighted, dim=-1).gather(-1, order).cumsum(dim=-1)
    drop_sorted = (cumulative < guidance.filter_p) & (
        log_desired.gather(-1, order) < guidance.log_target_p
    )
    drop_sorted[:, -1] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    guided = torch.full(scores.shape, -torch.inf, dtype=torch.float32, device=scores.device)
    guided[:, :n] = weighted.masked_fill(drop, -torch.inf)
    return guided


class GediLogitsProcessor(LogitsProcessor):
    """Guides any causal LM that shares the GeDi's vocabulary (ids ``< vocab_size``).

    One instance serves many ``generate`` calls: a call whose ``input_ids`` are not the
    previous ones plus one token starts afresh. ``pad_token_id`` is the id the caller
    left-pads prompts with.
    """

    def __init__(
        self, gedi: GediModel, guidance: GediGuidance, *, pad_token_id: int, vocab_size: int
    ) -> None:
        self.gedi = gedi
        self.guidance = guidance
        self.pad_token_id = pad_token_id
        self.vocab_size = vocab_size
        self._cache_arg = gedi.cache_argument
        self.reset()

    def reset(self) -> None:
        """Forget the current generation (and free the GeDi's KV cache)."""
        self._seen: torch.Tensor | None = None
        self._cache: Any = None
        self._mask = torch.empty(0)
        self._positions = torch.empty(0)
        self._sums = torch.empty(0)  # [2, B] Σ log p(token | code, …) so far, nats
        self._counts = torch.empty(0)  # [B] tokens summed
        self._next = torch.empty(0)  # [2, B, V_gedi] log p(next token | code, …)

    @torch.inference_mode()
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._continues(input_ids):
            self._advance(input_ids[:, -1])
        else:
            self._start(input_ids)
        self._seen = input_ids.clone()
        log_desired = self._candidate_log_posterior()
        return guided_scores(scores, log_desired.to(scores.device), self.guidance)  # type: ignore[return-value]

    def _continues(self, input_ids: torch.Tensor) -> bool:
        seen = self._seen
        return (
            seen is not None
            and input_ids.shape[0] == seen.shape[0]
            and input_ids.shape[1] == seen.shape[1] + 1
            and torch.equal(input_ids[:, :-1], seen)
        )

    def _candidate_log_posterior(self) -> torch.Tensor:
        """log P(desired | …, x) for every shared token id x: ``[B, vocab_size]``."""
        n = self.vocab_size
        mean = (self._sums.unsqueeze(-1) + self._next[..., :n]) / (self._counts + 1).unsqueeze(-1)
        logits = self.gedi.class_logits(mean, self.guidance.class_bias)
        return torch.log_softmax(logits, dim=-1)[..., 0]

    def _start(self, input_ids: torch.Tensor) -> None:
        """Read ``[code] + prompt`` for both codes and every row (left-padded, as one batch)."""
        prompts = [_strip_left(row, self.pad_token_id) for row in input_ids.tolist()]
        batch = len(prompts)
        width = 1 + max(len(p) for p in prompts)
        ids = torch.zeros((2 * batch, width), dtype=torch.long)
        mask = torch.zeros((2 * batch, width), dtype=torch.long)
        for c, code in enumerate(self.gedi.code_ids):
            for b, prompt in enumerate(prompts):
                row = [code, *prompt]
                ids[c * batch + b, width - len(row) :] = torch.tensor(row)
                mask[c * batch + b, width - len(row) :] = 1
        device = self.gedi.device
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.gedi.lm(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True
        )
        logprobs = torch.log_softmax(out.logits.float(), dim=-1)
        # a prompt token's log-probability is read at the position before it
        picked = logprobs[:, :-1].gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        real = mask[:, 1:] * mask[:, :-1]
        self._sums = (picked * real).sum(-1).view(2, batch)
        self._counts = torch.tensor([len(p) for p in prompts], dtype=torch.float32, device=device)
        self._next = logprobs[:, -1].view(2, batch, -1)
        self._cache = getattr(out, self._cache_arg)
        self._mask, self._positions = mask, positions[:, -1:]

    def _advance(self, tokens: torch.Tensor) -> None:
        """Add the chosen tokens to the running sums and take one cached GeDi step."""
        device = self.gedi.device
        tokens = tokens.to(device)
        self._sums = self._sums + self._next.gather(
            -1, tokens.view(1, -1, 1).expand(2, -1, 1)
        ).squeeze(-1)
        self._counts = self._counts + 1
        self._mask = torch.cat([self._mask, self._mask.new_ones((self._mask.shape[0], 1))], dim=1)
        self._positions = self._positions + 1
        out = self.gedi.lm(
            input_ids=tokens.repeat(2).unsqueeze(-1),
            attention_mask=self._mask,
            position_ids=self._positions,
            use_cache=True,
            **{self._cache_arg: self._cache},
        )
        self._next = torch.log_softmax(out.logits[:, -1].float(), dim=-1).view(
            2, tokens.shape[0], -1
        )
        self._cache = getattr(out, self._cache_arg)


def _strip_left(row: list[int], pad: int) -> list[int]:
    start = 0
    while start < len(row) and row[start] == pad:
        start += 1
    return row[start:]
