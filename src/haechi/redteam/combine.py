"""Combination rules (any / all / majority) over several detectors' verdicts.

A combined verdict keeps its members' verdicts, as objects and as JSON in ``raw``, so a
stored combination can be read back member by member (``members_from_raw``).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from haechi.errors import HaechiError, InputError
from haechi.redteam.types import DetectionInput, Detector, Verdict

CombineRule = Literal["any", "all", "majority"]


@dataclass(frozen=True)
class CombinedVerdict(Verdict):
    """A combined verdict; ``members`` are the members' own verdicts (also JSON in ``raw``)."""

    members: tuple[Verdict, ...] = ()


def combine_verdicts(verdicts: Sequence[Verdict], rule: CombineRule, name: str) -> CombinedVerdict:
    """Combine one item's member verdicts.

    ``any``: success if one member says so; ``all``: if every member does; ``majority``: if
    more than half do (a tie is not a success). ``score``: max / min / median of the members'
    scores when every member has one, else None. ``labels``: the labels of the members that
    agree with the outcome. ``raw``: ``{"rule": …, "members": [verdicts as objects]}``.
    """
    if not verdicts:
        raise ValueError("combine_verdicts needs at least one verdict")
    votes = [v.success for v in verdicts]
    if rule == "any":
        success = any(votes)
    elif rule == "all":
        success = all(votes)
    else:
        success = 2 * sum(votes) > len(votes)
    scores = [v.score for v in verdicts if v.score is not None]
    score = None
    if len(scores) == len(verdicts):
        if rule == "any":
            score = max(scores)
        elif rule == "all":
            score = min(scores)
        else:
            score = float(statistics.median(scores))
    labels: list[str] = []
    for v in verdicts:
        for label in v.labels if v.success == success else ():
            if label not in labels:
                labels.append(label)
    raw = json.dumps(
        {"rule": rule, "members": [_verdict_dict(v) for v in verdicts]}, ensure_ascii=False
    )
    return CombinedVerdict(name, success, score, tuple(labels), raw, members=tuple(verdicts))


def members_from_raw(raw: str) -> tuple[Verdict, ...]:
    """The member verdicts kept in a combined verdict's ``raw`` (nested ones as
    ``CombinedVerdict``), e.g. after reading it back from the store."""
    data = json.loads(raw)
    return tuple(_verdict_from_dict(m) for m in data["members"])


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {
        "detector": v.detector,
        "success": v.success,
        "score": v.score,
        "labels": list(v.labels),
        "raw": v.raw,
    }


def _verdict_from_dict(data: Mapping[str, Any]) -> Verdict:
    fields = (
        str(data["detector"]),
        bool(data["success"]),
        None if data.get("score") is None else float(data["score"]),
        tuple(str(x) for x in data.get("labels") or ()),
        str(data.get("raw") or ""),
    )
    try:
        inner = json.loads(fields[4])
    except ValueError:
        inner = None
    if isinstance(inner, dict) and {"rule", "members"} <= inner.keys():
        return CombinedVerdict(*fields, members=members_from_raw(fields[4]))
    return Verdict(*fields)


class CombinedDetector:
    """Runs every member on the whole batch, then combines per item (``combine_verdicts``)."""

    def __init__(
        self, detectors: Sequence[Detector], rule: CombineRule = "any", *, name: str | None = None
    ) -> None:
        if not detectors:
            raise InputError("a combination needs at least one detector", field="detectors")
        if rule not in ("any", "all", "majority"):
            raise InputError(f"unknown rule {rule!r}", field="rule", hint="any, all or majority")
        names = [d.name for d in detectors]
        if len(set(names)) != len(names):
            raise InputError(
                f"member names must be distinct, got {', '.join(names)}",
                field="detectors",
                hint="set a distinct name: on each member",
            )
        self.members = tuple(detectors)
        self.rule: CombineRule = rule
        self.name = name or f"{rule}({','.join(names)})"

    def detect(self, items: Sequence[DetectionInput]) -> list[Verdict]:
        per_member = [member.detect(items) for member in self.members]
        for member, verdicts in zip(self.members, per_member, strict=True):
            if len(verdicts) != len(items):
                raise HaechiError(
                    f"detector {member.name!r} returned {len(verdicts)} verdicts for {len(items)} items"
                )
        return [
            combine_verdicts([verdicts[i] for verdicts in per_member], self.rule, self.name)
            for i in range(len(items))
        ]
