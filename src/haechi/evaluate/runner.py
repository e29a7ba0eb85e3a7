"""``evaluate()``: tasks → prompts → model requests → metrics → results file and store."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from haechi.evaluate.config import EvalConfig
from haechi.evaluate.metrics import Aggregate
from haechi.evaluate.plan import TaskPlan, plan_task
from haechi.evaluate.report import results_document, write_outputs
from haechi.evaluate.scoring import (
    Summary,
    TaskScore,
    group_score,
    requests_for,
    score_task,
    summarise,
)
from haechi.models.base import LanguageModel, LoglikelihoodRequest, LoglikelihoodResult
from haechi.tasks.documents import DocumentSource
from haechi.tasks.registry import resolve
from haechi.versions import package_versions

if TYPE_CHECKING:
    from haechi.store import Store


@dataclass(frozen=True)
class EvalReport:
    """The outcome of a run: scores per (sub)task, reported tasks, groups, the document."""

    run_id: str | None
    scores: list[TaskScore]
    summaries: list[Summary]
    groups: dict[str, Aggregate]
    document: dict[str, Any]
    results_path: Path | None


def evaluate(
    model: LanguageModel, config: EvalConfig, *, store: Store | None = None, progress: bool = True
) -> EvalReport:
    """Run ``config.tasks`` on ``model``; record the run in ``store`` when one is given.

    Every document is loaded and every prompt built before the model runs, so bad input
    fails fast and nothing is stored for it.
    """
    started = time.perf_counter()
    specs, group_specs = resolve(config.tasks)
    source = DocumentSource.choose(config.data_dir, config.samples)
    plans = [plan for spec in specs for plan in plan_task(spec, config, source)]
    run_config = {
        "model": model.name,
        "model_fingerprint": model.fingerprint,
        "model_config": model.describe(),
        "eval": config.model_dump(mode="json"),
        "prompt_hashes": {p.name: _plan_hash(p) for p in plans},
    }
    versions = package_versions()
    run_id = (
        store.start_run("eval", model.name, model.fingerprint, run_config, versions)
        if store is not None
        else None
    )
    try:
        before = (model.stats.forwarded_tokens, model.stats.naive_tokens)
        requests = [requests_for(plan) for plan in plans]
        flat = [r for task_requests in requests for r in task_requests]
        results = _run_requests(model, flat, config.chunk_size, progress)
        scores, offset = [], 0
        for plan, task_requests in zip(plans, requests, strict=True):
            scores.append(score_task(plan, results[offset : offset + len(task_requests)]))
            offset += len(task_requests)
        summaries = summarise(scores)
        by_name = {s.name: s for s in summaries}
        groups = {g: group_score(spec, by_name) for g, spec in group_specs.items()}
        stats = {
            "requests": len(flat),
            "forwarded_tokens": model.stats.forwarded_tokens - before[0],
            "naive_tokens": model.stats.naive_tokens - before[1],
            "wall_seconds": round(time.perf_counter() - started, 3),
        }
        config_record = {**run_config, "versions": versions, "run_id": run_id}
        document = results_document(
            scores, summaries, groups, group_specs, config=config_record, stats=stats
        )
        path = (
            write_outputs(config.output, document, scores, log_samples=config.log_samples)
            if config.output is not None
            else None
        )
        if store is not None and run_id is not None:
            _store_results(store, run_id, summaries, groups)
    except BaseException as exc:
        if store is not None and run_id is not None:
            store.finish_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    return EvalReport(run_id, scores, summaries, groups, document, path)


def _run_requests(
    model: LanguageModel, requests: Sequence[LoglikelihoodRequest], chunk: int, show: bool
) -> list[LoglikelihoodResult]:
    results: list[LoglikelihoodResult] = []
    columns = (
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("requests"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not show, transient=True) as bar:
        task = bar.add_task("scoring", total=len(requests))
        for start in range(0, len(requests), chunk):
            batch = requests[start : start + chunk]
            results.extend(model.loglikelihood(batch))
            bar.advance(task, len(batch))
    return results


def _plan_hash(plan: TaskPlan) -> str:
    joined = "".join(p.prompt_hash for p in plan.prompts)
    return hashlib.sha256(joined.encode("ascii")).hexdigest()[:16]


def _store_results(
    store: Store, run_id: str, summaries: list[Summary], groups: dict[str, Aggregate]
) -> None:
    from haechi.store import ResultRecord

    records = [
        ResultRecord(
            task=s.name,
            metric=metric,
            value=agg.value,
            stderr=agg.stderr,
            n=agg.n,
            is_primary=metric == s.primary_metric,
        )
        for s in summaries
        for metric, agg in s.metrics.items()
    ]
    records += [
        ResultRecord(
            task=g,
            metric="score",
            value=agg.value,
            stderr=None,
            n=agg.n,
            is_primary=True,
            is_group=True,
        )
        for g, agg in groups.items()
    ]
    store.add_results(run_id, records)
    store.finish_run(run_id, status="completed")
