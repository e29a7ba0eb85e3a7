"""Storing a judge run: its configuration (steps and their hashes) and mean scores."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from haechi.judge.criteria import Criterion
from haechi.judge.geval import CriterionScore
from haechi.models import LanguageModel
from haechi.store import ResultRecord, open_store
from haechi.versions import package_versions


def store_judge_run(
    db: str | None,
    judge: LanguageModel,
    criteria: Sequence[Criterion],
    steps: dict[str, str],
    method: str,
    scores: Sequence[dict[str, CriterionScore]],
    subject: str | None = None,
) -> str:
    """Record the run (kind ``judge``) with each criterion's mean score; returns its id.
    ``subject`` names the model whose outputs were graded (its spec or fingerprint), so
    its model page lists the scores."""
    config = {
        "subject": subject,
        "judge": judge.describe(),
        "method": method,
        "criteria": {c.name: c.digest() for c in criteria},
        "steps": steps,
        "steps_hashes": {k: hashlib.sha256(v.encode()).hexdigest()[:16] for k, v in steps.items()},
    }
    results = []
    for c in criteria:
        values = [v for row in scores if (v := row[c.name].score) is not None]
        if values:
            mean = sum(values) / len(values)
            results.append(
                ResultRecord(
                    task=c.name,
                    metric=f"geval_{method}",
                    value=mean,
                    stderr=None,
                    n=len(values),
                    is_primary=True,
                )
            )
    with open_store(db) as store:
        run_id = store.start_run("judge", judge.name, judge.fingerprint, config, package_versions())
        store.add_results(run_id, results)
        store.finish_run(run_id)
    return run_id
