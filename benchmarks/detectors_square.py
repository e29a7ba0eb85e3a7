"""The detectors' "attack success" against human acceptability labels nobody here wrote.

Not a test: a measurement on ``../shared/data/square/response_test_ood_annotations.json``
(SQuARe, Lee et al., ACL 2023; read in place, never copied): 480 real model answers to
sensitive Korean questions, each labelled acceptable / non-acceptable (or "dont_know") by
three crowd workers. The positive class is the human majority's "not acceptable" (fewer
than two of the three said acceptable: the released ``acceptable?`` label is 0); a
detector's positive is its verdict ``success`` on the answer (for the refusal patterns:
"did not refuse").

Rows:
- every detector kind that can be measured honestly here. Judges and classifiers need
  real trained models, and this machine has none (only tiny random ones, whose verdicts
  would be noise), so they are listed as not measured, not scored;
- label-free baselines: every answer flagged, and answers at least as long as the median;
- the inter-annotator ceiling: each annotator's "non-acceptable" against the two others,
  on the items where those two agree (and no one said "dont_know"), and the three pooled.

Precision / recall / F1 with a seeded percentile bootstrap 95% interval of F1.

    python benchmarks/detectors_square.py [--file PATH] [--bootstrap 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from haechi.models.base import ChatMessage
from haechi.redteam.detectors import SPECS, build_detector
from haechi.redteam.types import DetectionInput, Seed
from haechi.review.square import read_square_annotations

SQUARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "square"
FILE = SQUARE / "response_test_ood_annotations.json"
LABELS = {"acceptable": True, "non-acceptable": False, "dont_know": None}
NOT_MEASURED = {
    "judge": "needs a real judge model (HarmBench / Llama Guard style); none can run here",
    "classifier": "needs a real trained harm classifier; none can run here",
    "combine": "combines the kinds above: nothing new while only the patterns can run",
}
PYRIT = ("PyRIT refusal scorer, on PyRIT's own set (published)", 0.793, 0.941, 0.861)


@dataclass(frozen=True)
class Answer:
    """One response with its three votes (True acceptable, False not, None dont_know)."""

    question: str
    response: str
    votes: tuple[bool | None, ...]
    acceptable: bool  # the released label: at least two of three said acceptable


@dataclass(frozen=True)
class Scores:
    """Counts and precision / recall / F1 of predicted positives against actual ones."""

    n: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


def load_answers(path: Path = FILE) -> list[Answer]:
    """The responses with their votes, read by the review package's SQuARe reader."""
    return [
        Answer(
            item.prompt,
            item.response,
            tuple(LABELS[label.values["acceptable"]] for label in item.labels),
            item.gold["acceptable"] == "acceptable",
        )
        for item in read_square_annotations(path)
    ]


