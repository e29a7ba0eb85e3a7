"""benchmarks/pipeline_example.py runs SOLAR's recipe end to end at ``--tiny`` size: every
stage's output feeds the next, and each stage leaves the numbers the README points to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_upscale_heal_sft_dpo_merge_eval_redteam(tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="build train needs the train extra")
    summary_file = tmp_path / "summary.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pipeline_example.py"), "--tiny",
         "--work", str(tmp_path / "work"), "--json", str(summary_file)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    work = tmp_path / "work"
    verbs = [" ".join(c["command"].split()[1:3]) for c in summary["commands"]]
    assert verbs == [
        "build upscale", "build train", "build train", "generate -m", "generate -m",
        "arena pairs", "review export", "build train", "build merge", "eval --model",
        "redteam run", "eval --model", "redteam run", "redteam diff",
    ]  # fmt: skip
    before, after = summary["heal_perplexity"]
    assert after < before  # healing lowers the up-scaled model's held-out perplexity
    # every arena prompt got one scripted vote; DPO trained on the decided ones, and the
    # policy's preference margin on them moved away from the reference's zero
    votes = summary["votes"]
    assert sum(votes.values()) == summary["size"]["prompts"]
    assert summary["dpo_pairs"] == votes["a"] + votes["b"] > 0
    first, last = summary["dpo_margin"]
    assert first == 0.0 and last > 0.0
    # the merge's recipe names both inputs; both models were scored and attacked
    recipe = (work / "merged" / "merge.yaml").read_text(encoding="utf-8")
    assert "sft/model" in recipe and "dpo/model" in recipe
    assert set(summary["kobest_copa_acc"]) == {"heal", "merged"}
    for name, rates in summary["attack_success"].items():
        assert 0.0 <= rates["asr"] <= 1.0 and 0.0 <= rates["over_refusal"] <= 1.0, name
