"""Generation runs over a suite: appended lines, resume after a torn file or a kill, the
recorded configuration, and refusals that name the file and line."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from haechi.arena import GenerationSettings, load_suite, run_generation
from haechi.arena.generation import config_path, prompt_seed
from haechi.errors import InputError
from haechi.models import LanguageModel, load

GREEDY = GenerationSettings(max_new_tokens=6)


@pytest.fixture(scope="module")
def model(tiny_llama_dir: Path) -> LanguageModel:
    return load(f"hf/{tiny_llama_dir}")


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    """Ten prompts of the bundled suite and one conversation."""
    bundled = load_suite("ko_basic").path.read_text(encoding="utf-8").splitlines()
    conversation = {
        "id": "chat-1",
        "category": "chat",
        "messages": [
            {"role": "user", "content": "안녕?"},
            {"role": "assistant", "content": "안녕하세요!"},
            {"role": "user", "content": "오늘 뭐 해?"},
        ],
    }
    path = tmp_path / "prompts.jsonl"
    lines = [*bundled[::8][:9], json.dumps(conversation, ensure_ascii=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict[str, object]]:
    """The records of a jsonl file (lines end at "\\n" only, as in haechi.io)."""
    return [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x]


def test_resume_after_a_torn_file_gives_the_same_answers(
    model: LanguageModel, prompts: Path, tmp_path: Path
) -> None:
    suite = load_suite(prompts)
    whole = run_generation(model, suite, GREEDY, tmp_path / "whole.jsonl", batch_size=4)
    assert (whole.total, whole.skipped, whole.generated) == (10, 0, 10)
    reference = _lines(whole.out)
    assert [r["id"] for r in reference] == [p.id for p in suite.prompts]
    first = reference[0]
    assert first["model"] == model.name and first["fingerprint"] == model.fingerprint
    assert first["settings"] == GREEDY.model_dump() and first["finish_reason"] == "length"
    assert reference[-1]["messages"] and reference[-1]["prompt"] is None

    # A run killed while writing its second batch: one batch done, half a line after it.
    torn = tmp_path / "torn.jsonl"
    text = whole.out.read_text(encoding="utf-8").splitlines(keepends=True)
    torn.write_text("".join(text[:4]) + text[4][:30], encoding="utf-8")
    resumed = run_generation(model, suite, GREEDY, torn, batch_size=4)
    assert (resumed.skipped, resumed.generated) == (4, 6)
    assert _lines(torn) == reference  # no duplicate, nothing lost, same greedy answers
    again = run_generation(model, suite, GREEDY, torn, batch_size=4)
    assert (again.skipped, again.generated) == (10, 0) and _lines(torn) == reference

    config = json.loads(config_path(torn).read_text(encoding="utf-8"))
    assert config_path(torn) == tmp_path / "torn.config.json"
    assert config["suite"]["sha256"] == suite.sha256 and config["suite"]["prompts"] == 10
    assert config["model_config"] == model.describe() and config["status"] == "complete"
    assert config["settings"] == GREEDY.model_dump() and "torch" in config["versions"]


def test_sampled_answers_do_not_depend_on_resuming(
    model: LanguageModel, prompts: Path, tmp_path: Path
) -> None:
    full = load_suite(prompts)
    suite = dataclasses.replace(full, prompts=full.prompts[:5])
    sampled = GenerationSettings(max_new_tokens=4, temperature=1.0, seed=11, n=2)
    whole = run_generation(model, suite, sampled, tmp_path / "whole.jsonl", batch_size=3)
    reference = _lines(whole.out)
    assert all(len(r["responses"]) == 2 for r in reference)  # type: ignore[arg-type]
    assert reference[0]["seed"] == prompt_seed(11, suite.prompts[0].id)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(f"{json.dumps(r, ensure_ascii=False)}\n" for r in reference[:2]))
    run_generation(model, suite, sampled, part, batch_size=2)
    assert _lines(part) == reference


def test_a_file_of_other_settings_is_refused(
    model: LanguageModel, prompts: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    suite = load_suite(prompts)
    run_generation(model, suite, GREEDY, out, batch_size=10)
    with pytest.raises(InputError, match="other settings") as caught:
        run_generation(model, suite, GenerationSettings(max_new_tokens=7), out)
    assert (caught.value.file, caught.value.line) == (str(out), 1)
    out.write_text(out.read_text(encoding="utf-8") + "{oops\n", encoding="utf-8")
    with pytest.raises(InputError, match="not JSON") as caught:
        run_generation(model, suite, GREEDY, out)
    assert caught.value.line == 11


def test_resume_reads_lines_holding_unicode_line_separators(
    model: LanguageModel, tmp_path: Path
) -> None:
    """U+2028, U+2029 and U+0085 are written raw (ensure_ascii=False) inside a line; the
    resume must not split the line there."""
    odd = "줄\u2028바꿈\u2029문단\u0085다음"
    prompts = tmp_path / "odd.jsonl"
    records = [{"id": f"o{i}", "prompt": f"{odd} {i}"} for i in range(3)]
    prompts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    out = tmp_path / "out.jsonl"
    run_generation(model, load_suite(prompts), GREEDY, out)
    assert out.read_text(encoding="utf-8").count("\n") == 3 and "\u2028" in out.read_text()
    again = run_generation(model, load_suite(prompts), GREEDY, out)
    assert (again.skipped, again.generated) == (3, 0)
    assert [r["prompt"] for r in _lines(out)] == [r["prompt"] for r in records]


def _haechi(*args: str) -> list[str]:
    return [sys.executable, "-m", "haechi", *args]


@pytest.mark.slow
def test_a_killed_run_resumes(
    model: LanguageModel, prompts: Path, tmp_path: Path, tiny_llama_dir: Path
) -> None:
    """SIGKILL mid-run loses at most the batch in flight: the lines written stay as they
    are, and the rerun completes the file without a duplicate."""
    out = tmp_path / "killed.jsonl"
    args = ["generate", "--model", f"hf/{tiny_llama_dir}", "--prompts", str(prompts),
            "--out", str(out), "--max-new-tokens", "16", "--batch-size", "1"]  # fmt: skip
    process = subprocess.Popen(_haechi(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not out.exists() or out.read_bytes().count(b"\n") < 2:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    kept = out.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in kept if line.endswith("\n")]  # a torn last line is dropped
    assert 2 <= len(kept) < 10
    suite = load_suite(prompts)
    resumed = run_generation(model, suite, GenerationSettings(max_new_tokens=16), out)
    assert (resumed.skipped, resumed.generated) == (len(kept), 10 - len(kept))
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[: len(kept)] == kept
    assert [json.loads(line)["id"] for line in lines] == [p.id for p in suite.prompts]


def test_cli_bad_prompt_line_exits_2_naming_it(tmp_path: Path, tiny_llama_dir: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "prompt": "좋아"}\n{"id": 2}\n', encoding="utf-8")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    args = ["generate", "--model", f"hf/{tiny_llama_dir}", "--prompts", str(bad),
            "--out", str(tmp_path / "o.jsonl")]  # fmt: skip
    result = subprocess.run(_haechi(*args), capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert f"{bad}:2 field 'prompt'" in " ".join(result.stderr.split())
    assert not (tmp_path / "o.jsonl").exists()
    listed = subprocess.run(
        _haechi("generate", "--list-suites"), capture_output=True, text=True, env=env
    )
    assert listed.returncode == 0 and "ko_basic" in listed.stdout and "존댓말/반말" in listed.stdout
