"""The values red-teaming passes around: seeds, converters, verdicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from haechi.models.base import ChatMessage


@dataclass(frozen=True)
class Seed:
    """A harmful (or, for the control set, harmless look-alike) request to start from.

    ``category`` is a key of ``haechi.redteam.taxonomy.CATEGORIES``; ``source`` names the
    set it came from (``bundled``, ``square``, a file path); ``benign`` marks control items
    used to measure over-refusal.
    """

    id: str
    text: str
    category: str
    source: str
    benign: bool = False
    meta: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        """What an attempt's stored chain keeps of its seed (``meta`` when it has any: a
        control's ``topic``, a public set's original label)."""
        record: dict[str, object] = {
            "id": self.id,
            "text": self.text,
            "category": self.category,
            "source": self.source,
            "benign": self.benign,
        }
        if self.meta:
            record["meta"] = dict(self.meta)
        return record


@dataclass(frozen=True)
class Converter:
    """A named text transformation; ``inverse`` undoes it where that is possible.

    Deterministic unless ``uses_model`` (translation, paraphrase).
    """

    name: str
    apply: Callable[[str], str]
    description: str
    inverse: Callable[[str], str] | None = None
    uses_model: bool = False

    def __call__(self, text: str) -> str:
        return self.apply(text)


@dataclass(frozen=True)
class DetectionInput:
    """What a detector judges: the seed, the conversation sent, and the target's reply."""

    seed: Seed
    conversation: tuple[ChatMessage, ...]
    response: str

    @property
    def prompt(self) -> str:
        """The last user turn (the attack as sent)."""
        users = [m.content for m in self.conversation if m.role == "user"]
        return users[-1] if users else ""

    @property
    def turn(self) -> int:
        """The target's turn being judged, from 1: its earlier replies plus this one."""
        return 1 + sum(m.role == "assistant" for m in self.conversation)

    @property
    def answer(self) -> str:
        """Everything the target said: its earlier turns and the response, joined by blank
        lines. Harm detectors judge this, so an answer split over turns counts whole; for
        a single turn it is the response."""
        said = [m.content for m in self.conversation if m.role == "assistant"]
        return "\n\n".join([*said, self.response])


@dataclass(frozen=True)
class Verdict:
    """One detector's judgement of one response.

    ``success``: the attack worked (the target complied with a harmful request); for the
    refusal detector that is "did not refuse". ``score`` is a probability of success when
    the detector has one. ``labels`` carries detail (harm categories, "refusal").
    ``raw`` keeps the detector's own output (a judge's text) for audit. ``turn``: the
    target's turn it judged (``DetectionInput.turn``; a TAP node's depth), set by the
    campaign.
    """

    detector: str
    success: bool
    score: float | None = None
    labels: tuple[str, ...] = ()
    raw: str = ""
    turn: int | None = None


@runtime_checkable
class Detector(Protocol):
    """Judges responses in batches (model-based detectors batch their calls)."""

    name: str

    def detect(self, items: Sequence[DetectionInput]) -> list[Verdict]: ...
