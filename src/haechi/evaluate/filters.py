"""Answer extraction from generated text, and exact-match comparison with the reference.

Both follow lm-evaluation-harness 0.4.13: its ``regex`` filter (the ``group_select``-th
match, first non-empty group, stripped, else a fallback) and its ``exact_match`` metric
(ignored regexes removed from both sides, then optional case and punctuation folding).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from haechi.tasks.spec import FilterStep, MatchOptions

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def strip_reasoning(text: str, think_end_token: str | None, stops: Sequence[str]) -> str:
    """What a reasoning model answered: the text after the last ``think_end_token``, left
    stripped, then cut at the first stop string (lm-eval 0.4.13's
    ``postprocess_generated_text``); without a token, ``text`` as generated. A trace cut
    off by the token budget has no marker and stays whole, as in lm-eval."""
    if not think_end_token:
        return text
    text = text.split(think_end_token)[-1].lstrip()
    for stop in stops:
        if stop:
            text = text.split(stop)[0]
    return text


def apply_filter(steps: Sequence[FilterStep], answers: Sequence[str]) -> str:
    """Run one pipeline over a document's answers (one per repeat) and return the result."""
    values = list(answers)
    for step in steps:
        if step.function == "take_first":
            values = values[:1]
        elif step.function == "strip":
            values = [v.strip() for v in values]
        else:
            values = [_regex(step, v) for v in values]
    return values[0] if values else ""


def _regex(step: FilterStep, text: str) -> str:
    found = re.findall(step.regex_pattern or "", text)
    if not found:
        return step.fallback
    match = found[step.group_select]
    if isinstance(match, tuple):
        groups = [g for g in match if g]
        if not groups:
            return step.fallback
        match = groups[0]
    return str(match).strip()


def exact_match(prediction: str, reference: str, options: MatchOptions) -> float:
    """1.0 when the two agree after the task's normalisations, else 0.0."""
    for pattern in options.regexes_to_ignore:
        prediction = re.sub(pattern, "", prediction)
        reference = re.sub(pattern, "", reference)
    if options.ignore_case:
        prediction, reference = prediction.lower(), reference.lower()
    if options.ignore_punctuation:
        prediction = prediction.translate(_PUNCTUATION)
        reference = reference.translate(_PUNCTUATION)
    return 1.0 if prediction == reference else 0.0
