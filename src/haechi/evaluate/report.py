"""``results.json`` (keys compatible with lm-evaluation-harness) and ``samples_<task>.jsonl``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from haechi.evaluate.metrics import Reported, definition
from haechi.evaluate.scoring import Summary, TaskScore
from haechi.evaluate.stats import Aggregate
from haechi.io import write_json_atomic, write_text_atomic
from haechi.tasks.spec import GroupSpec


def _metric_entries(name: str, metrics: dict[str, Aggregate]) -> dict[str, Any]:
    entry: dict[str, Any] = {"alias": name}
    for key, agg in metrics.items():
        # lm-eval keys are "metric,filter"; multiple-choice metrics have the filter "none"
        metric, _, filter_name = key.partition(",")
        filter_name = filter_name or "none"
        entry[f"{metric},{filter_name}"] = agg.value
        entry[f"{metric}_stderr,{filter_name}"] = "N/A" if agg.stderr is None else agg.stderr
    return entry


def _declared(summary: Summary) -> dict[str, Reported]:
    """The declaration of each of a task's metrics, by name without the filter (as lm-eval
    keys ``higher_is_better``)."""
    return {name.partition(",")[0]: definition(name) for name in summary.metrics}


def _metric_definitions(summaries: Iterable[Summary]) -> dict[str, dict[str, str]]:
    """What each reported metric measures, which way is better (``zero``: 0 is best, e.g.
    a bias score) and how its stderr is computed."""
    return {
        name: {"note": d.note, "better": d.better, "stderr": d.stderr}
        for summary in summaries
        for name, d in _declared(summary).items()
    }


def _group_direction(tasks: Iterable[str], summaries: dict[str, Summary]) -> bool | None:
    """A group's direction is its tasks' headline metrics' when they share one."""
    directions = {definition(summaries[t].primary_metric).higher_is_better for t in tasks}
    return directions.pop() if len(directions) == 1 else None


def results_document(
    scores: list[TaskScore],
    summaries: list[Summary],
    groups: dict[str, Aggregate],
    group_specs: dict[str, GroupSpec],
    *,
    config: dict[str, Any],
    stats: dict[str, Any],
) -> dict[str, Any]:
    """Everything a run produced, as one JSON-ready mapping."""
    results = {s.name: _metric_entries(s.name, s.metrics) for s in summaries}
    for score in scores:
        if score.plan.parent is not None:
            results[score.plan.name] = _metric_entries(score.plan.name, score.metrics)
    specs = {s.plan.spec.task: s.plan.spec for s in scores}
    by_name = {s.name: s for s in summaries}
    return {
        "results": results,
        "groups": {
            g: {
                **_metric_entries(g, {"score": agg}),
                "tasks": group_specs[g].tasks,
                "aggregation": group_specs[g].aggregation,
            }
            for g, agg in groups.items()
        },
        "configs": {name: spec.model_dump(mode="json") for name, spec in specs.items()},
        "versions": {name: spec.version for name, spec in specs.items()},
        "n-shot": {s.plan.name: s.plan.n_shot for s in scores},
        "n-samples": {
            s.plan.name: {"original": s.plan.n_original, "effective": len(s.samples)}
            for s in scores
        },
        "higher_is_better": {
            **{s.name: {m: d.higher_is_better for m, d in _declared(s).items()} for s in summaries},
            **{g: {"score": _group_direction(group_specs[g].tasks, by_name)} for g in groups},
        },
        "metric_definitions": _metric_definitions(summaries),
        "config": config,
        "stats": stats,
    }


def write_outputs(
    output: Path, document: dict[str, Any], scores: list[TaskScore], *, log_samples: bool
) -> Path:
    """Write ``results.json`` (and per-task samples) into ``output``; returns the results path."""
    output.mkdir(parents=True, exist_ok=True)
    if log_samples:
        for score in scores:
            lines = [json.dumps(s.record(), ensure_ascii=False) for s in score.samples]
            write_text_atomic(output / f"samples_{score.plan.name}.jsonl", "\n".join(lines) + "\n")
    path = output / "results.json"
    write_json_atomic(path, document)
    return path
