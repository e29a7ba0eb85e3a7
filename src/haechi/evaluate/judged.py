"""Judged multi-turn tasks (LogicKor-style): the model answers each user turn with its own
earlier answers in the conversation, a judge model grades every answer, and, with a
baseline, compares it with the baseline's answer in both orders.

Every call goes through the response cache (model and baseline turns by turn, the judge's
forms and pairwise prompts), so a killed run resumes without asking anything twice.

- Single-answer grading is ``haechi judge geval``'s form filling (``judge.score_items``)
  with the task's criterion: the source is the conversation up to the question judged,
  the reference that turn's, the output the answer. A verdict without a score (greedy or
  sampled answers that hold no number in range) is recorded with its text, counted in
  ``judge_unparsed`` and left out of the scores.
- Pairwise: ``judge.pairwise_many``; a turn is a win only when both orders prefer the
  model, a loss only when both prefer the baseline, else a tie. For a later turn each
  side's answers so far are shown, the one judged last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haechi.errors import InputError
from haechi.evaluate.cache import ResponseCache
from haechi.evaluate.chat_format import ChatFormat, chat_format, prompt_style
from haechi.evaluate.config import EvalConfig
from haechi.evaluate.execute import run_generation
from haechi.evaluate.filters import strip_reasoning
from haechi.evaluate.metrics import METRICS, JudgeMetric, document_score
from haechi.evaluate.plan import TaskPlan
from haechi.evaluate.scoring import TaskScore, generation_request
from haechi.evaluate.stats import Aggregate
from haechi.judge.criteria import Criterion, resolve_criteria
from haechi.judge.geval import (
    CriterionScore,
    Method,
    PairVerdict,
    evaluation_steps,
    pairwise_many,
    score_items,
)
from haechi.judge.prompts import JudgeItem, conversation_source, numbered_answers
from haechi.models.base import LanguageModel
from haechi.tasks.prompts import Prompt, PromptStyle, next_turn
from haechi.tasks.spec import TaskSpec


@dataclass(frozen=True)
class Judging:
    """Who grades a run's judged tasks: ``judge`` scores every answer (``method`` as in
    ``haechi judge geval``: greedy, sampling or logprobs; ``chat``: each form sent as a
    user message); with a ``baseline`` model the judge also compares the model's answers
    with the baseline's."""

    judge: LanguageModel
    baseline: LanguageModel | None = None
    method: Method = "greedy"
    chat: bool = False


def task_criteria(specs: Sequence[TaskSpec]) -> dict[str, Criterion]:
    """Each judged task's criterion, by task name (resolved before anything runs)."""
    return {
        s.task: resolve_criteria([s.judge_criterion or ""])[0]
        for s in specs
        if s.output_type == "judged"
    }


def judging_record(judging: Judging | None, criteria: dict[str, Criterion]) -> dict[str, Any]:
    """What a run records of its judging (and its resume key hashes): the judge's spec,
    fingerprint and configuration, the method, each criterion with its steps (pinned in
    the criterion, else generated once by this judge) and their hash, and the baseline."""
    if judging is None:
        tasks = ", ".join(criteria)
        raise InputError(f"{tasks} is graded by a judge model", field="judge", hint="--judge SPEC")
    judge = judging.judge
    steps = evaluation_steps(judge, list({c.name: c for c in criteria.values()}.values()))
    baseline = judging.baseline
    return {
        "judge": judge.name,
        "judge_fingerprint": judge.fingerprint,
        "judge_config": judge.describe(),
        "method": judging.method,
        "chat": judging.chat,
        "criteria": {
            c.name: {
                "digest": c.digest(),
                "steps": steps[c.name],
                "steps_hash": hashlib.sha256(steps[c.name].encode("utf-8")).hexdigest()[:16],
                "tasks": sorted(t for t, tc in criteria.items() if tc.name == c.name),
            }
            for c in criteria.values()
        },
        "baseline": None
        if baseline is None
        else {
            "model": baseline.name,
            "fingerprint": baseline.fingerprint,
            "config": baseline.describe(),
        },
    }


