"""A GeDi: a class-conditional LM used as a generative discriminator (Krause et al., 2020).

The same text is read twice, once after the desired class's control code and once after
the undesired one's. Bayes' rule over the two (equal priors) gives the class posterior;
as in the paper, each class's logit is its per-token mean log-likelihood (nats/token),
times a learned scale, plus a learned bias::

    logit_c = scale · (1/n) Σ_i log p(x_i | code_c, x_<i) + bias_c   (+ class_bias, desired)
    P(desired | x) = softmax(logit_desired, logit_undesired)[desired]

Training, scoring and guided generation all go through ``class_logits``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from haechi.errors import HaechiError, InputError, MissingExtraError
from haechi.guard.gedi_config import CONTROL_TOKENS, GediConfig, read_config


def class_logits(
    mean_logprobs: torch.Tensor,
    scale: torch.Tensor | float,
    bias: torch.Tensor | Sequence[float],
    class_bias: float = 0.0,
) -> torch.Tensor:
    """Class logits ``[..., 2]`` (desired, undesired) from per-token mean log-likelihoods
    ``[2, ...]`` under the desired and undesired control codes."""
    bias_t = torch.as_tensor(bias, dtype=mean_logprobs.dtype, device=mean_logprobs.device)
    shift = torch.tensor([class_bias, 0.0], dtype=mean_logprobs.dtype, device=mean_logprobs.device)
    return torch.movedim(mean_logprobs, 0, -1) * scale + bias_t + shift


def encode_text(tokenizer: Any, text: str, max_length: int) -> list[int]:
    """Token ids of ``text`` as the GeDi reads it: the tokenizer's own special tokens
    (BOS where it adds one, as generation prompts have), then EOS; at most
    ``max_length − 1`` ids so the control code fits."""
    ids = list(tokenizer(text)["input_ids"])
    eos = tokenizer.eos_token_id
    keep = max_length - 1 - (eos is not None)
    return ids[:keep] + ([eos] if eos is not None else [])


def conditional_logprob_sums(
    lm: Any, code_ids: tuple[int, int], sequences: Sequence[Sequence[int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ_i log p(x_i | code_c, x_<i) (nats) for both classes c and every sequence:
    shape ``[2, B]``, and the token counts ``[B]``. Both classes run as one batch
    (right-padded, padding masked)."""
    device = lm.device
    width = 1 + max(len(s) for s in sequences)
    rows = 2 * len(sequences)
    ids = torch.zeros((rows, width), dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for c, code in enumerate(code_ids):
        for b, seq in enumerate(sequences):
            row = c * len(sequences) + b
            ids[row, 0] = code
            ids[row, 1 : 1 + len(seq)] = torch.tensor(list(seq), dtype=torch.long)
            mask[row, : 1 + len(seq)] = 1
    ids, mask = ids.to(device), mask.to(device)
    logits = lm(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
    labels = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    nll = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none", ignore_index=-100)
    sums = -nll.sum(dim=1).view(2, len(sequences))
    counts = torch.tensor([len(s) for s in sequences], dtype=torch.float32, device=device)
    return sums, counts


@dataclass
class GediModel:
    """A trained GeDi loaded for scoring or guidance: the LM, its tokenizer, its config."""

    lm: Any
    tokenizer: Any
    config: GediConfig
    path: Path

    @classmethod
    def load(cls, path: Path, *, device: str | torch.device = "auto") -> GediModel:
        """Load a GeDi folder; float32 on CPU, the checkpoint's dtype on a GPU."""
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingExtraError(exc.name or "transformers", "hf") from None
        config = read_config(path)
        target = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        )
        try:
            tokenizer: Any = AutoTokenizer.from_pretrained(path)
            lm: Any = AutoModelForCausalLM.from_pretrained(
                path, dtype=torch.float32 if target.type == "cpu" else "auto"
            )
        except OSError as exc:
            raise HaechiError(f"could not load the GeDi in {path}: {exc}") from exc
        ids = tuple(tokenizer.convert_tokens_to_ids(list(CONTROL_TOKENS)))
        if ids != config.control_code_ids:
            raise InputError(
                f"the tokenizer's control-code ids {ids} differ from the config's "
                f"{config.control_code_ids}",
                file=str(path),
                field="control_code_ids",
            )
        return cls(lm.to(target).eval(), tokenizer, config, path)

    @property
    def code_ids(self) -> tuple[int, int]:
        return self.config.control_code_ids

    @property
    def device(self) -> torch.device:
        return torch.device(self.lm.device)

    @property
    def cache_argument(self) -> str:
        """The forward argument that carries the KV cache (``cache`` in transformers 5.2x,
        ``past_key_values`` before)."""
        params = inspect.signature(self.lm.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def class_logits(self, mean_logprobs: torch.Tensor, class_bias: float = 0.0) -> torch.Tensor:
        return class_logits(
            mean_logprobs, self.config.logit_scale, self.config.class_bias_learned, class_bias
        )

    def base_vocab(self) -> dict[str, int]:
        """The tokenizer's vocabulary without the control codes: what a target must share."""
        return {t: i for t, i in self.tokenizer.get_vocab().items() if t not in CONTROL_TOKENS}
