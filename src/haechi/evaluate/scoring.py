"""Scoring prompts from per-choice log-likelihoods: per-document samples and task metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from haechi.evaluate.metrics import Aggregate, choice_correct, mean_with_stderr
from haechi.evaluate.plan import TaskPlan
from haechi.models.base import LoglikelihoodRequest, LoglikelihoodResult


@dataclass(frozen=True)
class Sample:
    """One scored document, as written to ``samples_<task>.jsonl``."""

    doc_id: int
    target: int
    loglikelihoods: tuple[float, ...]
    n_tokens: tuple[int, ...]
    is_greedy: tuple[bool, ...]
    correct: dict[str, float]
    prompt_hash: str
    fewshot_ids: tuple[int, ...]


@dataclass(frozen=True)
class TaskScore:
    plan: TaskPlan
    metrics: dict[str, Aggregate]
    samples: list[Sample]

    @property
    def primary(self) -> Aggregate:
        return self.metrics[self.plan.spec.primary_metric]


def requests_for(plan: TaskPlan) -> list[LoglikelihoodRequest]:
    """One request per (document, choice): the context and ``target_delimiter + choice``."""
    delimiter = plan.spec.target_delimiter
    return [
        LoglikelihoodRequest(p.context, delimiter + choice)
        for p in plan.prompts
        for choice in p.choices
    ]


def score_task(plan: TaskPlan, results: Sequence[LoglikelihoodResult]) -> TaskScore:
    """Metrics of a task from its requests' results (in ``requests_for`` order)."""
    samples, offset = [], 0
    for prompt in plan.prompts:
        chunk = results[offset : offset + len(prompt.choices)]
        offset += len(prompt.choices)
        lls = tuple(r.logprob for r in chunk)
        tokens = tuple(r.n_tokens for r in chunk)
        correct: dict[str, float] = {
            m: choice_correct(m, lls, prompt.choices, tokens, prompt.target)
            for m in plan.spec.metrics
        }
        samples.append(
            Sample(
                doc_id=prompt.doc_id,
                target=prompt.target,
                loglikelihoods=lls,
                n_tokens=tokens,
                is_greedy=tuple(r.is_greedy for r in chunk),
                correct=correct,
                prompt_hash=prompt.prompt_hash,
                fewshot_ids=prompt.fewshot_ids,
            )
        )
    metrics: dict[str, Aggregate] = {
        m: mean_with_stderr([s.correct[m] for s in samples]) for m in plan.spec.metrics
    }
    return TaskScore(plan, metrics, samples)


def group_score(members: Sequence[TaskScore]) -> Aggregate:
    """A group's value: the plain mean of its members' primary metrics."""
    values = [m.primary.value for m in members]
    return Aggregate(sum(values) / len(values), None, sum(m.primary.n for m in members))
