"""``evaluate()``: tasks → prompts → model requests → metrics → results file and store."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haechi.evaluate.cache import ResponseCache
from haechi.evaluate.chat_format import ChatFormat, chat_format, prompt_style, require_scoring
from haechi.evaluate.config import EvalConfig
from haechi.evaluate.execute import run_generation, run_loglikelihood
from haechi.evaluate.plan import TaskPlan, plan_task
from haechi.evaluate.replicas import ReplicatedModel
from haechi.evaluate.report import results_document, write_outputs
from haechi.evaluate.scoring import (
    Summary,
    TaskScore,
    generation_requests,
    group_score,
    requests_for,
    score_generations,
    score_task,
    summarise,
)
from haechi.evaluate.stats import Aggregate
from haechi.models.base import LanguageModel
from haechi.tasks.registry import resolve
from haechi.tasks.sources import DocumentSource
from haechi.versions import package_versions

if TYPE_CHECKING:
    from haechi.evaluate.judged import Judging
    from haechi.judge.criteria import Criterion
    from haechi.store import Store

log = logging.getLogger(__name__)


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
    model: LanguageModel,
    config: EvalConfig,
    *,
    store: Store | None = None,
    cache: ResponseCache | None = None,
    progress: bool = True,
    judging: Judging | None = None,
) -> EvalReport:
    """Run ``config.tasks`` on ``model``; record the run in ``store`` when one is given.
    ``judging`` grades the judged tasks (required when there are any).

    Every document is loaded and every prompt built before the model runs, so bad input
    fails fast and nothing is stored for it. With a ``cache``, results are saved as they
    are computed and reused: re-running an interrupted evaluation resumes it, and the
    interrupted run's record in the store is taken over rather than left behind.
    """
    started = time.perf_counter()
    specs, group_specs = resolve(config.tasks)
    source = DocumentSource.choose(config.data_dir, config.samples)
    chat = chat_format(model, config)
    style = prompt_style(chat, config)
    plans = [plan for spec in specs for plan in plan_task(spec, config, source, style)]
    choice_tasks = [p.name for p in plans if p.spec.output_type == "multiple_choice"]
    require_scoring(chat, model, choice_tasks)
    criteria: dict[str, Criterion] = {}
    judging_config: dict[str, Any] | None = None
    if any(spec.output_type == "judged" for spec in specs):
        # haechi.judge runs on this package's cache and execution: imported when needed
        from haechi.evaluate.judged import judging_record, task_criteria

        criteria = task_criteria(specs)
        judging_config = judging_record(judging, criteria)
    run_config = {
        "model": model.name,
        "model_fingerprint": model.fingerprint,
        "model_config": model.describe(),
        **(model.placement() if isinstance(model, ReplicatedModel) else {"data_parallel": 1}),
        "eval": config.model_dump(mode="json"),
        "chat_template": chat.record() if chat is not None else None,
        "prompt_hashes": {p.name: _plan_hash(p) for p in plans},
    }
    if judging_config is not None:
        run_config["judging"] = judging_config
    run_config["resume_key"] = _resume_key(run_config)
    versions = package_versions()
    run_id = _start_or_resume(store, model, run_config, versions) if store is not None else None
    try:
        before = replace(model.stats)
        scores, counts = _score_plans(model, plans, config, chat, cache, progress)
        if judging_config is not None:
            assert judging is not None  # judging_record refused a run without one
            scores, counts = _score_judged(
                model, plans, scores, counts, judging, criteria, judging_config,
                config, chat, cache, progress,
            )  # fmt: skip
        summaries = summarise(scores)
        by_name = {s.name: s for s in summaries}
        groups = {g: group_score(spec, by_name) for g, spec in group_specs.items()}
        stats = {
            **counts,
            "forwarded_tokens": model.stats.forwarded_tokens - before.forwarded_tokens,
            "naive_tokens": model.stats.naive_tokens - before.naive_tokens,
            "floor_tokens": model.stats.floor_tokens - before.floor_tokens,
            "cached_tokens": model.stats.cached_tokens - before.cached_tokens,
            "generated_tokens": model.stats.generated_tokens - before.generated_tokens,
            "padding_tokens": model.stats.padding_tokens - before.padding_tokens,
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


def _score_plans(
    model: LanguageModel,
    plans: Sequence[TaskPlan],
    config: EvalConfig,
    chat: ChatFormat | None,
    cache: ResponseCache | None,
    progress: bool,
) -> tuple[list[TaskScore], dict[str, int]]:
    """Run the requests of every multiple-choice and generation plan (log-likelihoods
    first, then generations) and score them; judged plans are scored apart."""
    choice_plans = [p for p in plans if p.spec.output_type == "multiple_choice"]
    generation_plans = [p for p in plans if p.spec.output_type == "generate_until"]
    chunk = config.chunk_size
    ll_requests = [requests_for(p) for p in choice_plans]
    ll_results, ll_hits = run_loglikelihood(
        model, [r for rs in ll_requests for r in rs], chunk=chunk, cache=cache, progress=progress
    )
    gen_requests = [
        generation_requests(
            p, chat, think_end_token=config.think_end_token, max_gen_toks=config.max_gen_toks
        )
        for p in generation_plans
    ]
    gen_results, gen_hits = run_generation(
        model, [r for rs in gen_requests for r in rs], chunk=chunk, cache=cache, progress=progress
    )
    scored: dict[str, TaskScore] = {}
    offset = 0
    for plan, task_requests in zip(choice_plans, ll_requests, strict=True):
        scored[plan.name] = score_task(
            plan,
            ll_results[offset : offset + len(task_requests)],
            bootstrap_iters=config.bootstrap_iters,
        )
        offset += len(task_requests)
    offset = 0
    for plan, generations in zip(generation_plans, gen_requests, strict=True):
        scored[plan.name] = score_generations(
            plan, gen_results[offset : offset + len(generations)], config.think_end_token
        )
        offset += len(generations)
    counts = {
        "requests": sum(map(len, ll_requests)) + sum(map(len, gen_requests)),
        "loglikelihood_requests": sum(map(len, ll_requests)),
        "generation_requests": sum(map(len, gen_requests)),
        "cached_requests": ll_hits + gen_hits,
    }
    return [scored[p.name] for p in plans if p.name in scored], counts


def _score_judged(
    model: LanguageModel,
    plans: Sequence[TaskPlan],
    scores: list[TaskScore],
    counts: dict[str, int],
    judging: Judging,
    criteria: dict[str, Criterion],
    record: dict[str, Any],
    config: EvalConfig,
    chat: ChatFormat | None,
    cache: ResponseCache | None,
    progress: bool,
) -> tuple[list[TaskScore], dict[str, int]]:
    """The judged plans scored (with the steps the run recorded) and put among the
    others in task order; their requests added to the counts."""
    from haechi.evaluate.judged import score_judged

    judged = [p for p in plans if p.spec.output_type == "judged"]
    steps = {name: c["steps"] for name, c in record["criteria"].items()}
    judged_scores, judged_counts = score_judged(
        model, judged, judging, criteria, steps, config, chat, cache, progress
    )
    by_plan = {s.plan.name: s for s in [*scores, *judged_scores]}
    counts = {**counts, "judge_requests": judged_counts["judge_requests"]}
    for key in ("generation_requests", "cached_requests"):
        counts[key] += judged_counts[key]
    counts["requests"] += judged_counts["generation_requests"]
    return [by_plan[p.name] for p in plans], counts


def _resume_key(run_config: dict[str, Any]) -> str:
    """Identical for two runs of the same model, tasks, options, chat template and prompts."""
    eval_options = {k: v for k, v in run_config["eval"].items() if k != "output"}
    parts = [
        run_config["model_fingerprint"],
        eval_options,
        run_config["prompt_hashes"],
        run_config.get("chat_template"),  # its hash: the same prompts under two templates differ
    ]
    if "judging" in run_config:  # runs graded by different judges or steps never mix
        parts.append(run_config["judging"])
    blob = json.dumps(
        parts,
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _start_or_resume(
    store: Store, model: LanguageModel, run_config: dict[str, Any], versions: dict[str, str]
) -> str:
    resumed = store.find_running("eval", "resume_key", run_config["resume_key"])
    if resumed is not None:
        log.info("resuming run %s", resumed)
        return resumed
    return store.start_run("eval", model.name, model.fingerprint, run_config, versions)


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
        if agg.n  # no items, no value (a judge that never gave a score)
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
        if agg.n
    ]
    store.add_results(run_id, records)
    store.finish_run(run_id, status="completed")
