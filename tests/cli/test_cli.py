"""The command line as a user runs it: a real process, real exit codes and output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from haechi import __version__

# real subprocesses of the CLI or the server: make test-fast leaves them out
pytestmark = pytest.mark.slow


def haechi(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "haechi", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_version_and_help() -> None:
    out = haechi("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"haechi {__version__}"
    helped = haechi("eval", "--help")
    assert helped.returncode == 0
    assert "--data-dir" in helped.stdout and "--fewshot-sampling" in helped.stdout


def test_bad_input_exits_2_naming_the_problem(tiny_llama_dir: Path, tmp_path: Path) -> None:
    unknown = haechi("eval", "--model", f"hf/{tiny_llama_dir}", "--tasks", "ko_arcc")
    assert unknown.returncode == 2
    assert "unknown task or group 'ko_arcc'" in unknown.stderr
    bad_args = haechi("models", "info", f"hf/{tiny_llama_dir}", "--model-args", "dtype=float9")
    assert bad_args.returncode == 2 and "dtype" in bad_args.stderr
    bad_spec = haechi("models", "info", "gpt4")
    assert bad_spec.returncode == 2 and "BACKEND/TARGET" in bad_spec.stderr
    data = tmp_path / "data" / "kobest_copa"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text('{"premise": "p"}\nnot json\n', encoding="utf-8")
    broken = haechi(
        "eval",
        "--model",
        f"hf/{tiny_llama_dir}",
        "--tasks",
        "kobest_copa",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert broken.returncode == 2
    assert f"{data / 'test.jsonl'}:2" in broken.stderr.replace("\n", "")
    missing = haechi("eval", "--model", f"hf/{tiny_llama_dir}")
    assert missing.returncode == 2 and "--tasks" in missing.stderr


def test_models_info_json(tiny_qwen2_dir: Path) -> None:
    out = haechi("models", "info", f"hf/{tiny_qwen2_dir}", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["backend"] == "hf" and info["dtype"] == "float32"
    assert len(info["fingerprint"]) == 16


def test_eval_then_leaderboard(tmp_path: Path) -> None:
    db = str(tmp_path / "board.db")
    run = haechi(
        "eval",
        "--model",
        "mock/tiny-llama",
        "--tasks",
        "kobest,ko_arc",
        "--samples",
        "--num-fewshot",
        "1",
        "--output",
        str(tmp_path / "out"),
        "--log-samples",
        "--db",
        db,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert {"kobest_copa", "kobest_boolq", "ko_arc"} <= set(results["results"])
    assert "kobest" in results["groups"]
    assert (tmp_path / "out" / "samples_ko_arc.jsonl").exists()
    board = haechi("leaderboard", "--db", db, "--include-partial")  # --samples: partial
    assert board.returncode == 0
    acc_norm = results["results"]["ko_arc"]["acc_norm,none"]
    assert f"{100 * acc_norm:.2f}" in board.stdout
    assert "tiny-llama" in board.stdout


def test_demo_runs_on_embedded_defaults(isolated_home: Path) -> None:
    out = haechi("demo")
    assert out.returncode == 0, out.stderr
    assert "randomly initialised" in out.stdout
    assert "hf/<hub id or path>" in out.stdout
    assert "smoke-llama" in out.stdout  # the leaderboard row
    model_dir = isolated_home / "models" / "smoke-llama"
    assert f"smoke model: {model_dir}\n" in out.stdout
    assert f"haechi chat --model hf/{model_dir}\n" in out.stdout
    assert (model_dir / "model.safetensors").is_file()  # where it says


def test_ko_h5_from_a_data_dir_reaches_the_leaderboard(tmp_path: Path) -> None:
    from importlib import resources

    samples = Path(str(resources.files("haechi.tasks").joinpath("samples")))
    data = tmp_path / "data"
    for task in ("ko_arc", "ko_hellaswag", "ko_mmlu", "ko_truthfulqa", "ko_commongen_v2"):
        shutil.copytree(samples / task, data / task)
    db = str(tmp_path / "board.db")
    run = haechi(
        "eval", "--model", "mock/qwen2", "--tasks", "ko_h5", "--data-dir", str(data),
        "--output", str(tmp_path / "out"), "--db", db,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    headline = [
        results["results"]["ko_arc"]["acc_norm,none"],
        results["results"]["ko_hellaswag"]["acc_norm,none"],
        results["results"]["ko_mmlu"]["acc,none"],
        results["results"]["ko_truthfulqa"]["mc2,none"],
        results["results"]["ko_commongen_v2"]["acc_norm,none"],
    ]
    ko_h5 = results["groups"]["ko_h5"]["score,none"]
    assert ko_h5 == pytest.approx(sum(headline) / 5)
    board = haechi("leaderboard", "--db", db)
    assert board.returncode == 0
    assert f"{100 * ko_h5:.2f}" in board.stdout and "ko_h5" in board.stdout
