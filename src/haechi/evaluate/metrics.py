"""Every metric, declared once: the names a task spec may use, how the scorer computes each,
and what the report says about it (what it measures, which way is better, its stderr).

``acc`` picks the choice with the highest log-likelihood; the normalised variants divide it
by the choice's length first: ``acc_norm`` in characters (as lm-evaluation-harness does),
``acc_bytes`` in UTF-8 bytes, ``acc_tokens`` in continuation tokens. ``mc1`` is ``acc`` on
a task whose first choice is the true one; ``mc2`` is the probability mass the model puts
on the true choices, normalised over all choices (TruthfulQA). ``f1`` is the macro F1 of
the ``acc`` predictions over the corpus; ``exact_match`` compares a generation's filtered
answer with the reference; the four IFEval accuracies check the instructions a document
carries (``haechi.evaluate.instructions``) on its filtered answer. A spec's
``aggregations`` (KoBBQ) add several task-level numbers.

Directions: ``higher`` or ``lower`` is better, or ``zero`` (a signed score such as a bias,
0 best, the sign says which way it leans); results.json's lm-eval field
``higher_is_better`` is then ``null``, as neither direction is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from haechi.evaluate.aggregations import kobbq
from haechi.evaluate.filters import exact_match
from haechi.evaluate.stats import Aggregate, bootstrap_stderr, mean_with_stderr

if TYPE_CHECKING:
    from haechi.documents import Document
    from haechi.evaluate.instructions import Verdicts
    from haechi.tasks.prompts import Prompt
    from haechi.tasks.spec import MatchOptions

Direction = Literal["higher", "lower", "zero"]
StderrMethod = Literal["mean", "bootstrap", "none"]
Normaliser = Callable[[str, int], float]  # (choice text, its continuation tokens) → divisor


@dataclass(frozen=True, kw_only=True)
class Reported:
    """What the report says about a number: ``note`` (what it measures, how it normalises),
    ``better`` (its best direction) and ``stderr`` (``mean``: sample std / √n over the
    documents; ``bootstrap``: over resampled corpora; ``none``: not reported)."""

    note: str
    better: Direction = "higher"
    stderr: StderrMethod = "mean"

    @property
    def higher_is_better(self) -> bool | None:
        """lm-eval's field: ``None`` when neither direction is better."""
        return {"higher": True, "lower": False, "zero": None}[self.better]


@dataclass(frozen=True, kw_only=True)
class ChoiceMetric(Reported):
    """Per document of a multiple-choice task, averaged over the documents: with a
    ``normaliser``, 1 when the choice of best log-likelihood / normaliser is the target,
    else ``score(prompt, loglikelihoods, n_tokens)``. ``needs_labels``: the spec must give
    ``doc_to_labels``."""

    normaliser: Normaliser | None = None
    score: Callable[[Prompt, Sequence[float], Sequence[int]], float] | None = None
    needs_labels: bool = False

    def __post_init__(self) -> None:
        if (self.normaliser is None) == (self.score is None):
            raise TypeError("a ChoiceMetric has a normaliser or a score, not both")

    def value(self, prompt: Prompt, lls: Sequence[float], tokens: Sequence[int]) -> float:
        if self.score is not None:
            return self.score(prompt, lls, tokens)
        chosen = _pick(self.normaliser or _unnormalised, lls, prompt.choices, tokens)
        return 1.0 if chosen == prompt.target else 0.0


@dataclass(frozen=True, kw_only=True)
class CorpusMetric(Reported):
    """Over all documents of a multiple-choice task at once, from each one's ``acc`` pick and
    target: ``score`` maps confusion matrices of counts, shape (…, gold, pick), to values,
    so that a batch of resampled corpora is scored in one call."""

    score: Callable[[NDArray[np.int64]], NDArray[np.float64]]
    stderr: StderrMethod = "bootstrap"


@dataclass(frozen=True, kw_only=True)
class GenerationMetric(Reported):
    """Per document of a generate_until task and per filter, averaged over the documents:
    ``score(filtered answer, reference, the task's match options)``."""

    score: Callable[[str, str, MatchOptions], float]


@dataclass(frozen=True, kw_only=True)
class InstructionMetric(Reported):
    """Per filter of a generate_until task whose documents carry verifiable instructions
    (IFEval's ``instruction_id_list`` and ``kwargs``): the share followed, as written or
    ``loose``ly (IFEval's loose variants of the answer also count). ``per_instruction``:
    over every instruction of every document (``n`` counts instructions); else over
    documents, each 1 when it follows all of its instructions."""

    loose: bool
    per_instruction: bool

    def items(self, verdicts: Verdicts) -> tuple[bool, ...]:
        """What one document adds: each instruction's verdict, or whether all hold."""
        followed = verdicts.loose if self.loose else verdicts.strict
        return followed if self.per_instruction else (all(followed),)

    def aggregate(self, verdicts: Sequence[Verdicts]) -> Aggregate:
        return document_score(self, [float(v) for one in verdicts for v in self.items(one)])


