"""Comparing two real runs (two tiny models on the same documents): differences, their
paired bootstrap intervals and the flipped documents, checked against the samples files
read directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.web.lab import TASKS, data_dir

from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.compare import compare_runs
from haechi.evaluate.stats import paired_bootstrap
from haechi.models import load
from haechi.store import Store, open_store


@pytest.fixture
def two_runs(
    tiny_llama_dir: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> Iterator[tuple[Store, str, str]]:
    data = data_dir(tmp_path / "data")
    with open_store(str(tmp_path / "runs.db")) as store:
        ids = []
        for name, folder in (("a", tiny_llama_dir), ("b", tiny_qwen2_dir)):
            config = EvalConfig(
                tasks=TASKS,
                num_fewshot=1,
                data_dir=data,
                output=tmp_path / name,
                log_samples=True,
                bootstrap_iters=1000,
            )
            ids.append(evaluate(load(f"hf/{folder}"), config, store=store, progress=False).run_id)
        yield store, ids[0] or "", ids[1] or ""


def _per_doc(folder: Path, names: list[str], metric: str) -> dict[tuple[str, int], float]:
    values = {}
    for name in names:
        for line in (folder / f"samples_{name}.jsonl").read_text("utf-8").splitlines():
            record = json.loads(line)
            values[(name, record["doc_id"])] = record["metrics"][metric]
    return values


@pytest.mark.slow
def test_differences_intervals_and_flips_match_the_samples(
    two_runs: tuple[Store, str, str], tmp_path: Path
) -> None:
    store, a, b = two_runs
    comparison = compare_runs(store, a, b, iters=2000, seed=4)
    rows = {t.task: t for t in comparison.tasks}
    assert rows["kobest"].a is not None and rows["kobest"].a.is_group
    assert rows["kobest"].paired is None  # a group's value is not a mean over documents
    subjects = sorted(
        p.name[len("samples_") : -6] for p in (tmp_path / "a").glob("samples_kmmlu_*")
    )
    assert subjects  # kmmlu is scored per subject; its row pools them
    for task, names in (
        ("ko_arc", ["ko_arc"]),
        ("kobest_copa", ["kobest_copa"]),
        ("kmmlu", subjects),
    ):
        row = rows[task]
        va = _per_doc(tmp_path / "a", names, row.metric)
        vb = _per_doc(tmp_path / "b", names, row.metric)
        keys = sorted(va)
        expected = paired_bootstrap(
            [va[k] for k in keys], [vb[k] for k in keys], iters=2000, seed=4
        )
        assert row.paired == expected, task
        flips = {k for k in keys if va[k] != vb[k]}
        assert {(f.task, f.doc_id) for f in row.flips} == flips
        assert row.fixed == sum(vb[k] > va[k] for k in flips)
        assert row.broken == len(flips) - row.fixed
        if task != "kmmlu":  # a plain task's stored value is the mean over its documents
            assert row.a is not None and row.b is not None
            assert row.difference == pytest.approx(row.b.value - row.a.value)


@pytest.mark.slow
def test_runs_without_samples_compare_their_stored_values(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    model = load(f"hf/{tiny_llama_dir}")
    with open_store(str(tmp_path / "runs.db")) as store:
        ids = [
            evaluate(
                model,
                EvalConfig(tasks=["ko_arc"], samples=True, num_fewshot=n),
                store=store,
                progress=False,
            ).run_id
            for n in (0, 1)
        ]
        comparison = compare_runs(store, ids[0] or "", ids[1] or "")
    (row,) = comparison.tasks
    assert row.paired is None and row.flips == []
    assert row.a is not None and row.b is not None
    assert row.difference == pytest.approx(row.b.value - row.a.value)