@dataclass(frozen=True)
class TurnVerdict:
    """One turn of a judged conversation: the question, its reference, the answer (after
    any reasoning), the judge's raw score (``None``: unparsed) with its answers, and the
    baseline's answer and the pairwise verdict when there is a baseline."""

    question: str
    reference: str | None
    answer: str
    score: CriterionScore
    baseline_answer: str | None = None
    pair: PairVerdict | None = None

    def record(self) -> dict[str, object]:
        record: dict[str, object] = {
            "question": self.question,
            "reference": self.reference,
            "answer": self.answer,
            "judge": self.score.record(),
        }
        if self.pair is not None:
            record["baseline_answer"] = self.baseline_answer
            record["pairwise"] = {"winner": self.pair.winner, "orders": list(self.pair.orders)}
        return record


@dataclass(frozen=True)
class JudgedSample:
    """One judged conversation, as written to ``samples_<task>.jsonl``."""

    doc_id: int
    turns: tuple[TurnVerdict, ...]
    values: dict[str, float]
    prompt_hash: str
    prompt: str = ""
    completion_tokens: int = 0

    def record(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "prompt": self.prompt,
            # the answers in one text, for readers of generation samples (the web's browser)
            "response": "\n\n".join(f"[{n}] {t.answer}" for n, t in enumerate(self.turns, 1)),
            "turns": [t.record() for t in self.turns],
            "metrics": self.values,
            "prompt_hash": self.prompt_hash,
            "completion_tokens": self.completion_tokens,
        }


@dataclass(frozen=True)
class _Answers:
    texts: list[list[str]]  # per prompt, per turn
    completion_tokens: list[int]
    requests: int
    hits: int


def score_judged(
    model: LanguageModel,
    plans: Sequence[TaskPlan],
    judging: Judging,
    criteria: dict[str, Criterion],
    steps: dict[str, str],
    config: EvalConfig,
    chat: ChatFormat | None,
    cache: ResponseCache | None,
    progress: bool,
) -> tuple[list[TaskScore], dict[str, int]]:
    """Converse, judge and score every judged plan; counts of the requests made."""
    prompts = [(plan, p) for plan in plans for p in plan.prompts]
    answers = _converse(model, prompts, chat, prompt_style(chat, config), config, cache, progress)
    baseline = None
    if judging.baseline is not None:
        b_chat = chat_format(judging.baseline, config)
        b_style = prompt_style(b_chat, config)
        baseline = _converse(judging.baseline, prompts, b_chat, b_style, config, cache, progress)
    verdicts = _judge(judging, prompts, answers, baseline, criteria, steps, cache, progress)
    results, offset = [], 0
    for plan in plans:
        c = criteria[plan.spec.task]
        samples = []
        for i, prompt in enumerate(plan.prompts, start=offset):
            turns = tuple(verdicts[(i, t)] for t in range(len(prompt.turns)))
            samples.append(
                JudgedSample(
                    prompt.doc_id, turns, _document_values(turns, c), prompt.prompt_hash,
                    prompt.context, answers.completion_tokens[i],
                )
            )  # fmt: skip
        offset += len(plan.prompts)
        results.append(TaskScore(plan, _metrics(plan.spec, samples), samples))
    counts = {
        "generation_requests": answers.requests + (baseline.requests if baseline else 0),
        "cached_requests": answers.hits + (baseline.hits if baseline else 0),
        # a form per turn, and two orders per turn with a baseline
        "judge_requests": len(verdicts) * (3 if baseline else 1),
    }
    return results, counts


