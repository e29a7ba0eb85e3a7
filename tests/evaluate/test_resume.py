"""Kill an evaluation at any point; the same command resumes it and gives the same numbers."""

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

from haechi.evaluate import EvalConfig, ResponseCache, evaluate
from haechi.models import load
from haechi.store import open_store


def eval_command(out: Path, cache: Path, db: Path) -> list[str]:
    return [
        sys.executable, "-m", "haechi", "eval", "--model", "mock/resume",
        "--tasks", "ko_arc,ko_hellaswag,kobest_copa", "--samples", "--num-fewshot", "2",
        "--model-args", "latency=0.05",  # slow enough for the kill to land mid-run
        "--chunk-size", "2", "--cache", str(cache), "--db", str(db), "--output", str(out),
        "--log-samples",
    ]  # fmt: skip


def cached_rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(cache, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:  # table not created yet
        return 0


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path: Path) -> None:
    cache, db = tmp_path / "cache.sqlite", tmp_path / "runs.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    victim = subprocess.Popen(
        eval_command(tmp_path / "killed", cache, db),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while cached_rows(cache) < 6 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done_before = cached_rows(cache)
    assert 0 < done_before < 45, "the kill should land mid-run (45 requests in all)"
    assert not (tmp_path / "killed" / "results.json").exists()

    resumed = subprocess.run(
        eval_command(tmp_path / "resumed", cache, db),
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    stats = json.loads((tmp_path / "resumed" / "results.json").read_text())["stats"]
    assert stats["cached_requests"] == done_before

    # an uninterrupted run, with a fresh cache, gives byte-identical samples and results
    fresh = subprocess.run(
        eval_command(tmp_path / "fresh", tmp_path / "other.sqlite", tmp_path / "o.db"),
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    for name in ("samples_ko_arc.jsonl", "samples_ko_hellaswag.jsonl", "samples_kobest_copa.jsonl"):
        assert (tmp_path / "resumed" / name).read_bytes() == (
            tmp_path / "fresh" / name
        ).read_bytes()
    fresh_stats = json.loads((tmp_path / "fresh" / "results.json").read_text())["stats"]
    assert fresh_stats["cached_requests"] == 0
    assert stats["naive_tokens"] < fresh_stats["naive_tokens"]  # the resumed run skipped work
    resumed_results = json.loads((tmp_path / "resumed" / "results.json").read_text())["results"]
    fresh_results = json.loads((tmp_path / "fresh" / "results.json").read_text())["results"]
    assert resumed_results == fresh_results

    # the killed run's record was taken over, not left "running"
    with open_store(str(db)) as store:
        runs = store.list_runs()
    assert [r.status for r in runs] == ["completed"]


def test_cache_hits_skip_the_model(tmp_path: Path) -> None:
    model = load("mock/resume")
    cache = ResponseCache(tmp_path / "c.sqlite")
    config = EvalConfig(tasks=["kobest_copa"], samples=True)
    first = evaluate(model, config, cache=cache, progress=False)
    forwarded = model.stats.forwarded_tokens
    second = evaluate(model, config, cache=cache, progress=False)
    assert model.stats.forwarded_tokens == forwarded
    assert second.document["stats"]["cached_requests"] == first.document["stats"]["requests"]
    assert second.document["results"] == first.document["results"]
    other = load("mock/resume", seed="1")  # another fingerprint: no hits
    third = evaluate(other, config, cache=cache, progress=False)
    assert third.document["stats"]["cached_requests"] == 0
    cache.close()
