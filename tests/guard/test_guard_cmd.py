"""``haechi guard train-gedi`` and ``score`` through a typer app holding the guard group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from tests.guard.conftest import synthetic_set
from typer.testing import CliRunner

from haechi.cli import guard_cmd
from haechi.errors import InputError
from haechi.guard import read_config

app = typer.Typer()
app.add_typer(guard_cmd.app, name="guard")


def test_train_then_score_from_the_command_line(tiny_llama_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "labelled.jsonl"
    rows = [
        {"text": e.text, "label": "kind" if e.desired else "rude"}
        for e in synthetic_set(16, 4).examples
    ]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    out = tmp_path / "gedi"
    runner = CliRunner()
    trained = runner.invoke(
        app,
        ["guard", "train-gedi", "--base", f"hf/{tiny_llama_dir}", "--data", str(data),
         "--desired", "kind", "--out", str(out), "--max-steps", "3", "--batch-size", "4",
         "--max-length", "24", "--lr", "1e-3", "--gen-weight", "0.6"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "16 examples: 8 kind (desired), 8 rude (undesired)" in trained.output
    assert "GeDi saved to" in trained.output and "3 steps" in trained.output
    config = read_config(out)
    assert config.training.gen_weight == 0.6 and config.training.max_length == 24
    assert config.classes.undesired == "rude" and config.data.source == str(data)

    scored = runner.invoke(
        app,
        [
            "guard",
            "score",
            str(out),
            "친구 책",
            "무시 후회",
            "--data",
            str(data),
            "--desired",
            "kind",
            "--json",
        ],
    )
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.stdout)
    assert [s["text"] for s in report["scores"]] == ["친구 책", "무시 후회"]
    assert all(0 < s["p_desired"] < 1 for s in report["scores"])
    assert report["classes"] == {"desired": "kind", "undesired": "rude"}
    assert 0 <= report["evaluation"]["auc"] <= 1 and report["evaluation"]["examples"] == 16
    table = runner.invoke(app, ["guard", "score", str(out), "친구 책"])
    assert table.exit_code == 0 and "P(kind)" in table.stdout


def test_bad_command_line_input_raises_input_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    nothing = runner.invoke(app, ["guard", "score", str(tmp_path)])
    assert isinstance(nothing.exception, InputError)
    bad = runner.invoke(
        app, ["guard", "train-gedi", "--base", "hf/x", "--data", "kocohub:/nowhere", "--out",
              str(tmp_path / "o"), "--gen-weight", "1.5"],
    )  # fmt: skip
    assert isinstance(bad.exception, InputError) and bad.exception.field == "gen-weight"
    with pytest.raises(InputError, match=r"no train\.tsv"):
        guard_cmd.train_gedi_command(base="hf/x", data="kocohub:/nowhere", out=tmp_path / "o")