def _judge(
    judging: Judging,
    prompts: Sequence[tuple[TaskPlan, Prompt]],
    answers: _Answers,
    baseline: _Answers | None,
    criteria: dict[str, Criterion],
    steps: dict[str, str],
    cache: ResponseCache | None,
    progress: bool,
) -> dict[tuple[int, int], TurnVerdict]:
    """Every (prompt, turn) graded, and compared with the baseline's when there is one:
    one batch of forms (and one of pairwise prompts) per criterion."""
    by_criterion: dict[str, list[tuple[int, int]]] = {}
    for i, (plan, prompt) in enumerate(prompts):
        turns = [(i, t) for t in range(len(prompt.turns))]
        by_criterion.setdefault(criteria[plan.spec.task].name, []).extend(turns)
    known = {c.name: c for c in criteria.values()}
    verdicts = {}
    for name, keys in by_criterion.items():
        c = known[name]
        forms = [
            JudgeItem(
                id=f"{i}:{t}",
                source=conversation_source(c, prompts[i][1].turns[: t + 1], answers.texts[i][:t]),
                output=answers.texts[i][t],
                reference=prompts[i][1].references[t],
            )
            for i, t in keys
        ]
        rows = score_items(
            judging.judge, forms, [c], steps, method=judging.method, cache=cache,
            progress=progress, chat=judging.chat,
        )  # fmt: skip
        pairs: list[PairVerdict | None] = [None] * len(keys)
        if baseline is not None:
            shown = [
                (
                    conversation_source(c, prompts[i][1].turns[: t + 1], ()),
                    numbered_answers(c, answers.texts[i][: t + 1]),
                    numbered_answers(c, baseline.texts[i][: t + 1]),
                )
                for i, t in keys
            ]
            pairs = list(
                pairwise_many(
                    judging.judge,
                    c,
                    steps[name],
                    shown,
                    cache=cache,
                    progress=progress,
                    chat=judging.chat,
                )
            )
        for (i, t), row, pair in zip(keys, rows, pairs, strict=True):
            prompt = prompts[i][1]
            verdicts[(i, t)] = TurnVerdict(
                prompt.turns[t],
                prompt.references[t],
                answers.texts[i][t],
                row[name],
                baseline.texts[i][t] if baseline is not None else None,
                pair,
            )
    return verdicts


def _converse(
    model: LanguageModel,
    prompts: Sequence[tuple[TaskPlan, Prompt]],
    chat: ChatFormat | None,
    style: PromptStyle,
    config: EvalConfig,
    cache: ResponseCache | None,
    progress: bool,
) -> _Answers:
    """Every conversation turn by turn: turn k of all of them in one cached batch, each
    prompt holding the model's own earlier answers."""
    texts: list[list[str]] = [[] for _ in prompts]
    tokens = [0] * len(prompts)
    requests = hits = 0
    for turn in range(max(len(p.turns) for _, p in prompts)):
        active = [i for i, (_, p) in enumerate(prompts) if len(p.turns) > turn]
        batch = []
        for i in active:
            plan, prompt = prompts[i]
            context, messages = next_turn(prompt, texts[i], style, plan.spec.fewshot_delimiter)
            batch.append(
                generation_request(
                    plan.spec,
                    context,
                    messages,
                    chat,
                    think_end_token=config.think_end_token,
                    max_gen_toks=config.max_gen_toks,
                )
            )
        generations, cached = run_generation(
            model, batch, chunk=config.chunk_size, cache=cache, progress=progress
        )
        requests, hits = requests + len(batch), hits + cached
        for i, generation in zip(active, generations, strict=True):
            until = prompts[i][0].spec.generation.until
            texts[i].append(strip_reasoning(generation.text, config.think_end_token, until))
            tokens[i] += generation.completion_tokens
    return _Answers(texts, tokens, requests, hits)


def _document_values(turns: Sequence[TurnVerdict], c: Criterion) -> dict[str, float]:
    """Per-question numbers kept in the sample: the score of each scored turn and their
    mean, each divided by the criterion's maximum."""
    scored = {n: v.score.score for n, v in enumerate(turns, start=1) if v.score.score is not None}
    values = {f"judge_score_turn{n}": s / c.score_max for n, s in scored.items()}
    if scored:
        values["judge_score"] = sum(scored.values()) / len(scored) / c.score_max
    return values


def _metrics(spec: TaskSpec, samples: Sequence[JudgedSample]) -> dict[str, Aggregate]:
    """The spec's judge metrics over the samples, each with its mean stderr: scores over
    the questions with a score, the rest over every turn (pairwise ones only where there
    was a baseline)."""
    metrics = {}
    for name in spec.metrics:
        metric = METRICS[name]
        assert isinstance(metric, JudgeMetric)  # the spec checked the kinds
        if metric.kind == "score":
            values = [s.values[name] for s in samples if name in s.values]
        elif metric.kind == "unparsed":
            values = [float(t.score.score is None) for s in samples for t in s.turns]
        else:
            pairs = [t.pair for s in samples for t in s.turns if t.pair is not None]
            if not pairs:
                continue
            want = {"win": "A", "tie": "tie", "loss": "B"}[metric.kind]
            values = [float(p.winner == want) for p in pairs]
        metrics[name] = document_score(metric, values)
    return metrics
