"""Scoring prompts from per-choice log-likelihoods: per-document samples and task metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from haechi.evaluate.chat_format import ChatFormat
from haechi.evaluate.filters import apply_filter, strip_reasoning
from haechi.evaluate.instructions import Verdicts, follow, instructions_of
from haechi.evaluate.metrics import (
    AGGREGATIONS,
    METRICS,
    ChoiceMetric,
    CorpusMetric,
    GenerationMetric,
    InstructionMetric,
    corpus_score,
    document_score,
    pick,
)
from haechi.evaluate.plan import TaskPlan
from haechi.evaluate.stats import Aggregate, combine
from haechi.models.base import (
    ChatMessage,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
)
from haechi.tasks.spec import GroupSpec, TaskSpec

if TYPE_CHECKING:
    from haechi.evaluate.judged import JudgedSample


@dataclass(frozen=True)
class Sample:
    """One scored multiple-choice document, as written to ``samples_<task>.jsonl``."""

    doc_id: int
    target: int
    loglikelihoods: tuple[float, ...]
    n_tokens: tuple[int, ...]
    is_greedy: tuple[bool, ...]
    values: dict[str, float]
    prediction: int
    prompt_hash: str
    fewshot_ids: tuple[int, ...]
    prompt: str = ""  # the context (few-shot examples included) the choices continue
    choices: tuple[str, ...] = ()

    def record(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "target": self.target,
            "prompt": self.prompt,
            "choices": list(self.choices),
            "loglikelihoods": list(self.loglikelihoods),
            "n_tokens": list(self.n_tokens),
            "is_greedy": list(self.is_greedy),
            "metrics": self.values,
            "prediction": self.prediction,
            "prompt_hash": self.prompt_hash,
            "fewshot_ids": list(self.fewshot_ids),
        }


@dataclass(frozen=True)
class GenerationSample:
    """One scored generation document: the raw answer, what each filter kept and, for a
    task with verifiable instructions, which ones each filtered answer follows."""

    doc_id: int
    answer: str
    response: str
    filtered: dict[str, str]
    values: dict[str, float]
    prompt_hash: str
    fewshot_ids: tuple[int, ...]
    completion_tokens: int = 0  # every generated token, reasoning included
    reply: str | None = None  # the response after its reasoning (``think_end_token``)
    prompt: str = ""
    followed: dict[str, Verdicts] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        record: dict[str, object] = {
            "doc_id": self.doc_id,
            "target": self.answer,
            "prompt": self.prompt,
            "response": self.response,
            "filtered": self.filtered,
            "metrics": self.values,
            "prompt_hash": self.prompt_hash,
            "fewshot_ids": list(self.fewshot_ids),
            "completion_tokens": self.completion_tokens,
        }
        if self.reply is not None:
            record["reply"] = self.reply
        if self.followed:
            record["followed"] = {name: v.record() for name, v in self.followed.items()}
        return record


@dataclass(frozen=True)
class TaskScore:
    """Metrics of one plan (a task or a subtask)."""

    plan: TaskPlan
    metrics: dict[str, Aggregate]
    samples: Sequence[Sample | GenerationSample | JudgedSample]


@dataclass(frozen=True)
class Summary:
    """A reported task: a plain task, or a task aggregated over its subtasks."""

    name: str
    metrics: dict[str, Aggregate]
    primary_metric: str
    n_shot: int
    subtasks: tuple[str, ...] = ()

    @property
    def primary(self) -> Aggregate:
        return self.metrics[self.primary_metric]


def requests_for(plan: TaskPlan) -> list[LoglikelihoodRequest]:
    """One request per (document, choice), in document order."""
    return [LoglikelihoodRequest(c, x) for p in plan.prompts for c, x in p.pairs]


def score_task(
    plan: TaskPlan, results: Sequence[LoglikelihoodResult], *, bootstrap_iters: int
) -> TaskScore:
    """Metrics of a plan from its requests' results (in ``requests_for`` order); corpus
    metrics' stderrs bootstrap ``bootstrap_iters`` resamples."""
    per_document = {
        name: metric
        for name in plan.spec.metrics
        if isinstance(metric := METRICS[name], ChoiceMetric)
    }
    samples, offset = [], 0
    for prompt in plan.prompts:
        chunk = results[offset : offset + len(prompt.choices)]
        offset += len(prompt.choices)
        lls = tuple(r.logprob for r in chunk)
        tokens = tuple(r.n_tokens for r in chunk)
        samples.append(
            Sample(
                doc_id=prompt.doc_id,
                target=prompt.target,
                loglikelihoods=lls,
                n_tokens=tokens,
                is_greedy=tuple(r.is_greedy for r in chunk),
                values={n: m.value(prompt, lls, tokens) for n, m in per_document.items()},
                prediction=pick("acc", lls, prompt.choices, tokens),
                prompt_hash=prompt.prompt_hash,
                fewshot_ids=prompt.fewshot_ids,
                prompt=prompt.context,
                choices=prompt.choices,
            )
        )
    picks, golds = [s.prediction for s in samples], [s.target for s in samples]
    metrics: dict[str, Aggregate] = {}
    for name in plan.spec.metrics:
        metric = METRICS[name]
        if isinstance(metric, CorpusMetric):
            metrics[name] = corpus_score(metric, picks, golds, bootstrap_iters)
        else:
            metrics[name] = document_score(metric, [s.values[name] for s in samples])
    for name in plan.spec.aggregations:
        metrics.update(AGGREGATIONS[name].compute(plan.docs, picks))
    return TaskScore(plan, metrics, samples)


