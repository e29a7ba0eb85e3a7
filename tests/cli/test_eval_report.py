"""The terminal report of ``haechi eval`` for every bundled task and group (in-process, on
the bundled sample documents, the torch-free mock model): no metric without a declaration crashes it after the work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haechi.cli.app import app
from haechi.cli.console import console
from haechi.tasks import bundled_tasks, groups


def test_report_of_every_bundled_task_and_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 200)  # long task names stay on one line
    tasks, named_groups = bundled_tasks(), groups()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "eval", "--model", "mock/report", "--samples",
            "--tasks", ",".join([*tasks, *named_groups]),
            "--bootstrap-iters", "100", "--output", str(out), "--db", str(tmp_path / "r.db"),
            # judged tasks: a judge that always answers 7, and a baseline for the win rates
            "--judge", "mock/judge", "--judge-args", "reply=7", "--judge-baseline", "mock/b",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    rows = result.output.splitlines()
    for name, spec in tasks.items():
        # every reported metric of every task has its row, with the value in percent
        entry = results["results"][name]
        for metric in spec.metric_names():
            key = metric if "," in metric else f"{metric},none"
            value = f"{100 * entry[key]:.2f}"
            assert any(name in r and metric in r and value in r for r in rows), (name, metric)
    for name, group in named_groups.items():
        how = "size-weighted mean of *" if group.aggregation == "size_weighted" else "mean of *"
        score = f"{100 * results['groups'][name]['score,none']:.2f}"
        assert any(name in r and how in r and score in r for r in rows), name
    assert "mean mean" not in result.output
    legend = " ".join(result.output.split())  # the legend may wrap
    assert (
        "diff_bias_amb: biased minus counter-biased answers in ambiguous contexts (0 is best)"
        in legend
    )
    assert "exact_match: filtered answer equals the reference" in legend
    assert result.output.count("stored as run") == 1
