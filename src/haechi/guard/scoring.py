"""A GeDi as a classifier: the desired-class posterior of whole texts, and its AUC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from scipy.stats import rankdata

from haechi.guard.data import LabelledSet
from haechi.guard.gedi_model import GediModel, conditional_logprob_sums, encode_text


@torch.inference_mode()
def desired_posterior(
    gedi: GediModel,
    texts: Sequence[str],
    *,
    batch_size: int = 16,
    class_bias: float = 0.0,
) -> list[float]:
    """P(desired | text) for each text (Bayes' rule over the two control codes), in input
    order. Texts are encoded as in training (special tokens, EOS, the training length
    limit) and batched by length."""
    limit = gedi.config.training.max_length
    encoded = [encode_text(gedi.tokenizer, t, limit) for t in texts]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    result = [0.0] * len(encoded)
    for start in range(0, len(order), batch_size):
        part = order[start : start + batch_size]
        sums, counts = conditional_logprob_sums(gedi.lm, gedi.code_ids, [encoded[i] for i in part])
        logits = gedi.class_logits(sums / counts, class_bias)
        posterior = torch.softmax(logits, dim=-1)[:, 0].tolist()
        for index, p in zip(part, posterior, strict=True):
            result[index] = float(p)
    return result


def roc_auc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Area under the ROC curve: the chance that a random positive outscores a random
    negative (ties count half), from mid-ranks (Mann–Whitney U)."""
    n_pos = sum(positives)
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative")
    ranks = rankdata(scores)
    rank_sum = sum(r for r, p in zip(ranks, positives, strict=True) if p)
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class GediEvaluation:
    """How well a GeDi separates a labelled set: AUC of P(desired), and the mean
    posterior within each class."""

    auc: float
    examples: int
    mean_desired: float
    mean_undesired: float


def evaluate_gedi(gedi: GediModel, data: LabelledSet, *, batch_size: int = 16) -> GediEvaluation:
    posterior = desired_posterior(gedi, [e.text for e in data.examples], batch_size=batch_size)
    flags = [e.desired for e in data.examples]
    pos = [p for p, f in zip(posterior, flags, strict=True) if f]
    neg = [p for p, f in zip(posterior, flags, strict=True) if not f]
    return GediEvaluation(
        roc_auc(posterior, flags), len(flags), sum(pos) / len(pos), sum(neg) / len(neg)
    )
