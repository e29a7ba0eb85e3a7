"""Korean prompt suites, batched generation runs, preference votes and Bradley–Terry ratings.

``haechi chat`` and ``haechi generate`` are command-line shells over ``haechi.models``,
``haechi.chat`` and this package; the web app's side-by-side voting writes the votes rated
here.
"""

from __future__ import annotations

from haechi.arena.bradley_terry import (
    ModelRating,
    RatingOptions,
    Ratings,
    WinRates,
    fit_log_strengths,
    rate,
    win_probability,
)
from haechi.arena.generation import GenerationRun, GenerationSettings, run_generation
from haechi.arena.suites import CATEGORY_NAMES, Suite, SuitePrompt, bundled_suites, load_suite
from haechi.arena.votes import Outcome, Vote, read_votes

__all__ = [
    "CATEGORY_NAMES",
    "GenerationRun",
    "GenerationSettings",
    "ModelRating",
    "Outcome",
    "RatingOptions",
    "Ratings",
    "Suite",
    "SuitePrompt",
    "Vote",
    "WinRates",
    "bundled_suites",
    "fit_log_strengths",
    "load_suite",
    "rate",
    "read_votes",
    "run_generation",
    "win_probability",
]
