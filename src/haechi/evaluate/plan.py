"""Turning a task's documents into prompts: limit, subtasks, few-shot draws, choices."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from haechi.errors import InputError
from haechi.evaluate.config import EvalConfig
from haechi.tasks import Document, DocumentSource
from haechi.tasks.prompts import PLAIN, FewshotSampler, Prompt, PromptStyle, build_prompt
from haechi.tasks.registry import load_documents
from haechi.tasks.spec import TaskSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskPlan:
    """The prompts of one task, or of one subtask (``parent`` set) such as an MMLU subject."""

    spec: TaskSpec
    name: str
    prompts: list[Prompt]
    n_shot: int
    n_original: int
    parent: str | None = None
    docs: tuple[Document, ...] = ()  # the evaluated documents, aligned with prompts


def plan_task(
    spec: TaskSpec, config: EvalConfig, source: DocumentSource, style: PromptStyle = PLAIN
) -> list[TaskPlan]:
    """Load the evaluated split and build every prompt; one plan per subtask when the spec
    partitions its documents (``subtask_field``), else one plan.

    ``limit`` takes the first N documents of each (sub)task. When the few-shot pool is
    smaller than asked (bundled samples hold a handful), all of it is used and the recorded
    n-shot says so. ``style`` is the system instruction and chat template, if any.
    """
    docs = load_documents(spec, spec.dataset.test_split, source)
    if not docs:
        raise InputError(f"task {spec.task!r} has no documents", field="tasks")
    k = spec.num_fewshot if config.num_fewshot is None else config.num_fewshot
    fewshot_split = spec.dataset.fewshot_split or spec.dataset.test_split
    same_split = fewshot_split == spec.dataset.test_split
    pool = docs if same_split else load_documents(spec, fewshot_split, source) if k else []
    if spec.subtask_field is None:
        return [_plan(spec, spec.task, docs, pool, k, same_split, config, style, None)]
    docs_by, pool_by = _partition(spec, docs), _partition(spec, pool)
    return [
        _plan(
            spec,
            f"{spec.task}_{key}",
            part,
            pool_by.get(key, []),
            k,
            same_split,
            config,
            style,
            spec.task,
        )
        for key, part in docs_by.items()
    ]


def _partition(spec: TaskSpec, docs: Sequence[Document]) -> dict[str, list[Document]]:
    field = spec.subtask_field or ""
    parts: dict[str, list[Document]] = {}
    for doc in docs:
        if field not in doc.fields:
            raise InputError(f"document lacks field {field!r}", file=doc.origin, field=field)
        parts.setdefault(str(doc.fields[field]), []).append(doc)
    # doc_id stays the index in the whole split, so samples point back into the file
    return dict(sorted(parts.items()))


def _plan(
    spec: TaskSpec,
    name: str,
    docs: list[Document],
    pool: list[Document],
    k: int,
    same_split: bool,
    config: EvalConfig,
    style: PromptStyle,
    parent: str | None,
) -> TaskPlan:
    available = len(pool) - (1 if same_split else 0)
    if k > available:
        # expected with the handful of bundled samples; a surprise with real data
        level = logging.INFO if config.samples and config.data_dir is None else logging.WARNING
        log.log(level, "%s: %d-shot asked, %d few-shot documents available", name, k, available)
        k = max(available, 0)
    sampler = FewshotSampler(
        spec, pool, same_split=same_split, seed=config.seed, mode=config.fewshot_sampling
    )
    evaluated = docs[: config.limit] if config.limit is not None else docs
    prompts = [build_prompt(spec, doc, sampler.draw(doc, k), style) for doc in evaluated]
    return TaskPlan(spec, name, prompts, k, len(docs), parent, tuple(evaluated))
