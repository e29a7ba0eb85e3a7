"""LLM-as-judge: G-Eval scoring (auto chain-of-thought, form filling, probability-weighted
scores), pairwise judging, and meta-evaluation against human ratings."""

from haechi.judge.criteria import Criterion, bundled_criteria, resolve_criteria
from haechi.judge.geval import CriterionScore, PairVerdict, evaluation_steps, pairwise, score_items
from haechi.judge.parsing import parse_score
from haechi.judge.prompts import JudgeItem, form_prompt

__all__ = [
    "Criterion",
    "CriterionScore",
    "JudgeItem",
    "PairVerdict",
    "bundled_criteria",
    "evaluation_steps",
    "form_prompt",
    "pairwise",
    "parse_score",
    "resolve_criteria",
    "score_items",
]
