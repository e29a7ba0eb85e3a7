"""Two models' `haechi generate` runs → a side-by-side review campaign → votes →
`arena ratings --campaign`, and a real pairwise judge on the same pairs compared with the
votes (`arena judge-agreement`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from haechi.review.accounts import DATABASE_OWNER, add_user
from haechi.review.arena import campaign_votes
from haechi.review.labels import submit_label, view_item
from haechi.review.queue import next_item
from haechi.review.results import campaign_results
from haechi.store import open_store

pytestmark = pytest.mark.slow


def haechi(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "HAECHI_DB": db}
    return subprocess.run(
        [sys.executable, "-m", "haechi", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_generate_vote_rate_and_compare_with_a_judge(
    tiny_llama_dir: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "prompt": f"한국의 수도는 어디인가요? ({i})",
                    "category": "culture_history",
                },
                ensure_ascii=False,
            )
            + "\n"
            for i in range(6)
        )
    )
    outputs = []
    for name, folder in (("llama", tiny_llama_dir), ("qwen", tiny_qwen2_dir)):
        out = tmp_path / f"{name}.jsonl"
        done = haechi(
            db,
            "generate",
            "-m",
            f"hf/{folder}",
            "--prompts",
            str(prompts),
            "--out",
            str(out),
            "--max-new-tokens",
            "8",
        )
        assert done.returncode == 0, done.stderr
        outputs.append(out)
    pairs_file = tmp_path / "pairs.jsonl"
    added = haechi(
        db,
        "arena",
        "pairs",
        *map(str, outputs),
        "--campaign",
        "duel",
        "--overlap",
        "1",
        "--judge-input",
        str(pairs_file),
    )
    assert added.returncode == 0 and "6 pairs added" in added.stdout, added.stderr
    with open_store(db) as store:
        add_user(store, "voter", "reviewer", "a long password")
        from haechi.review.campaigns import add_members

        add_members(store, "duel", ["voter"])
        voter = next(
            a
            for a in __import__("haechi.review.accounts", fromlist=["list_users"]).list_users(store)
            if a.username == "voter"
        )
        while (item := next_item(store, "duel", voter)) is not None:
            view = view_item(store, "duel", item, voter)
            submit_label(
                store, "duel", item, voter, {"vote": "a" if int(view.external_id[1:]) % 2 else "b"}
            )
        votes = campaign_votes(campaign_results(store, "duel", DATABASE_OWNER))
    assert len(votes) == 6
    rated = haechi(db, "arena", "ratings", "--campaign", "duel", "--rounds", "50", "--json")
    assert rated.returncode == 0, rated.stderr
    ratings = json.loads(rated.stdout)
    assert ratings["votes"] == 6 and sum(r["wins"] for r in ratings["ratings"]) == 6

    judged = tmp_path / "judged.jsonl"
    judge = haechi(
        db,
        "judge",
        "pairwise",
        "--judge",
        f"hf/{tiny_llama_dir}",
        "--criteria",
        "coherence",
        "--input",
        str(pairs_file),
        "--output",
        str(judged),
    )
    assert judge.returncode == 0, judge.stderr
    compared = haechi(db, "arena", "judge-agreement", "--campaign", "duel", "--judged", str(judged))
    assert compared.returncode == 0, compared.stderr
    # recompute the agreement from the files
    human = {f"p{i}": "a" if i % 2 else "b" for i in range(6)}
    records = [json.loads(x) for x in judged.read_text().splitlines()]
    winners = {
        r["id"]: {"A": "a", "B": "b"}.get(r["pairwise"]["coherence"]["winner"], "tie")
        for r in records
    }
    share = sum(human[k] == winners[k] for k in human) / 6
    assert f"judge = human on {share:.1%}" in compared.stdout
