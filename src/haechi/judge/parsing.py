"""Reading a score out of a judge's answer: "4", "점수: 4", "4/5", "Coherence: 4", "４점"."""

from __future__ import annotations

import re
import unicodedata

# "4/5" or "4 / 5": the score is the numerator
_FRACTION = re.compile(r"(-?\d+(?:\.\d+)?)\s*/\s*\d+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse_score(text: str, low: float, high: float) -> float | None:
    """The first number in ``text`` inside [low, high] (after a "label:" prefix if any);
    ``None`` when there is none. Full-width digits are folded (NFKC) first."""
    folded = unicodedata.normalize("NFKC", text).strip()
    fraction = _FRACTION.search(folded)
    candidates = [fraction.group(1)] if fraction else []
    candidates += _NUMBER.findall(folded)
    for candidate in candidates:
        value = float(candidate)
        if low <= value <= high:
            return value
    return None


def score_token(token: str, low: int, high: int) -> int | None:
    """The integer score a single generated token stands for ("4", " 4", "４"), else None."""
    folded = unicodedata.normalize("NFKC", token).strip()
    if folded.isdigit() and low <= int(folded) <= high:
        return int(folded)
    return None
