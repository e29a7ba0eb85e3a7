"""Side-by-side votes in a review campaign: random A/B order with hidden models, votes
mapped back to models, Bradley–Terry ratings, and agreement with a pairwise judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.review.conftest import PASSWORD

from haechi.arena import RatingOptions, rate
from haechi.errors import InputError
from haechi.review.accounts import DATABASE_OWNER, add_user
from haechi.review.arena import (
    arena_schema,
    campaign_votes,
    judge_agreement,
    judge_pairs,
    pair_lines,
)
from haechi.review.campaigns import add_members, create_campaign
from haechi.review.imports import import_lines
from haechi.review.labels import submit_label, view_item
from haechi.review.queue import next_item
from haechi.review.results import campaign_results
from haechi.store import open_store


def write_answers(path: Path, model: str, n: int) -> Path:
    lines = [
        {
            "id": f"p{i}",
            "category": "reasoning",
            "prompt": f"질문 {i}",
            "response": f"{model.split('/')[-1]}의 답 {i}",
            "model": model,
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    return path


def test_pairs_are_shuffled_reproducibly_and_hide_the_models(tmp_path: Path) -> None:
    a = write_answers(tmp_path / "a.jsonl", "hf/good", 40)
    b = write_answers(tmp_path / "b.jsonl", "hf/bad", 30)
    lines = pair_lines(a, b, seed=1)
    assert [x.id for x in lines] == sorted(f"p{i}" for i in range(30))  # shared ids only
    firsts = [x.verdicts[0]["model"] for x in lines]
    assert 5 < firsts.count("hf/good") < 25  # both orders occur
    assert [x.verdicts for x in pair_lines(a, b, seed=1)] == [x.verdicts for x in lines]
    for line in lines:
        side_a = line.verdicts[0]["model"]
        assert line.chain["arena"]["a"].startswith(side_a.removeprefix("hf/"))
        assert "hf/" not in json.dumps(line.chain) and line.response == ""
    pairs = judge_pairs(lines)
    assert pairs[0]["output_a"] == lines[0].chain["arena"]["a"]
    with pytest.raises(InputError, match="both files"):
        pair_lines(a, a)


def test_votes_become_ratings_of_the_models(tmp_path: Path) -> None:
    a = write_answers(tmp_path / "a.jsonl", "hf/good", 12)
    b = write_answers(tmp_path / "b.jsonl", "hf/bad", 12)
    lines = pair_lines(a, b)
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        voter = add_user(store, "voter", "reviewer", PASSWORD)
        campaign = create_campaign(store, "duel", arena_schema(), overlap=1)
        add_members(store, "duel", ["voter"])
        import_lines(store, campaign, lines, "arena")
        while (item := next_item(store, "duel", voter)) is not None:
            view = view_item(store, "duel", item, voter)
            assert view.verdicts is None  # models hidden before the vote
            good_is_a = "good" in view.chain["arena"]["a"]
            # the voter prefers "good" on 9 of 12 prompts, ties on the rest
            prefers = int(view.external_id[1:]) < 9
            vote = ("a" if good_is_a else "b") if prefers else "tie"
            submit_label(store, "duel", item, voter, {"vote": vote})
            assert view_item(store, "duel", item, voter).verdicts is not None
        results = campaign_results(store, "duel", DATABASE_OWNER)
    votes = campaign_votes(results)
    assert len(votes) == 12
    ratings = rate(votes, RatingOptions(rounds=0, prior=0))
    good, bad = (r for r in ratings.ratings)
    assert (good.model, good.wins, good.losses, good.ties) == ("hf/good", 9, 0, 3)
    # MLE with ties as half wins: p = 10.5/12, so good - bad = 400 log10(p/(1-p))
    assert good.rating - bad.rating == pytest.approx(400 * 0.845098, abs=1e-3)

    judged = [
        {"id": p["id"], "pairwise": {"helpfulness": {"winner": winner}}}
        for p, winner in zip(judge_pairs(lines), ["A", "B", "tie"] * 4, strict=True)
    ]
    agreement = judge_agreement(results, judged)
    human = {
        item.external_id: item.labels[0].values["vote"].replace("both_bad", "tie")
        for item in results.items
    }
    expected = [
        human[j["id"]] == {"A": "a", "B": "b", "tie": "tie"}[j["pairwise"]["helpfulness"]["winner"]]
        for j in judged
    ]
    assert agreement.pairs == 12 and agreement.agreement == pytest.approx(sum(expected) / 12)
    assert sum(sum(row.values()) for row in agreement.confusion.values()) == 12
