"""``results.json`` (keys compatible with lm-evaluation-harness) and ``samples_<task>.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from haechi.evaluate.metrics import NORMALISATION_NOTE, Aggregate
from haechi.evaluate.scoring import TaskScore
from haechi.io import write_json_atomic, write_text_atomic


def _metric_entries(name: str, metrics: dict[str, Aggregate]) -> dict[str, Any]:
    entry: dict[str, Any] = {"alias": name}
    for metric, agg in metrics.items():
        entry[f"{metric},none"] = agg.value
        entry[f"{metric}_stderr,none"] = "N/A" if agg.stderr is None else agg.stderr
    return entry


def results_document(
    scores: list[TaskScore],
    groups: dict[str, Aggregate],
    group_members: dict[str, list[str]],
    *,
    config: dict[str, Any],
    stats: dict[str, Any],
) -> dict[str, Any]:
    """Everything a run produced, as one JSON-ready mapping."""
    return {
        "results": {s.plan.spec.task: _metric_entries(s.plan.spec.task, s.metrics) for s in scores},
        "groups": {
            g: {**_metric_entries(g, {"score": agg}), "tasks": group_members[g]}
            for g, agg in groups.items()
        },
        "configs": {s.plan.spec.task: s.plan.spec.model_dump(mode="json") for s in scores},
        "versions": {s.plan.spec.task: s.plan.spec.version for s in scores},
        "n-shot": {s.plan.spec.task: s.plan.n_shot for s in scores},
        "n-samples": {
            s.plan.spec.task: {"original": s.plan.n_original, "effective": len(s.samples)}
            for s in scores
        },
        "higher_is_better": {s.plan.spec.task: dict.fromkeys(s.metrics, True) for s in scores},
        "normalisation": {m: NORMALISATION_NOTE[m] for s in scores for m in s.metrics},
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
            lines = [
                json.dumps(
                    {
                        "doc_id": s.doc_id,
                        "target": s.target,
                        "loglikelihoods": list(s.loglikelihoods),
                        "n_tokens": list(s.n_tokens),
                        "is_greedy": list(s.is_greedy),
                        "correct": s.correct,
                        "prompt_hash": s.prompt_hash,
                        "fewshot_ids": list(s.fewshot_ids),
                    },
                    ensure_ascii=False,
                )
                for s in score.samples
            ]
            write_text_atomic(
                output / f"samples_{score.plan.spec.task}.jsonl", "\n".join(lines) + "\n"
            )
    path = output / "results.json"
    write_json_atomic(path, document)
    return path
