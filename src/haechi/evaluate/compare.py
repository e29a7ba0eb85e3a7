"""Two stored evaluation runs side by side: per task the headline metric of each, the
difference B − A, its paired bootstrap interval over the documents both scored, and the
documents whose outcome flipped.

The interval needs both runs' samples files (``--log-samples``); without them a row has
the two stored values and their difference only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from haechi.evaluate.run_files import RunFiles, read_samples, run_files
from haechi.evaluate.stats import PairedDifference, paired_bootstrap
from haechi.store import ResultRecord, RunRecord, Store

FLIPS_SHOWN = 200  # flipped documents listed per task (all are counted)


@dataclass(frozen=True)
class Flip:
    """A document one run got right and the other wrong (``task`` is its samples file)."""

    task: str
    doc_id: int
    a: float
    b: float


@dataclass(frozen=True)
class TaskComparison:
    """One task: values from the store, ``paired`` from the samples (``None`` without),
    ``better`` = ``fixed`` (wrong in A, right in B) minus ``broken`` counts."""

    task: str
    metric: str
    a: ResultRecord | None
    b: ResultRecord | None
    paired: PairedDifference | None = None
    fixed: int = 0
    broken: int = 0
    flips: list[Flip] = field(default_factory=list)

    @property
    def difference(self) -> float | None:
        if self.paired is not None:
            return self.paired.difference
        if self.a is None or self.b is None:
            return None
        return self.b.value - self.a.value


@dataclass(frozen=True)
class RunComparison:
    a: RunRecord
    b: RunRecord
    tasks: list[TaskComparison]
    iters: int


def compare_runs(
    store: Store, a_id: str, b_id: str, *, iters: int = 10_000, seed: int = 0
) -> RunComparison:
    """Runs ``a_id`` and ``b_id`` task by task (tasks either one has; groups first)."""
    a, b = store.get_run(a_id), store.get_run(b_id)
    files_a, files_b = run_files(a), run_files(b)
    primary_a, primary_b = _primary(a), _primary(b)
    either = {**primary_b, **primary_a}  # each task's record: A's, else B's
    rows = []
    for task in sorted(either, key=lambda t: (not either[t].is_group, t)):
        ra, rb = primary_a.get(task), primary_b.get(task)
        metric = either[task].metric
        if ra is None or rb is None or ra.is_group or ra.metric != rb.metric:
            rows.append(TaskComparison(task, metric, ra, rb))
            continue
        rows.append(_paired_row(task, metric, ra, rb, files_a, files_b, iters, seed))
    return RunComparison(a, b, rows, iters)


def _primary(run: RunRecord) -> dict[str, ResultRecord]:
    return {r.task: r for r in run.results if r.is_primary}


def _per_document(files: RunFiles, task: str, metric: str) -> dict[tuple[str, int], float]:
    """``(samples file, doc_id)`` → the document's value of ``metric``."""
    values = {}
    for name in files.tasks_of(task):
        for record in read_samples(files, name):
            value = (record.get("metrics") or {}).get(metric)
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[(name, int(record["doc_id"]))] = float(value)
    return values


def _paired_row(
    task: str,
    metric: str,
    ra: ResultRecord,
    rb: ResultRecord,
    files_a: RunFiles,
    files_b: RunFiles,
    iters: int,
    seed: int,
) -> TaskComparison:
    va, vb = _per_document(files_a, task, metric), _per_document(files_b, task, metric)
    common = sorted(set(va) & set(vb))
    if not common:
        return TaskComparison(task, metric, ra, rb)
    paired = paired_bootstrap(
        [va[k] for k in common], [vb[k] for k in common], iters=iters, seed=seed
    )
    flips = [
        Flip(name, doc, va[(name, doc)], vb[(name, doc)])
        for name, doc in common
        if _binary(va[(name, doc)])
        and _binary(vb[(name, doc)])
        and va[(name, doc)] != vb[(name, doc)]
    ]
    fixed = sum(f.b > f.a for f in flips)
    return TaskComparison(
        task, metric, ra, rb, paired, fixed, len(flips) - fixed, flips[:FLIPS_SHOWN]
    )


def _binary(value: float) -> bool:
    return value in (0.0, 1.0)
