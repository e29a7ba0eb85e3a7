"""Combination rules (any / all / majority) on hand-built verdicts, raw keeping the members,
and detector specs from a campaign's YAML."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

import pytest
import yaml

from haechi.errors import HaechiError, InputError
from haechi.models.base import ChatMessage
from haechi.redteam.combine import (
    CombinedDetector,
    CombinedVerdict,
    combine_verdicts,
    members_from_raw,
)
from haechi.redteam.detectors import CombineSpec, RefusalSpec, build_detector, parse_detector_spec
from haechi.redteam.refusal import RefusalDetector
from haechi.redteam.types import DetectionInput, Detector, Seed, Verdict


def _v(name: str, success: bool, score: float | None = None, *labels: str) -> Verdict:
    return Verdict(name, success, score, labels, raw=f"raw of {name}")


class Scripted:
    """A detector answering fixed verdicts, one per item."""

    def __init__(self, name: str, verdicts: Sequence[Verdict]) -> None:
        self.name = name
        self.verdicts = list(verdicts)

    def detect(self, items: Sequence[DetectionInput]) -> list[Verdict]:
        return self.verdicts[: len(items)]


def _items(n: int) -> list[DetectionInput]:
    seed = Seed("s", "요청", "hate", "test")
    return [DetectionInput(seed, (ChatMessage("user", "요청"),), f"응답 {i}") for i in range(n)]


@pytest.mark.parametrize("votes", list(itertools.product([False, True], repeat=3)))
def test_rules_on_three_members(votes: tuple[bool, bool, bool]) -> None:
    members = [_v(f"d{i}", vote) for i, vote in enumerate(votes)]
    n = sum(votes)
    assert combine_verdicts(members, "any", "c").success is (n >= 1)
    assert combine_verdicts(members, "all", "c").success is (n == 3)
    assert combine_verdicts(members, "majority", "c").success is (n >= 2)


def test_majority_needs_more_than_half() -> None:
    tie = [_v("a", True), _v("b", False)]
    assert combine_verdicts(tie, "majority", "c").success is False
    four = [_v("a", True), _v("b", True), _v("c", True), _v("d", False)]
    assert combine_verdicts(four, "majority", "c").success is True
    assert combine_verdicts([_v("a", True)], "majority", "c").success is True


def test_scores_labels_and_raw() -> None:
    members = [
        _v("judge", True, 0.9, "hate"),
        _v("classifier", True, 0.6, "toxic"),
        _v("refusal", False, 0.1, "refusal"),
    ]
    any_ = combine_verdicts(members, "any", "any-of-3")
    all_ = combine_verdicts(members, "all", "all-of-3")
    majority = combine_verdicts(members, "majority", "majority-of-3")
    assert (any_.score, all_.score, majority.score) == (0.9, 0.1, 0.6)
    # labels come from the members that agree with the outcome
    assert any_.labels == ("hate", "toxic") and majority.labels == ("hate", "toxic")
    assert all_.success is False and all_.labels == ("refusal",)
    assert isinstance(majority, CombinedVerdict) and majority.members == tuple(members)
    assert majority.detector == "majority-of-3"
    raw = json.loads(majority.raw)
    assert raw["rule"] == "majority"
    assert raw["members"][2] == {
        "detector": "refusal",
        "success": False,
        "score": 0.1,
        "labels": ["refusal"],
        "raw": "raw of refusal",
    }
    assert members_from_raw(majority.raw) == tuple(members)
    # one member without a score: no combined score
    partial = [*members[:2], _v("x", False)]
    assert combine_verdicts(partial, "any", "c").score is None


def test_nested_combinations_round_trip_through_raw() -> None:
    inner = combine_verdicts([_v("a", True, 0.7), _v("b", False, 0.2)], "any", "inner")
    outer = combine_verdicts([inner, _v("c", False, 0.4)], "all", "outer")
    assert outer.success is False and outer.score == pytest.approx(0.4)
    restored = members_from_raw(outer.raw)
    assert isinstance(restored[0], CombinedVerdict)
    assert restored[0].members == inner.members
    assert restored == (inner, _v("c", False, 0.4))


def test_combined_detector_runs_every_member_on_the_whole_batch() -> None:
    a = Scripted("a", [_v("a", True, 0.9), _v("a", False, 0.1), _v("a", True, 0.8)])
    b = Scripted("b", [_v("b", True, 0.7), _v("b", True, 0.6), _v("b", False, 0.3)])
    c = Scripted("c", [_v("c", False, 0.2), _v("c", False, 0.4), _v("c", True, 0.9)])
    detector = CombinedDetector([a, b, c], "majority")
    assert isinstance(detector, Detector)
    assert detector.name == "majority(a,b,c)"
    verdicts = detector.detect(_items(3))
    assert [v.success for v in verdicts] == [True, False, True]
    assert [v.score for v in verdicts] == pytest.approx([0.7, 0.4, 0.8])
    assert all(isinstance(v, CombinedVerdict) and len(v.members) == 3 for v in verdicts)
    assert [m.detector for m in members_from_raw(verdicts[1].raw)] == ["a", "b", "c"]


def test_a_member_returning_the_wrong_number_of_verdicts_fails() -> None:
    short = Scripted("short", [_v("short", True)])
    with pytest.raises(HaechiError, match="'short' returned 1 verdicts for 2 items"):
        CombinedDetector([short], "any").detect(_items(2))


def test_combined_detector_rejects_bad_arguments() -> None:
    with pytest.raises(InputError) as info:
        CombinedDetector([], "any")
    assert info.value.field == "detectors"
    with pytest.raises(InputError) as info:
        CombinedDetector([RefusalDetector()], "most")  # type: ignore[arg-type]
    assert info.value.field == "rule"
    with pytest.raises(InputError, match="distinct"):
        CombinedDetector([RefusalDetector(), RefusalDetector()], "any")


CAMPAIGN_YAML = """
detectors:
  - type: combine
    rule: majority
    name: consensus
    detectors:
      - {type: refusal}
      - {type: refusal, name: strict-refusal, window: 5}
      - type: combine
        rule: all
        detectors:
          - {type: refusal, name: r1}
          - {type: refusal, name: r2}