def scores(predicted: Sequence[bool], actual: Sequence[bool]) -> Scores:
    """Precision, recall and F1 of ``predicted`` (0 where undefined)."""
    pairs = list(zip(predicted, actual, strict=True))
    tp = sum(p and a for p, a in pairs)
    fp = sum(p and not a for p, a in pairs)
    fn = sum(a and not p for p, a in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(len(pairs), tp, fp, fn, precision, recall, f1)


def f1_interval(
    predicted: Sequence[bool], actual: Sequence[bool], *, resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of F1 over items, seeded."""
    rng = random.Random(seed)
    n = len(predicted)
    values = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        values.append(scores([predicted[i] for i in picks], [actual[i] for i in picks]).f1)
    values.sort()
    return values[int(0.025 * (resamples - 1))], values[int(0.975 * (resamples - 1))]


def not_acceptable(answers: Sequence[Answer]) -> list[bool]:
    """The human majority's positive class."""
    return [not a.acceptable for a in answers]


def detector_flags(entry: dict[str, object], answers: Sequence[Answer]) -> list[bool]:
    """A campaign detector entry's ``success`` on each answer (its question as the prompt)."""
    detector = build_detector(entry)
    items = [
        DetectionInput(
            Seed(f"square:{i}", a.question, "specialized_advice", "square"),
            (ChatMessage("user", a.question),),
            a.response,
        )
        for i, a in enumerate(answers)
    ]
    return [v.success for v in detector.detect(items)]


def baselines(answers: Sequence[Answer]) -> dict[str, list[bool]]:
    """Label-free baselines: flag everything; flag answers at least as long as the median."""
    median = statistics.median(len(a.response) for a in answers)
    return {
        "every answer flagged": [True] * len(answers),
        f"answer length ≥ median ({median:g} chars)": [len(a.response) >= median for a in answers],
    }


def annotator_ceiling(answers: Sequence[Answer]) -> dict[str, Scores]:
    """Annotator k's "non-acceptable" against the two others where they agree and nobody
    said "dont_know" (k = 1, 2, 3), and the three positions pooled ("all")."""
    slots = range(len(answers[0].votes))
    pooled: tuple[list[bool], list[bool]] = ([], [])
    rows = {}
    for k in slots:
        mine, theirs = [], []
        for a in answers:
            others = [v for i, v in enumerate(a.votes) if i != k]
            if None in a.votes or len(set(others)) != 1:
                continue
            mine.append(a.votes[k] is False)
            theirs.append(others[0] is False)
        rows[str(k + 1)] = scores(mine, theirs)
        pooled[0].extend(mine)
        pooled[1].extend(theirs)
    rows["all"] = scores(*pooled)
    return rows


def _row(name: str, s: Scores, interval: tuple[float, float] | None = None) -> str:
    ci = f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
    return (
        f"| {name} | {s.n} | {s.tp} / {s.fp} / {s.fn} | {s.precision:.3f} | {s.recall:.3f} "
        f"| {s.f1:.3f}{ci} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, default=FILE)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"no SQuARe annotations at {args.file}: nothing to measure")
    started = time.perf_counter()
    answers = load_answers(args.file)
    actual = not_acceptable(answers)
    print(
        f"{len(answers)} answers; human majority 'not acceptable' on {sum(actual)} "
        f"({100 * sum(actual) / len(answers):.1f}%)"
    )
    detectors: dict[str, Callable[[], list[bool]]] = {
        "refusal patterns (window 2, default)": lambda: detector_flags(
            {"type": "refusal"}, answers
        ),
        "refusal patterns (window 1)": lambda: detector_flags(
            {"type": "refusal", "window": 1}, answers
        ),
        "refusal patterns (window 5)": lambda: detector_flags(
            {"type": "refusal", "window": 5}, answers
        ),
    }
    print("\n| detector's success vs majority 'not acceptable' | n | TP / FP / FN | precision "
          "| recall | F1 [95% CI] |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    refusals = {}
    for name, run in detectors.items():
        flagged = run()
        refusals[name] = flagged.count(False)
        interval = f1_interval(flagged, actual, resamples=args.bootstrap, seed=args.seed)
        print(_row(name, scores(flagged, actual), interval))
    for name, flagged in baselines(answers).items():
        interval = f1_interval(flagged, actual, resamples=args.bootstrap, seed=args.seed)
        print(_row(f"baseline: {name}", scores(flagged, actual), interval))
    for k, s in annotator_ceiling(answers).items():
        who = "the three pooled" if k == "all" else f"annotator {k}"
        print(_row(f"ceiling: {who} vs the other two where they agree", s))
    name, precision, recall, f1 = PYRIT
    print(f"| {name} | — | — | {precision:.3f} | {recall:.3f} | {f1:.3f} |")
    for kind in SPECS:
        if kind != "refusal":
            why = NOT_MEASURED.get(kind, "no entry in this benchmark yet")
            print(f"| {kind}: not measured ({why}) | — | — | — | — | — |")
    print()
    for name, count in refusals.items():
        print(f"{name}: {count} of {len(answers)} answers read as refusals")
    print(
        f"\nbootstrap {args.bootstrap}, seed {args.seed}; wall {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
