"""Verdicts as a person reads them: the refusal detector's ``success`` is "the model did
not refuse", said apart from the detector's call; hostile values read as unknown."""

from __future__ import annotations

from haechi.review.verdicts import VerdictLine, verdict_lines


def test_the_refusal_detectors_success_means_the_model_did_not_refuse() -> None:
    lines = verdict_lines(
        {
            "verdicts": [
                {"detector": "refusal", "success": True},
                {"detector": "refusal", "success": False, "labels": ["refusal"]},
                {"detector": "refusal-ko", "success": False, "labels": ["refusal"], "turn": 2},
                {"detector": "judge-harmbench", "success": True, "score": 0.75},
            ]
        }
    )
    assert [(v.detector, v.attack_succeeded, v.refused) for v in lines] == [
        ("refusal", True, False),
        ("refusal", False, True),
        ("refusal-ko", False, True),
        ("judge-harmbench", True, None),
    ]
    assert (lines[2].turn, lines[3].score) == (2, 0.75)


def test_arena_models_and_hostile_values() -> None:
    lines = verdict_lines(
        {
            "verdicts": [
                {"detector": "A", "model": "hf/good"},
                {"detector": 7, "success": "yes", "score": True, "turn": "2"},
                "not a verdict",
            ]
        }
    )
    assert lines == [
        VerdictLine("A", None, None, None, None, "hf/good"),
        VerdictLine("7", None, None, None, None, None),
    ]
    assert verdict_lines(None) == verdict_lines({"verdicts": "x"}) == []
