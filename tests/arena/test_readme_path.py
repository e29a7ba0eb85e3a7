"""README's generate → review and generate → side-by-side commands, run as written: the
checkpoints they name are the tiny test models, linked under those names, and each
`haechi generate` gets `--max-new-tokens 8` appended (512 tokens of a random model over 80
prompts take minutes and test nothing more)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from haechi.review.accounts import DATABASE_OWNER, add_user
from haechi.review.campaigns import members
from haechi.review.results import campaign_results
from haechi.store import open_store

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands(heading: str) -> list[list[str]]:
    """The commands of the first bash block under ``heading`` (``;`` splits a line, ``#``
    starts a comment, a trailing backslash continues it)."""
    text = README.read_text(encoding="utf-8").split(f"\n{heading}\n", 1)[1]
    block = text.split("```bash\n", 1)[1].split("\n```", 1)[0].replace("\\\n", " ")
    return [
        shlex.split(part, comments=True)
        for line in block.splitlines()
        for part in line.split(";")
        if part.strip()
    ]


def run(command: list[str], cwd: Path, db: str) -> subprocess.CompletedProcess[str]:
    assert command[0] == "haechi"
    if command[1] == "generate":
        command = [*command, "--max-new-tokens", "8"]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "HAECHI_DB": db}
    return subprocess.run(
        [sys.executable, "-m", "haechi", *command[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_generate_then_review_and_side_by_side_as_the_readme_says(
    tiny_llama_dir: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'readme.db'}"
    (tmp_path / "checkpoints").mkdir()
    for link, target in (
        ("checkpoints/0420", tiny_llama_dir),
        ("ckpt-a", tiny_llama_dir),
        ("ckpt-b", tiny_qwen2_dir),
    ):
        (tmp_path / link).symlink_to(target)
    with open_store(db) as store:
        for name in ("minji", "jisoo"):
            add_user(store, name, "reviewer", "long enough secret")

    generating = readme_commands("### Generating over a prompt suite")
    local = [c for c in generating if "hf/./checkpoints/0420" in c or c[1] == "review"]
    assert [c[1] for c in local] == ["generate", "review"]
    for command in local:
        done = run(command, tmp_path, db)
        assert done.returncode == 0, (command, done.stderr)
    answers = [json.loads(x) for x in (tmp_path / "runs/0420.jsonl").read_text().split("\n") if x]
    with open_store(db) as store:
        campaign = local[1][local[1].index("--campaign") + 1]
        items = campaign_results(store, campaign, DATABASE_OWNER).items
        assert members(store, campaign) == ["minji"]
    assert len(items) == len(answers) == 80
    by_id = {i.external_id: i for i in items}
    for answer in answers:
        got = by_id[answer["id"]]
        assert (got.prompt, got.response, got.category) == (
            answer["prompt"],
            answer["response"],
            answer["category"],
        )
        assert got.verdicts[0]["model"] == answer["model"]  # shown after the label

    # the users added in the block exist already (added above)
    voting = [c for c in readme_commands("### Side-by-side votes") if c[0] == "haechi"]
    assert voting[0][:2] == ["haechi", "generate"] and "-o" in voting[0]
    for command in voting[:3]:
        done = run(command, tmp_path, db)
        assert done.returncode == 0, (command, done.stderr)
    assert "80 pairs added" in done.stdout
    with open_store(db) as store:
        pairs = campaign_results(store, "a-vs-b", DATABASE_OWNER).items
        assert members(store, "a-vs-b") == ["jisoo", "minji"]
    assert len(pairs) == 80 and all(set(p.chain["arena"]) == {"a", "b"} for p in pairs)
    models = {v["model"] for p in pairs for v in p.verdicts}
    assert len(models) == 2
    assert len((tmp_path / "pairs.jsonl").read_text().splitlines()) == 80
