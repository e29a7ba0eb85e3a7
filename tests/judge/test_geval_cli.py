"""``haechi judge geval`` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from haechi.store import open_store

# real subprocesses of the CLI or the server: make test-fast leaves them out
pytestmark = pytest.mark.slow


def test_geval_command_scores_and_stores(tiny_llama_dir: Path, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    rows = [
        {
            "id": "1",
            "doc_id": "d",
            "system": "m1",
            "source": "질문: 서울은 어디에 있나요?",
            "output": "한국에 있습니다.",
        },
        {
            "id": "2",
            "doc_id": "d",
            "system": "m2",
            "source": "질문: 서울은 어디에 있나요?",
            "output": "몰라요.",
        },
    ]
    items.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    out, db = tmp_path / "scored.jsonl", tmp_path / "runs.db"
    command = [
        sys.executable, "-m", "haechi", "judge", "geval", "--judge", f"hf/{tiny_llama_dir}",
        "--criteria", "accuracy_ko,naturalness_ko", "--input", str(items), "--output", str(out),
        "--db", str(db), "--cache", str(tmp_path / "cache.sqlite"),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300
    )
    assert done.returncode == 0, done.stderr
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [s["id"] for s in scored] == ["1", "2"]
    for s in scored:
        assert set(s["scores"]) == {"accuracy_ko", "naturalness_ko"}
        assert all(1 <= v <= 5 for v in s["scores"].values())
        assert s["details"]["accuracy_ko"]["method"] == "logprobs"
    with open_store(str(db)) as store:
        (run,) = store.list_runs(kind="judge")
    assert {r.task for r in run.results} == {"accuracy_ko", "naturalness_ko"}
    assert run.config["steps_hashes"].keys() == {"accuracy_ko", "naturalness_ko"}

    missing = tmp_path / "bad.jsonl"
    missing.write_text('{"id": "1", "source": "s"}\n', encoding="utf-8")
    bad = subprocess.run(
        [*command[:9], "--input", str(missing), "--output", str(out)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "output" in bad.stderr and "bad.jsonl:1" in bad.stderr


def test_pairwise_command_counts_winners(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {
            "id": "p1",
            "source": "요약하세요: 서울은 수도다.",
            "output_a": "서울은 수도다.",
            "output_b": "부산",
        },
        {"id": "p2", "source": "번역: cat", "output_a": "고양이", "output_b": "개"},
    ]
    pairs.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    out = tmp_path / "winners.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "haechi", "judge", "pairwise", "--judge", f"hf/{tiny_qwen2_dir}",
         "--criteria", "helpfulness_ko", "--input", str(pairs), "--output", str(out)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["p1", "p2"]
    for r in records:
        verdict = r["pairwise"]["helpfulness_ko"]
        first, second = verdict["orders"]
        agreed = first == {"A": "B", "B": "A"}[second]
        assert verdict["winner"] == (first if agreed else "tie")