def score_generations(
    plan: TaskPlan, responses: Sequence[Generation], think_end_token: str | None = None
) -> TaskScore:
    """Each generation metric per filter pipeline (``<metric>,<filter>``) from each
    document's generated text (after its reasoning, with a ``think_end_token``); instruction
    metrics from the instructions each document carries (the spec's processor has checked
    them when the documents loaded)."""
    spec = plan.spec
    scorers = {
        name: metric
        for name in spec.metrics
        if isinstance(metric := METRICS[name], GenerationMetric)
    }
    followers = {
        name: metric
        for name in spec.metrics
        if isinstance(metric := METRICS[name], InstructionMetric)
    }
    samples = []
    for prompt, doc, response in zip(plan.prompts, plan.docs, responses, strict=True):
        texts = [strip_reasoning(t, think_end_token, spec.generation.until) for t in response.texts]
        filtered = {name: apply_filter(steps, texts) for name, steps in spec.filters.items()}
        values = {
            f"{name},{filter_name}": metric.score(answer, prompt.answer, spec.exact_match)
            for name, metric in scorers.items()
            for filter_name, answer in filtered.items()
        }
        followed = {}
        if followers:
            instructions = instructions_of(doc.fields)
            followed = {name: follow(answer, instructions) for name, answer in filtered.items()}
        for name, metric in followers.items():
            for filter_name, verdicts in followed.items():
                items = metric.items(verdicts)
                values[f"{name},{filter_name}"] = sum(items) / len(items)
        samples.append(
            GenerationSample(
                prompt.doc_id, prompt.answer, response.text, filtered, values,
                prompt.prompt_hash, prompt.fewshot_ids, response.completion_tokens,
                texts[0] if think_end_token else None, prompt.context, followed,
            )
        )  # fmt: skip
    metrics = {}
    for key in samples[0].values:
        name, _, filter_name = key.partition(",")
        if name in followers:
            metrics[key] = followers[name].aggregate([s.followed[filter_name] for s in samples])
        else:
            metrics[key] = document_score(scorers[name], [s.values[key] for s in samples])
    return TaskScore(plan, metrics, samples)


def generation_requests(
    plan: TaskPlan,
    chat: ChatFormat | None = None,
    *,
    think_end_token: str | None = None,
    max_gen_toks: int | None = None,
) -> list[GenerationRequest]:
    """One greedy (or sampled, per the spec) generation request per document (see
    ``generation_request``)."""
    return [
        generation_request(
            plan.spec,
            p.context,
            p.messages,
            chat,
            think_end_token=think_end_token,
            max_gen_toks=max_gen_toks,
        )
        for p in plan.prompts
    ]


def generation_request(
    spec: TaskSpec,
    context: str,
    messages: tuple[ChatMessage, ...] | None,
    chat: ChatFormat | None,
    *,
    think_end_token: str | None = None,
    max_gen_toks: int | None = None,
) -> GenerationRequest:
    """The request for one prompt: its text, or its chat messages where the server renders
    the template.

    ``max_gen_toks`` (default: the task's) counts every generated token, reasoning
    included. With a ``think_end_token`` the task's stop strings are not sent (a reasoning
    trace holds "\n\n" often): they cut the answer after the reasoning is stripped, as
    lm-eval's vLLM backend does; a bundled template's end-of-turn strings still stop the
    model.
    """
    gen = spec.generation
    stop = (() if think_end_token else tuple(gen.until)) + (chat.stop if chat else ())
    send_messages = chat is not None and chat.send_messages
    return GenerationRequest(
        prompt=None if send_messages else context,
        messages=messages if send_messages else None,
        max_new_tokens=max_gen_toks or gen.max_gen_toks,
        temperature=gen.temperature,
        stop=stop,
    )


def summarise(scores: Sequence[TaskScore]) -> list[Summary]:
    """Reported tasks in order: subtask scores are combined into their parent task."""
    summaries: list[Summary] = []
    children: dict[str, list[TaskScore]] = {}
    for score in scores:
        plan = score.plan
        if plan.parent is None:
            summaries.append(
                Summary(plan.name, score.metrics, plan.spec.primary_metric, plan.n_shot)
            )
        else:
            if plan.parent not in children:
                children[plan.parent] = []
                summaries.append(Summary(plan.parent, {}, plan.spec.primary_metric, plan.n_shot))
            children[plan.parent].append(score)
    result = []
    for summary in summaries:
        parts = children.get(summary.name)
        if parts:
            how = parts[0].plan.spec.subtask_aggregation
            metrics = {m: combine([p.metrics[m] for p in parts], how) for m in parts[0].metrics}
            summary = Summary(
                summary.name,
                metrics,
                summary.primary_metric,
                summary.n_shot,
                tuple(p.plan.name for p in parts),
            )
        result.append(summary)
    return result


def group_score(group: GroupSpec, summaries: dict[str, Summary]) -> Aggregate:
    """A group's value aggregates its tasks' headline metrics as the group says."""
    return combine([summaries[t].primary for t in group.tasks], group.aggregation)
