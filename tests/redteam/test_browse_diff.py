"""Choosing a run's attempts (``redteam.browse``) and diffing two runs (``redteam.diff``,
``haechi redteam diff``) over stored runs whose outcomes follow known rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.redteam.stored import attempt, grid_attempts, store_run
from typer.testing import CliRunner

from haechi.cli.app import app
from haechi.redteam.browse import AttemptQuery, facets, outcome, select_attempts
from haechi.redteam.diff import diff_reports
from haechi.redteam.report import run_report, stored_rates
from haechi.store import RunNotFoundError, Store, open_store


def rule_a(s: int, g: int, c: int) -> bool:
    return s != 9 and (s + g + c) % 3 == 0  # 2 of a seed's 6 attacks, seeds 0–8


def rule_b(s: int, g: int, c: int) -> bool:
    return s in (0, 4, 8, 9) and g == 0 and c == 0  # one attack of four seeds


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[tuple[Store, str, str]]:
    store = open_store(f"sqlite:///{tmp_path / 'rt.db'}")
    a = store_run(store, "safety-a", "hf/ckpt-a", grid_attempts(rule_a))
    b = store_run(store, "safety-b", "hf/ckpt-b", grid_attempts(rule_b))
    yield store, a, b
    store.close()


def test_outcomes() -> None:
    base = dict(key="k", seed_id="s", category="c", generator="direct", chain="", turns=1)
    assert outcome(attempt(**base, success=True)) == "success"  # type: ignore[arg-type]
    assert outcome(attempt(**base, success=False)) == "refused"  # type: ignore[arg-type]
    assert outcome(attempt(**base, success=False, refused=False)) == "failed"  # type: ignore[arg-type]
    failed = attempt(**base, success=False).model_copy(update={"error": "timeout"})  # type: ignore[arg-type]
    assert outcome(failed) == "error"


def test_every_filter_and_their_combination(runs: tuple[Store, str, str]) -> None:
    store, a, _ = runs
    attempts = run_report(store, a).attempts
    assert len(attempts) == 63

    def count(labels: dict[str, str] | None = None, **fields: object) -> int:
        return len(select_attempts(attempts, AttemptQuery(**fields), labels))  # type: ignore[arg-type]

    assert count() == 63
    assert count(category="개인정보") == 30
    assert count(generator="crescendo:red") == 30
    assert count(converters="(none)") == 23  # 20 attacks and the 3 controls
    assert count(converters="base64+spacing") == 20
    assert count(turns=3) == 9  # crescendo on seeds 2, 5, 8, each chain
    assert count(turns=1) == 30 + 3 + 12  # direct, controls, crescendo on 0, 3, 6, 9
    assert count(outcome="success") == 18
    assert count(outcome="refused") == 60 - 18 + 1  # the first control was refused
    assert count(outcome="failed") == 2  # the other two controls
    assert count(seed="seed-3") == 6
    assert count(kind="control") == 3 and count(kind="attack") == 60
    both = count(category="개인정보", generator="crescendo:red", outcome="success")
    assert both == sum(
        rule_a(s, 1, c) for s in range(0, 10, 2) for c in range(3)
    )  # even seeds are 개인정보
    labels = {"k0-0-0": "success", "k0-0-1": "pending", "k1-0-0": "no_success"}
    assert count(labels, label="success") == 1 and count(labels, label="pending") == 1
    assert count(labels, label="none") == 60
    assert count(labels, label="no_success", category="혐오") == 1
    query = AttemptQuery(category="혐오", turns=2, outcome="success")
    assert query.params() == {"category": "혐오", "turns": "2", "outcome": "success"}
    found = facets(attempts)
    assert found.categories == ["개인정보", "역사", "혐오"]
    assert found.converters == ["(none)", "base64+spacing", "jamo"]
    assert found.turns == [1, 2, 3]


def test_diff_rates_and_flipped_seeds(runs: tuple[Store, str, str]) -> None:
    store, a, b = runs
    diff = diff_reports(run_report(store, a), run_report(store, b))
    rows = {label: c for label, c in diff.rows}
    assert list(rows) == ["overall", "개인정보", "혐오", "over-refusal"]
    overall = rows["overall"]
    assert (overall.a.successes, overall.a.n, overall.b.successes, overall.b.n) == (18, 60, 4, 60)
    assert overall.delta == pytest.approx(4 / 60 - 18 / 60)
    assert (rows["개인정보"].a.successes, rows["개인정보"].b.successes) == (10, 3)
    assert (rows["혐오"].a.successes, rows["혐오"].b.successes) == (8, 1)
    assert (rows["over-refusal"].a.successes, rows["over-refusal"].a.n) == (1, 3)
    assert [f.seed_id for f in diff.broken] == ["seed-9"]
    assert sorted(f.seed_id for f in diff.fixed) == [f"seed-{s}" for s in (1, 2, 3, 5, 6, 7)]
    nine = diff.broken[0]
    assert (nine.a.successes, nine.a.n, nine.b.successes, nine.category) == (0, 6, 1, "혐오")
    assert nine.text == "혐오 질문 9"
    assert stored_rates(diff.a.run)["asr"].successes == 18
    with pytest.raises(RunNotFoundError):
        run_report(store, store.start_run("eval", "m", "fp", {}, {}))


def test_cli_diff_prints_rates_and_flips(runs: tuple[Store, str, str]) -> None:
    store, _, _ = runs
    result = CliRunner().invoke(
        app, ["redteam", "diff", "safety-a", "safety-b", "--db", store.url], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "30.0% (n=60)" in result.output and "6.7% (n=60)" in result.output
    assert "flipped seeds: 1 succeeded only in B, 6 only in A" in result.output
    assert "B seed-9 (혐오)" in result.output
