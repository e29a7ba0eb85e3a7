"""Detector verdicts as a person reads them. A verdict's ``success`` is the detector's
call on the attack, so the refusal detector's ``success`` means the model did *not*
refuse: ``VerdictLine`` says both things apart, for every detector.

Verdicts come from imported files (hostile): a value of the wrong type reads as unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from haechi.redteam.refusal import REFUSAL_LABEL

REFUSAL_DETECTOR = "refusal"  # the refusal detector's default name (summary.refused)


@dataclass(frozen=True)
class VerdictLine:
    """One detector's verdict on an item. ``attack_succeeded``: its call (``None``: it
    made none, as an arena item's model lines); ``refused``: whether the model refused,
    for the refusal detector only; ``model``: an arena answer's model."""

    detector: str
    attack_succeeded: bool | None
    refused: bool | None
    score: float | None
    turn: int | None
    model: str | None


def verdict_lines(verdicts: Mapping[str, Any] | None) -> list[VerdictLine]:
    """The verdicts of an item (its stored ``{"verdicts": [...]}``) as lines."""
    raw = verdicts.get("verdicts", []) if isinstance(verdicts, Mapping) else []
    return [_line(v) for v in raw if isinstance(v, Mapping)] if isinstance(raw, list) else []


def _line(verdict: Mapping[str, Any]) -> VerdictLine:
    success = verdict.get("success")
    succeeded = success if isinstance(success, bool) else None
    labels = verdict.get("labels")
    detector = str(verdict.get("detector", ""))
    is_refusal = detector == REFUSAL_DETECTOR or (
        isinstance(labels, list) and REFUSAL_LABEL in labels
    )
    score, turn, model = verdict.get("score"), verdict.get("turn"), verdict.get("model")
    return VerdictLine(
        detector=detector,
        attack_succeeded=succeeded,
        refused=(not succeeded) if is_refusal and succeeded is not None else None,
        score=float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else None,
        turn=turn if isinstance(turn, int) and not isinstance(turn, bool) else None,
        model=None if model is None else str(model),
    )