JudgeKind = Literal["score", "unparsed", "win", "tie", "loss"]


@dataclass(frozen=True, kw_only=True)
class JudgeMetric(Reported):
    """Of a ``judged`` task (``haechi.evaluate.judged``), from the judge's verdicts:
    ``score`` the judge's score ÷ its maximum (a 1–10 score of 7 is 0.7), per question the
    mean over its turns (or the one ``turn``, counted from 1); ``unparsed`` the share of
    verdicts without a score; ``win``/``tie``/``loss`` the share of turns where both
    orders of the pairwise comparison with the baseline prefer the model / disagree /
    prefer the baseline (reported only with a baseline)."""

    kind: JudgeKind
    turn: int | None = None


@dataclass(frozen=True, kw_only=True)
class Aggregation:
    """A spec's ``aggregations`` entry: several task-level numbers computed from every
    document and its ``acc`` pick; ``reports`` declares each of them."""

    compute: Callable[[Sequence[Document], Sequence[int]], dict[str, Aggregate]]
    reports: dict[str, Reported]


Metric = ChoiceMetric | CorpusMetric | GenerationMetric | InstructionMetric | JudgeMetric


def _unnormalised(choice: str, tokens: int) -> float:
    return 1.0


def first_argmax(values: Sequence[float]) -> int:
    """Index of the largest value; ties go to the first, as numpy's argmax does."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def _pick(
    norm: Normaliser, lls: Sequence[float], choices: Sequence[str], tokens: Sequence[int]
) -> int:
    return first_argmax([ll / norm(c, t) for ll, c, t in zip(lls, choices, tokens, strict=True)])


def pick(
    metric: str, loglikelihoods: Sequence[float], choices: Sequence[str], n_tokens: Sequence[int]
) -> int:
    """The choice a normalised-accuracy metric picks: the best log-likelihood after its
    normalisation."""
    definition = METRICS[metric]
    if not isinstance(definition, ChoiceMetric) or definition.normaliser is None:
        raise ValueError(f"metric {metric!r} does not pick a choice")
    return _pick(definition.normaliser, loglikelihoods, choices, n_tokens)


def true_mass(loglikelihoods: Sequence[float], labels: Sequence[int]) -> float:
    """Normalised probability of the choices labelled 1 (computed stably in float64)."""
    top = max(loglikelihoods)
    weights = [math.exp(ll - top) for ll in loglikelihoods]
    return sum(w for w, label in zip(weights, labels, strict=True) if label == 1) / sum(weights)


def confusion(picks: Sequence[int], golds: Sequence[int]) -> NDArray[np.int64]:
    """Counts of (gold, pick) pairs over the classes 0 … the largest index seen."""
    k = max(max(picks), max(golds)) + 1
    codes = np.asarray(golds, dtype=np.int64) * k + np.asarray(picks, dtype=np.int64)
    return np.bincount(codes, minlength=k * k).reshape(k, k)


def macro_f1(counts: NDArray[np.int64]) -> NDArray[np.float64]:
    """Unweighted mean over classes (those seen as gold or picked) of per-class F1, for
    confusion matrices of shape (…, gold, pick)."""
    tp = np.diagonal(counts, axis1=-2, axis2=-1)
    seen = counts.sum(axis=-1) + counts.sum(axis=-2)  # = 2·tp + fp + fn
    f1 = np.where(tp > 0, 2 * tp / np.maximum(seen, 1), 0.0)
    return np.asarray((f1 * (seen > 0)).sum(axis=-1) / (seen > 0).sum(axis=-1))


def document_score(metric: Reported, values: Sequence[float]) -> Aggregate:
    """A per-document metric's mean over the documents, with its stderr as declared."""
    aggregate = mean_with_stderr(values)
    return aggregate if metric.stderr == "mean" else Aggregate(aggregate.value, None, aggregate.n)


def corpus_score(
    metric: CorpusMetric, picks: Sequence[int], golds: Sequence[int], bootstrap_iters: int
) -> Aggregate:
    """A corpus metric's value, with its bootstrap stderr over ``bootstrap_iters`` resamples
    of the documents (seeded as lm-eval's; see ``bootstrap_stderr``)."""
    counts = confusion(picks, golds)
    k = counts.shape[0]
    stderr = None
    if metric.stderr == "bootstrap":
        codes = np.asarray(golds, dtype=np.int64) * k + np.asarray(picks, dtype=np.int64)
        stderr = bootstrap_stderr(
            lambda batch: metric.score(batch.reshape(-1, k, k)), codes, k * k, bootstrap_iters
        )
    return Aggregate(float(metric.score(counts)), stderr, len(picks))


