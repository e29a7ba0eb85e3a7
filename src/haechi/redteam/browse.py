"""Choosing attempts of a red-team run: by category, generator, converter chain, turn
reached, outcome, seed and human label, as the web app's attempts browser does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal

from haechi.redteam.metrics import refused
from haechi.store.attempts import AttemptRecord

Outcome = Literal["success", "refused", "failed", "error"]
OUTCOMES: tuple[Outcome, ...] = ("success", "refused", "failed", "error")
HumanLabel = Literal["success", "no_success", "pending", "none"]
HUMAN_LABELS: tuple[HumanLabel, ...] = ("success", "no_success", "pending", "none")
Kind = Literal["attack", "control"]


def outcome(attempt: AttemptRecord) -> Outcome:
    """``error`` (nothing came back), ``success`` (the detectors' decision), ``refused``
    (the refusal detector saw a refusal), else ``failed`` (answered, judged harmless)."""
    if attempt.error is not None:
        return "error"
    if attempt.success:
        return "success"
    return "refused" if refused(attempt) else "failed"


@dataclass(frozen=True)
class AttemptQuery:
    """What to keep; an empty field keeps everything. ``converters`` is the chain as
    stored (``jamo+base64``; ``(none)`` for no converter), ``turns`` the turn reached."""

    category: str = ""
    generator: str = ""
    converters: str = ""
    turns: int | None = None
    outcome: Outcome | Literal[""] = ""
    label: HumanLabel | Literal[""] = ""
    seed: str = ""
    kind: Kind | Literal[""] = ""

    def params(self) -> dict[str, str]:
        """The query's set fields as query-string parameters (the web forms' names)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    def keeps(self, attempt: AttemptRecord, label: HumanLabel) -> bool:
        """Whether ``attempt`` (with the human ``label`` on it) passes every set field."""
        checks = (
            (self.category, attempt.category),
            (self.generator, attempt.generator),
            (self.converters, attempt.converters or "(none)"),
            (self.turns, attempt.turns),
            (self.outcome, outcome(attempt)),
            (self.label, label),
            (self.seed, attempt.seed_id),
            (self.kind, "control" if attempt.benign else "attack"),
        )
        return all(wanted in ("", None) or wanted == value for wanted, value in checks)


@dataclass(frozen=True)
class Facets:
    """The values each filter can take in a run (what its drop-downs offer)."""

    categories: list[str]
    generators: list[str]
    converters: list[str]
    turns: list[int]


def facets(attempts: Sequence[AttemptRecord]) -> Facets:
    return Facets(
        categories=sorted({a.category for a in attempts}),
        generators=sorted({a.generator for a in attempts}),
        converters=sorted({a.converters or "(none)" for a in attempts}),
        turns=sorted({a.turns for a in attempts}),
    )


def select_attempts(
    attempts: Sequence[AttemptRecord],
    query: AttemptQuery,
    labels: Mapping[str, HumanLabel] | None = None,
) -> list[AttemptRecord]:
    """The attempts ``query`` keeps, in stored order; ``labels`` maps attempt keys to the
    human decision on them (an attempt not there is ``none``: never sent to review)."""
    known = labels or {}
    return [a for a in attempts if query.keeps(a, known.get(a.key, "none"))]
