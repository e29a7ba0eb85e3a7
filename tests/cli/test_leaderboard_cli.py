"""``haechi leaderboard`` (in-process): partial runs are hidden by default, and marked and
unranked with --include-partial."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from haechi.cli.app import app
from haechi.cli.console import console
from haechi.store import ResultRecord, open_store


def _run(db: str, spec: str, value: float, limit: int | None) -> None:
    with open_store(db) as store:
        run_id = store.start_run("eval", spec, spec, {"eval": {"limit": limit}}, {})
        record = ResultRecord(
            task="ko_h5", metric="score", value=value, stderr=None, n=5,
            is_primary=True, is_group=True,
        )  # fmt: skip
        store.add_results(run_id, [record])
        store.finish_run(run_id)


def test_partial_runs_hidden_then_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 160)
    db = str(tmp_path / "board.db")
    _run(db, "hf/full-model", 0.40, None)
    _run(db, "hf/quick-model", 0.90, 100)
    shown = CliRunner().invoke(app, ["leaderboard", "--db", db])
    assert shown.exit_code == 0, shown.output
    assert "hf/full-model" in shown.output and "40.00" in shown.output
    assert "quick-model" not in shown.output
    assert "1 partial run(s) hidden (--include-partial shows them)" in shown.output
    both = CliRunner().invoke(app, ["leaderboard", "--db", db, "--include-partial"])
    assert both.exit_code == 0, both.output
    rows = both.output.splitlines()
    full = next(r for r in rows if "full-model" in r)
    quick = next(r for r in rows if "quick-model" in r)
    assert full.split()[0] == "1" and quick.split()[0] == "–"  # a partial run has no rank
    assert "(partial: --limit 100)" in quick and "90.00" in quick
    assert rows.index(full) < rows.index(quick)