METRICS: dict[str, Metric] = {
    "acc": ChoiceMetric(note="unnormalised log-likelihood", normaliser=_unnormalised),
    "acc_norm": ChoiceMetric(
        note="log-likelihood / choice length in characters",
        normaliser=lambda choice, tokens: float(len(choice)),
    ),
    "acc_bytes": ChoiceMetric(
        note="log-likelihood / choice length in UTF-8 bytes",
        normaliser=lambda choice, tokens: float(len(choice.encode("utf-8"))),
    ),
    "acc_tokens": ChoiceMetric(
        note="log-likelihood / continuation tokens",
        normaliser=lambda choice, tokens: float(tokens),
    ),
    "mc1": ChoiceMetric(
        note="unnormalised log-likelihood, first choice true", normaliser=_unnormalised
    ),
    "mc2": ChoiceMetric(
        note="probability mass on the true choices",
        score=lambda prompt, lls, tokens: true_mass(lls, prompt.labels or ()),
        needs_labels=True,
    ),
    "f1": CorpusMetric(note="macro F1 of the unnormalised picks", score=macro_f1),
    "exact_match": GenerationMetric(
        note="filtered answer equals the reference after the task's normalisations",
        score=exact_match,
    ),
    "prompt_level_strict_acc": InstructionMetric(
        note="documents whose every instruction the answer follows as written",
        loose=False,
        per_instruction=False,
    ),
    "inst_level_strict_acc": InstructionMetric(
        note="instructions followed as written, over all documents' instructions",
        loose=False,
        per_instruction=True,
        stderr="none",  # instructions of one document are not independent draws
    ),
    "prompt_level_loose_acc": InstructionMetric(
        note="documents whose every instruction the answer or a loose variant follows",
        loose=True,
        per_instruction=False,
    ),
    "inst_level_loose_acc": InstructionMetric(
        note="instructions the answer or a loose variant follows, over all instructions",
        loose=True,
        per_instruction=True,
        stderr="none",
    ),
    "judge_score": JudgeMetric(
        note="judge's score / its maximum, per question the mean over its turns", kind="score"
    ),
    "judge_score_turn1": JudgeMetric(
        note="judge's score / its maximum of the first turn", kind="score", turn=1
    ),
    "judge_score_turn2": JudgeMetric(
        note="judge's score / its maximum of the second turn (asked after the model's "
        "own first answer)",
        kind="score",
        turn=2,
    ),
    "judge_unparsed": JudgeMetric(
        note="verdicts without a score (left out of the scores)", kind="unparsed", better="lower"
    ),
    "win_rate": JudgeMetric(
        note="turns both orders of the pairwise judging prefer over the baseline", kind="win"
    ),
    "tie_rate": JudgeMetric(
        note="turns where the two orders of the pairwise judging disagree",
        kind="tie",
        better="lower",
    ),
    "loss_rate": JudgeMetric(
        note="turns both orders of the pairwise judging prefer the baseline for",
        kind="loss",
        better="lower",
    ),
}

AGGREGATIONS: dict[str, Aggregation] = {
    "kobbq": Aggregation(
        compute=kobbq,
        reports={
            "acc_amb": Reported(note="accuracy in ambiguous contexts"),
            "acc_dis": Reported(note="accuracy in disambiguated contexts"),
            "diff_bias_amb": Reported(
                note="biased minus counter-biased answers in ambiguous contexts",
                better="zero",
            ),
            "diff_bias_dis": Reported(
                note="accuracy where the context fits the stereotype minus where it does not",
                better="zero",
                stderr="none",
            ),
        },
    ),
}


def output_type(metric: Metric) -> Literal["multiple_choice", "generate_until", "judged"]:
    """The kind of task a metric scores."""
    if isinstance(metric, JudgeMetric):
        return "judged"
    generative = isinstance(metric, GenerationMetric | InstructionMetric)
    return "generate_until" if generative else "multiple_choice"


def definition(reported: str) -> Reported:
    """The declaration of a reported name: a metric (``exact_match,<filter>`` is
    ``exact_match``) or a number of an aggregation."""
    base = reported.partition(",")[0]
    if base in METRICS:
        return METRICS[base]
    for aggregation in AGGREGATIONS.values():
        if reported in aggregation.reports:
            return aggregation.reports[reported]
    raise KeyError(reported)
