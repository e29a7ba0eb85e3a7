"""Pairwise preference votes: one person's (or judge's) choice between two models' answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from haechi.documents import read_file
from haechi.errors import InputError

Outcome = Literal["a", "b", "tie", "both_bad"]

# Spellings accepted in vote files → outcome. Chatbot Arena's published votes use
# model_a / model_b / tie / "tie (bothbad)".
OUTCOMES: dict[str, Outcome] = {
    "a": "a",
    "model_a": "a",
    "b": "b",
    "model_b": "b",
    "tie": "tie",
    "both_bad": "both_bad",
    "bothbad": "both_bad",
    "tie (bothbad)": "both_bad",
}


@dataclass(frozen=True)
class Vote:
    """``outcome``: ``a`` or ``b`` won, ``tie`` (both fine), ``both_bad`` (neither)."""

    model_a: str
    model_b: str
    outcome: Outcome

    def __post_init__(self) -> None:
        if self.model_a == self.model_b:
            raise ValueError(f"a vote needs two different models, got {self.model_a!r} twice")
        if self.outcome not in ("a", "b", "tie", "both_bad"):
            raise ValueError(f"unknown outcome {self.outcome!r}")


def parse_outcome(text: str) -> Outcome:
    """An outcome from its accepted spellings (case and surrounding space ignored)."""
    key = text.strip().lower()
    if key not in OUTCOMES:
        raise ValueError(f"unknown winner {text!r}; use one of {', '.join(OUTCOMES)}")
    return cast(Outcome, OUTCOMES[key])


def read_votes(path: Path) -> list[Vote]:
    """Votes from jsonl, json or csv rows with ``model_a``, ``model_b`` and ``winner``;
    errors name the file, line and field."""
    votes = []
    for doc in read_file(path):
        for name in ("model_a", "model_b", "winner"):
            value = doc.fields.get(name)
            if not isinstance(value, str) or not value.strip():
                raise doc.error("must be a non-empty string", name)
        model_a, model_b = doc.fields["model_a"].strip(), doc.fields["model_b"].strip()
        if model_a == model_b:
            raise doc.error(f"the same model on both sides ({model_a!r})", "model_b")
        try:
            outcome = parse_outcome(doc.fields["winner"])
        except ValueError as exc:
            raise doc.error(str(exc), "winner") from None
        votes.append(Vote(model_a, model_b, outcome))
    if not votes:
        raise InputError("no votes in the file", file=str(path))
    return votes
