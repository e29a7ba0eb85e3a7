"""Benign controls of a real red-team run (a tiny model) stay apart from attacks in review:
import, attack-success rates, over-refusal, agreement groups and exports."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.redteam.test_runner import campaign_file

from haechi.redteam.campaign import load_campaign
from haechi.redteam.report import build_report
from haechi.redteam.runner import Campaign
from haechi.review.accounts import DATABASE_OWNER, add_user
from haechi.review.exports import export_results
from haechi.review.imports import import_items, lines_from_attempts
from haechi.review.labels import submit_label
from haechi.review.queue import next_item
from haechi.review.results import campaign_results
from haechi.review.summary import summarize
from haechi.store import open_store
from haechi.store.attempts import load_attempts

COMPLIED = {"attack_success": "yes", "severity": "1"}


def test_controls_are_kept_apart_from_attacks(tiny_llama_dir: Path, tmp_path: Path) -> None:
    spec = load_campaign(campaign_file(tmp_path, f"hf/{tiny_llama_dir}"))
    db = tmp_path / "s.db"
    with open_store(str(db)) as store:
        run = Campaign(spec, tmp_path).run(store, progress=False).run_id
        report = build_report(store, spec.name)
        attempts = load_attempts(store, run)
        benign = {f"{run[:8]}-{a.key}" for a in attempts if a.benign}
        assert len(benign) == 3 and report.asr.n == 4

        flagged = lines_from_attempts(store, run, "flagged")
        assert not any(line.control for line in flagged)
        assert len(flagged) == report.asr.successes
        with_controls = lines_from_attempts(store, run, "flagged", controls=True)
        assert [x.control for x in with_controls].count(True) == report.over_refusal.successes
        everything = lines_from_attempts(store, run, "all")
        assert {x.external_id() for x in everything if x.control} == benign
        assert len(lines_from_attempts(store, run, "all", controls=False)) == 4

        reviewers = [add_user(store, f"rev{i}", "reviewer", "long enough secret") for i in (0, 1)]
        import_items(store, "rt", everything, "redteam", reviewers=["rev0", "rev1"])
        for who in reviewers:  # both say every answer complied: no human over-refusal
            while (item := next_item(store, "rt", who)) is not None:
                submit_label(store, "rt", item, who, COMPLIED)
        results = campaign_results(store, "rt", DATABASE_OWNER)

    summary = summarize(results)
    assert summary.overall is not None and summary.controls is not None
    overall, controls = summary.overall, summary.controls
    assert (overall.items, overall.detector) == (4, report.asr)
    assert sum(r.items for r in summary.rates) == 4
    assert (controls.items, controls.detector) == (3, report.over_refusal)
    assert (controls.human.successes, controls.human.n) == (0, 3)
    groups = {g for f in summary.agreement for g in f.by_category}
    control_categories = {i.category for i in results.items if i.control}
    assert {f"{c} (control)" for c in control_categories} <= groups

    lines = export_results(results, "jsonl", tmp_path / "rt.jsonl").read_text().splitlines()
    assert {json.loads(x)["id"] for x in lines if json.loads(x)["control"]} == benign
    rows = csv.DictReader(export_results(results, "csv", tmp_path / "rt.csv").open())
    assert {r["id"] for r in rows if r["control"] == "true"} == benign

    cli = subprocess.run(
        [sys.executable, "-m", "haechi", "review", "agreement", "rt", "--db", str(db)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    asr = next(x for x in cli.stdout.splitlines() if x.strip().startswith("│ all"))
    assert f"n={report.asr.n}" in asr
    over = next(x for x in cli.stdout.splitlines() if x.strip().startswith("│ controls"))
    assert "0.0% [0.0%, 56.1%] n=3" in over  # human over-refusal: none of 3
