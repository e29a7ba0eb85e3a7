"""Campaigns end to end on tiny models and on llama.cpp's server: chains, verdicts, resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from haechi.redteam.campaign import load_campaign
from haechi.redteam.converters import CONVERTERS
from haechi.redteam.generators import JAILBREAK_FAMILIES
from haechi.redteam.refusal import refused
from haechi.redteam.report import build_report, compare, render_html
from haechi.redteam.runner import Campaign
from haechi.store import open_store
from haechi.store.attempts import load_attempts


def campaign_file(tmp_path: Path, target: str, extra: str = "", name: str = "tiny") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        f"target: {{model: {json.dumps(target)}, max_new_tokens: 8}}\n"
        "seeds: [{source: bundled, limit: 4}]\n"
        "controls: [{source: controls, limit: 3}]\n" + extra,
        encoding="utf-8",
    )
    return path


def test_every_attempt_keeps_its_whole_chain(tiny_llama_dir: Path, tmp_path: Path) -> None:
    path = campaign_file(
        tmp_path,
        f"hf/{tiny_llama_dir}",
        "generators: [{type: direct}, {type: templates, families: [grandma, research]}]\n"
        "converters: [[], [jamo], [base64, spacing]]\n"
        "detectors: [{type: refusal}]\n",
    )
    spec = load_campaign(path)
    with open_store(str(tmp_path / "s.db")) as store:
        outcome = Campaign(spec, tmp_path).run(store, progress=False)
        attempts = load_attempts(store, outcome.run_id)
        run = store.get_run(outcome.run_id)
    attacks = [a for a in attempts if not a.benign]
    assert len(attacks) == 4 * 3 * 3 and len(attempts) == len(attacks) + 3
    assert len({a.key for a in attempts}) == len(attempts)
    for a in attacks:
        seed_text = a.chain["seed"]["text"]
        family = a.generator.partition(":")[2]
        attack = JAILBREAK_FAMILIES[family].replace("{request}", seed_text) if family else seed_text
        assert a.chain["attack"] == attack
        sent = attack
        for name in a.chain["converters"]:
            sent = CONVERTERS[name](sent)
        assert a.chain["turns"][0] == {"role": "user", "content": sent}
        assert a.chain["turns"][-1] == {"role": "assistant", "content": a.chain["response"]}
        (verdict,) = a.verdicts
        assert verdict.detector == "refusal"
        assert verdict.success == (not refused(a.chain["response"]))
        assert a.success == verdict.success
        assert a.prompt_tokens > 0 and a.completion_tokens > 0
    assert run.status == "completed"
    stored = {(r.task, r.metric): r.value for r in run.results}
    assert stored[("redteam", "asr")] == sum(bool(a.success) for a in attacks) / len(attacks)


def test_budget_spreads_attempts_over_categories(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    path = campaign_file(tmp_path, f"hf/{tiny_qwen2_dir}", "budget: {max_attempts: 5}\n")
    path.write_text(path.read_text().replace("limit: 4", "limit: 40"), encoding="utf-8")
    with open_store(str(tmp_path / "s.db")) as store:
        outcome = Campaign(load_campaign(path), tmp_path).run(store, progress=False)
        attacks = [a for a in load_attempts(store, outcome.run_id) if not a.benign]
    assert len(attacks) == 5 and len({a.category for a in attacks}) == 5


def count_attempts(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_a_killed_campaign_resumes_without_duplicates(tiny_llama_dir: Path, tmp_path: Path) -> None:
    path = campaign_file(
        tmp_path,
        f"hf/{tiny_llama_dir}",
        "generators: [{type: direct}, {type: templates}]\nconverters: [[], [rot13]]\nconcurrency: 2\n",
    )
    path.write_text(
        path.read_text().replace("max_new_tokens: 8", "max_new_tokens: 24"), encoding="utf-8"
    )
    db = tmp_path / "s.db"
    command = [sys.executable, "-m", "haechi", "redteam", "run", str(path), "--db", str(db)]
    victim = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while count_attempts(db) < 6 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    before = count_attempts(db)
    planned = 4 * (1 + len(JAILBREAK_FAMILIES)) * 2 + 3
    assert 0 < before < planned, "the kill should land mid-run"
    resumed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
        env={**os.environ},
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"({before} already stored)" in resumed.stdout.replace("\n", " ")
    with open_store(str(db)) as store:
        runs = store.list_runs(kind="redteam")
        attempts = load_attempts(store, runs[0].id)
    assert [r.status for r in runs] == ["completed"]
    assert len(attempts) == planned and len({a.key for a in attempts}) == planned


@pytest.mark.llama_server
def test_campaign_against_a_loopback_server_with_pair_and_red_lm(
    tiny_llama_dir: Path, tiny_qwen2_dir: Path, llama_server_url: str, tmp_path: Path
) -> None:
    path = campaign_file(
        tmp_path,
        "openai/tiny",
        "generators:\n"
        "  - {type: direct}\n"
        f"  - {{type: red_lm, model: hf/{tiny_qwen2_dir}, mode: few_shot, per_category: 1, shots: 2, max_new_tokens: 40}}\n"
        f"  - {{type: pair, model: hf/{tiny_qwen2_dir}, rounds: 2, max_new_tokens: 24}}\n"
        "concurrency: 4\n",
    )
    spec = load_campaign(path)
    spec.target.model_args["base_url"] = llama_server_url
    with open_store(str(tmp_path / "s.db")) as store:
        outcome = Campaign(spec, tmp_path).run(store, progress=False)
        attempts = load_attempts(store, outcome.run_id)
    pair = [a for a in attempts if a.generator.startswith("pair:")]
    assert len(pair) == 4
    for a in pair:
        rounds = a.chain["rounds"]
        assert a.turns == len(rounds) and 1 <= len(rounds) <= 2
        assert len(a.chain["turns"]) == 2 * len(rounds)
        # a seed stops early only when its attack succeeded
        assert all(not r["success"] for r in rounds[:-1])
        assert a.success == rounds[-1]["success"]
    assert len([a for a in attempts if a.generator == "direct"]) == 4
    assert all(a.completion_tokens > 0 for a in attempts)


def test_report_escapes_model_text_and_compares_runs(tiny_llama_dir: Path, tmp_path: Path) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    seeds = tmp_path / "xss.jsonl"
    seeds.write_text(
        json.dumps({"id": "x1", "prompt": payload, "category": "hate"}) + "\n", encoding="utf-8"
    )
    path = campaign_file(tmp_path, f"hf/{tiny_llama_dir}", name="xss")
    path.write_text(
        path.read_text().replace("{source: bundled, limit: 4}", "{source: jsonl, path: xss.jsonl}"),
        encoding="utf-8",
    )
    other = campaign_file(tmp_path, f"hf/{tiny_llama_dir}", name="baseline")
    with open_store(str(tmp_path / "s.db")) as store:
        Campaign(load_campaign(path), tmp_path).run(store, progress=False)
        Campaign(load_campaign(other), tmp_path).run(store, progress=False)
        report, baseline = build_report(store, "xss"), build_report(store, "baseline")
    html = render_html(report)
    assert "<script" not in html and "<img" not in html  # no raw tag of the payload
    assert "&lt;script&gt;alert(&#34;x&#34;)" in html and "&lt;img src=x onerror" in html
    data = report.to_json()
    assert data["attempts"] == 1 + 3 and data["asr"]["n"] == 1
    rows = dict(compare(baseline, report))
    assert rows["overall"].a.n == 4 and rows["overall"].b.n == 1


def test_re_running_a_completed_campaign_sends_nothing(
    tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from haechi.cli.redteam_cmd import app

    path = campaign_file(tmp_path, f"hf/{tiny_qwen2_dir}", "converters: [[], [rot13]]\n")
    db = str(tmp_path / "s.db")

    def run(*flags: str) -> str:
        result = CliRunner().invoke(
            app, ["run", str(path), "--db", db, *flags], env={"COLUMNS": "200", "NO_COLOR": "1"}
        )
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert "sent 11 attempts (0 already stored)" in run()
    again = run()
    assert "already complete (11 attempts stored): nothing sent" in again
    assert "--new-run starts a fresh run" in again
    with open_store(db) as store:
        [first] = store.list_runs(kind="redteam")
    assert "sent 11 attempts (0 already stored)" in run("--new-run")
    with open_store(db) as store:
        runs = store.list_runs(kind="redteam")
        assert [r.status for r in runs] == ["completed", "completed"]
        assert runs[1].id == first.id and len(load_attempts(store, runs[0].id)) == 11
