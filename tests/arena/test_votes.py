"""Vote files in, and ``haechi arena ratings`` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from haechi.arena import RatingOptions, Vote, rate, read_votes
from haechi.errors import InputError


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_winner_spellings(tmp_path: Path) -> None:
    rows = [
        {"model_a": "x", "model_b": "y", "winner": "model_a"},
        {"model_a": "x", "model_b": "y", "winner": "B"},
        {"model_a": "y", "model_b": "x", "winner": " tie "},
        {"model_a": "y", "model_b": "x", "winner": "tie (bothbad)"},
        {"model_a": "y", "model_b": "x", "winner": "both_bad"},
    ]
    votes = read_votes(_write(tmp_path / "votes.jsonl", rows))
    assert [v.outcome for v in votes] == ["a", "b", "tie", "both_bad", "both_bad"]
    csv = tmp_path / "votes.csv"
    csv.write_text("model_a,model_b,winner\n모델가,모델나,a\n", encoding="utf-8")
    assert read_votes(csv) == [Vote("모델가", "모델나", "a")]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"model_a": "x", "winner": "a"}, "model_b"),
        ({"model_a": "x", "model_b": "x", "winner": "a"}, "model_b"),
        ({"model_a": "x", "model_b": "y", "winner": "left"}, "winner"),
    ],
)
def test_bad_votes_name_file_line_and_field(
    tmp_path: Path, row: dict[str, str], field: str
) -> None:
    path = _write(tmp_path / "votes.jsonl", [{"model_a": "x", "model_b": "y", "winner": "a"}, row])
    with pytest.raises(InputError) as caught:
        read_votes(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 2, field)


def _haechi(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "haechi", *args], capture_output=True, text=True, env=env
    )


def test_ratings_command(tmp_path: Path) -> None:
    rows = (
        [{"model_a": "solar", "model_b": "exaone", "winner": "model_a"}] * 6
        + [{"model_a": "exaone", "model_b": "solar", "winner": "model_a"}] * 3
        + [{"model_a": "exaone", "model_b": "kanana", "winner": "model_a"}] * 4
        + [{"model_a": "kanana", "model_b": "solar", "winner": "tie"}] * 2
        + [{"model_a": "kanana", "model_b": "exaone", "winner": "model_a"}]
    )
    path = _write(tmp_path / "votes.jsonl", rows)
    shown = _haechi("arena", "ratings", str(path), "--rounds", "50")
    assert shown.returncode == 0, shown.stderr
    assert "Bradley–Terry ratings from 16 votes" in shown.stdout
    assert "95% interval" in shown.stdout and "observed win rates" in shown.stdout
    order = [shown.stdout.index(m) for m in ("solar", "exaone", "kanana")]
    assert order == sorted(order)

    printed = _haechi("arena", "ratings", str(path), "--rounds", "50", "--json")
    assert printed.returncode == 0, printed.stderr
    data = json.loads(printed.stdout)
    expected = rate(read_votes(path), RatingOptions(rounds=50))
    assert [r["rating"] for r in data["ratings"]] == pytest.approx(
        [r.rating for r in expected.ratings]
    )
    assert data["win_rates"]["models"] == ["solar", "exaone", "kanana"]

    broken = _write(tmp_path / "broken.jsonl", [{"model_a": "a", "model_b": "b", "winner": "?"}])
    refused = _haechi("arena", "ratings", str(broken))
    assert refused.returncode == 2 and f"{broken}:1 field 'winner'" in " ".join(
        refused.stderr.split()
    )
