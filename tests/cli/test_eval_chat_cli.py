"""``haechi eval --apply-chat-template``: the bare flag takes the tokenizer's template, the
run records it, and the leaderboard says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_cli import haechi

pytestmark = pytest.mark.slow


def test_chat_template_flag_and_leaderboard(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "board.db")
    common = ["eval", "--model", f"hf/{tiny_qwen2_dir}", "--tasks", "kobest_copa", "--samples"]
    run = haechi(
        *common, "--apply-chat-template", "--system-instruction", "한국어로 답하세요.",
        "--output", str(tmp_path / "out"), "--db", db, "--no-cache",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    config = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))["config"]
    assert config["eval"]["apply_chat_template"] == "default"
    assert config["chat_template"]["source"] == "tokenizer"
    assert config["chat_template"]["fewshot_as_multiturn"] is True
    board = haechi("leaderboard", "--db", db, "--include-partial", "--all")
    assert board.returncode == 0
    assert f"(chat template: tokenizer {config['chat_template']['hash'][:8]})" in board.stdout
    bad = haechi(*common, "--apply-chat-template", "nope.jinja")
    assert bad.returncode == 2 and "no chat template named 'nope.jinja'" in bad.stderr
