"""Every campaign reports its attack-success rate and its over-refusal as a pair: the bundled
Korean controls by default, by topic, measured even when a token budget stops the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.redteam.standin import REFUSAL, StandInTarget
from tests.redteam.test_window import campaign, run

from haechi.redteam.campaign import load_campaign
from haechi.redteam.report import build_report
from haechi.redteam.runner import Campaign
from haechi.redteam.seeds import bundled_controls
from haechi.store import open_store


def test_a_campaign_naming_no_controls_sends_the_bundled_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\ntarget: {model: openai/standin}\nseeds: [{source: bundled, limit: 2}]\n",
        encoding="utf-8",
    )
    prepared = Campaign(load_campaign(path), tmp_path, loader=lambda s, a: StandInTarget(0))
    assert [c.id for c in prepared.controls] == [c.id for c in bundled_controls()]
    assert all(c.benign for c in prepared.controls)


def test_over_refusal_comes_by_topic_beside_the_asr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from haechi.cli.redteam_cmd import report_summary

    target = StandInTarget(0.0)
    _, attempts, _ = run(campaign(tmp_path, 6, 40, "concurrency: 4\n"), target, tmp_path / "s.db")
    with open_store(str(tmp_path / "s.db")) as store:
        report = build_report(store, "window")
    controls = [a for a in attempts if a.benign]
    refused = [a for a in controls if a.chain["response"] == REFUSAL]
    assert len(controls) == 40 and report.over_refusal.n == 40
    assert report.over_refusal.successes == len(refused)  # the stand-in refuses odd lengths
    by_topic = report.to_json()["over_refusal_by_topic"]
    assert sum(r["n"] for r in by_topic.values()) == 40 and "(none)" not in by_topic
    topics = {c.id: c.meta["topic"] for c in bundled_controls()}
    for topic, r in by_topic.items():
        assert r["successes"] == sum(topics[a.seed_id] == topic for a in refused)
    report_summary(report)
    out = " ".join(capsys.readouterr().out.split())
    assert "attack success rate" in out and "over-refusal on benign controls" in out
    assert "over-refusal by topic:" in out


def test_without_controls_the_report_says_over_refusal_was_not_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from haechi.cli.redteam_cmd import report_summary

    run(campaign(tmp_path, 4, 0), StandInTarget(0.0), tmp_path / "s.db")
    with open_store(str(tmp_path / "s.db")) as store:
        report = build_report(store, "window")
    report_summary(report)
    out = " ".join(capsys.readouterr().out.split())
    assert "attack success rate" in out and "over-refusal on benign controls: not measured" in out


def test_a_run_stopped_by_its_token_budget_still_has_both(tmp_path: Path) -> None:
    path = campaign(tmp_path, 30, 10, "budget: {max_tokens: 200}\nconcurrency: 2\n")
    outcome, attempts, _ = run(path, StandInTarget(0.0, tokens=10), tmp_path / "s.db")
    controls = [a for a in attempts if a.benign]
    assert outcome.budget_exhausted and 20 <= len(attempts) <= 21
    # the controls are spread through the order: about half of them went out with half the run
    assert 4 <= len(controls) <= 6 and len(attempts) - len(controls) >= 14