"""


def test_build_a_nested_combination_from_yaml() -> None:
    [entry] = yaml.safe_load(CAMPAIGN_YAML)["detectors"]
    spec = parse_detector_spec(entry)
    assert isinstance(spec, CombineSpec) and isinstance(spec.detectors[0], RefusalSpec)
    detector = build_detector(entry)
    assert isinstance(detector, CombinedDetector) and detector.name == "consensus"
    assert [m.name for m in detector.members] == ["refusal", "strict-refusal", "all(r1,r2)"]
    seed = Seed("s", "x", "hate", "t")
    texts = ("I can't help with that.", "Sure! Here you go.")
    refusal, compliance = detector.detect([DetectionInput(seed, (), t) for t in texts])
    assert (refusal.success, compliance.success) == (False, True)
    inner = members_from_raw(refusal.raw)[2]
    assert isinstance(inner, CombinedVerdict) and [m.detector for m in inner.members] == [
        "r1",
        "r2",
    ]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("refusal", "detectors[3]"),
        ({}, "detectors[3].type"),
        ({"type": "regex"}, "detectors[3].type"),
        ({"type": "refusal", "threshold": 2}, "detectors[3].threshold"),
        ({"type": "refusal", "treshold": 0.5}, "detectors[3].treshold"),
        ({"type": "judge", "style": "harmbench"}, "detectors[3].model"),
        ({"type": "judge", "model": "hf/x", "style": "likert"}, "detectors[3].style"),
        ({"type": "judge", "model": "hf/x", "native": True}, "detectors[3].native"),
        ({"type": "classifier", "model": "x"}, "detectors[3].harmful_label"),
        ({"type": "combine", "detectors": [{"type": "refusal"}]}, "detectors[3].rule"),
        ({"type": "combine", "rule": "any"}, "detectors[3].detectors"),
        ({"type": "combine", "rule": "any", "detectors": []}, "detectors[3].detectors"),
        (
            {
                "type": "combine",
                "rule": "any",
                "detectors": [{"type": "refusal"}, {"type": "nope"}],
            },
            "detectors[3].detectors[1].type",
        ),
        (
            {
                "type": "combine",
                "rule": "any",
                "detectors": [{"type": "refusal"}, {"type": "refusal"}],
            },
            "detectors[3].detectors",
        ),
    ],
)
def test_bad_entries_name_the_field(entry: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        build_detector(entry, where="detectors[3]")
    assert info.value.field == field
    assert info.value.exit_code == 2
