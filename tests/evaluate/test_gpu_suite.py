"""benchmarks/gpu_suite.py runs end to end on CPU with ``--tiny`` (what a GPU run does,
on a tiny model and three documents per task), and its numbers hang together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_suite_tiny_runs_on_cpu(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval", reason="lm-eval is a dev dependency")
    out = tmp_path / "suite.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_suite.py"), "--tiny", "--docs", "3",
         "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [r["task"] for r in document["rows"]] == ["arc_challenge", "hellaswag", "mmlu"]
    for row in document["rows"]:
        assert row["same_acc"] and row["max_abs_ll_diff"] < 1e-4, row
        # haechi forwards at most 1.10x the floor, lm-eval one full sequence per choice
        assert row["floor_tokens"] <= row["haechi_tokens"] <= 1.10 * row["floor_tokens"], row
        assert row["haechi_tokens"] < row["lm_eval_tokens"], row
        assert row["floor_seconds"] is None  # no peak FLOP/s is known for a CPU
    memory = document["memory"]
    assert memory["measured_bytes"] > 0 and abs(memory["relative_error"]) < 0.25, memory
    assert "| arc_challenge | 25 |" in done.stdout
