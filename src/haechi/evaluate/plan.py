"""Turning a task's documents into prompts: limit, few-shot draws, choices, targets."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from haechi.errors import InputError
from haechi.evaluate.config import EvalConfig
from haechi.tasks.documents import DocumentSource
from haechi.tasks.prompts import FewshotSampler, Prompt, build_prompt
from haechi.tasks.registry import load_documents
from haechi.tasks.spec import TaskSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskPlan:
    spec: TaskSpec
    prompts: list[Prompt]
    n_shot: int
    n_original: int


def plan_task(spec: TaskSpec, config: EvalConfig, source: DocumentSource) -> TaskPlan:
    """Load the test split (first ``limit`` documents) and build every prompt.

    When the few-shot pool is smaller than asked (bundled samples hold a handful), all of
    it is used and the recorded n-shot says so.
    """
    all_docs = load_documents(spec, spec.dataset.test_split, source)
    if not all_docs:
        raise InputError(f"task {spec.task!r} has no documents", field="tasks")
    docs = all_docs[: config.limit] if config.limit is not None else all_docs
    k = spec.num_fewshot if config.num_fewshot is None else config.num_fewshot
    fewshot_split = spec.dataset.fewshot_split or spec.dataset.test_split
    same_split = fewshot_split == spec.dataset.test_split
    pool = all_docs if same_split else load_documents(spec, fewshot_split, source) if k else []
    available = len(pool) - (1 if same_split else 0)
    if k > available:
        log.warning("%s: %d-shot asked, %d few-shot documents available", spec.task, k, available)
        k = max(available, 0)
    sampler = FewshotSampler(
        spec, pool, same_split=same_split, seed=config.seed, mode=config.fewshot_sampling
    )
    prompts = [build_prompt(spec, doc, sampler.draw(doc, k)) for doc in docs]
    return TaskPlan(spec, prompts, k, len(all_docs))
