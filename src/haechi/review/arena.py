"""Side-by-side votes as a review campaign: two models' answers to the same prompts become
items (A and B in a seeded random order, model names hidden until the reviewer votes);
the votes become Bradley–Terry ratings and can be compared with a pairwise judge.

Votes go through the same queue, authorization and exactly-once label storage as every
other review label. The model behind A and B travels in the item's ``verdicts``, which a
reviewer sees only after voting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from haechi.arena.votes import Vote, parse_outcome
from haechi.errors import InputError
from haechi.io import read_jsonl_objects
from haechi.review.agreement import Rating, cohen_kappa, majority_label
from haechi.review.import_files import generated_prompt
from haechi.review.imports import ImportLine
from haechi.review.label_schema import LabelSchema, parse_schema_text
from haechi.review.results import CampaignResults, ReviewedItem

VOTE_FIELD = "vote"


def arena_schema() -> LabelSchema:
    """The bundled vote schema: A better, B better, tie, both bad (and a note)."""
    text = resources.files("haechi.review").joinpath("schemas/arena.yaml").read_text("utf-8")
    return parse_schema_text(text, "arena.yaml")


@dataclass(frozen=True)
class Answer:
    id: str
    category: str
    prompt: str
    response: str
    model: str


def read_answers(path: Path) -> dict[str, Answer]:
    """``haechi generate`` output (or any jsonl with id, prompt, response, model) by id;
    a conversation's prompt is its last user message. Errors name the file and line (an
    id twice: both lines)."""
    answers: dict[str, Answer] = {}
    lines: dict[str, int] = {}
    for number, data in read_jsonl_objects(path):
        data = {**data, "prompt": generated_prompt(data)}
        for name in ("id", "prompt", "response", "model"):
            if not isinstance(data.get(name), str):
                raise InputError("must be a string", file=str(path), line=number, field=name)
        if data["id"] in lines:
            raise InputError(
                f"id {data['id']!r} is already on line {lines[data['id']]}",
                file=str(path),
                line=number,
                field="id",
            )
        lines[data["id"]] = number
        answers[data["id"]] = Answer(
            data["id"],
            str(data.get("category") or ""),
            data["prompt"],
            data["response"],
            data["model"],
        )
    return answers


def _name(answers: dict[str, Answer], path: Path) -> str:
    names = {a.model for a in answers.values()}
    if len(names) != 1:
        raise InputError(
            f"one model per file, found {sorted(names)}", file=str(path), field="model"
        )
    return names.pop()


def pair_lines(first: Path, second: Path, seed: int = 0) -> list[ImportLine]:
    """Items for every prompt id both files answered, A/B order drawn per item from
    ``seed`` and the id (so re-importing gives the same order)."""
    a, b = read_answers(first), read_answers(second)
    name_a, name_b = _name(a, first), _name(b, second)
    if name_a == name_b:
        raise InputError(f"both files hold answers of {name_a!r}", file=str(second), field="model")
    lines = []
    for prompt_id in sorted(set(a) & set(b)):
        pair = [a[prompt_id], b[prompt_id]]
        if random.Random(f"{seed}:{prompt_id}").random() < 0.5:
            pair.reverse()
        left, right = pair
        lines.append(
            ImportLine(
                id=prompt_id,
                prompt=left.prompt,
                response="",
                category=left.category,
                chain={"arena": {"a": left.response, "b": right.response}},
                verdicts=[
                    {"detector": "A", "model": left.model},
                    {"detector": "B", "model": right.model},
                ],
            )
        )
    if not lines:
        raise InputError("the two files share no prompt id", file=str(second), field="id")
    return lines


def judge_pairs(lines: list[ImportLine]) -> list[dict[str, str]]:
    """The same pairs as ``haechi judge pairwise`` input (A and B in the same order)."""
    return [
        {
            "id": line.external_id(),
            "source": line.prompt,
            "output_a": line.chain["arena"]["a"],
            "output_b": line.chain["arena"]["b"],
        }
        for line in lines
    ]


def _models(item: ReviewedItem) -> tuple[str, str] | None:
    """The models behind A and B; ``None`` for an item stored without them (imports
    refuse such items now, but older stores may hold some)."""
    by_side = {v.get("detector"): v.get("model") for v in item.verdicts}
    a, b = by_side.get("A"), by_side.get("B")
    return (a, b) if isinstance(a, str) and isinstance(b, str) else None


def campaign_votes(results: CampaignResults) -> list[Vote]:
    """Every reviewer's vote, with the models behind A and B."""
    votes = []
    for item in results.items:
        models = _models(item) if "arena" in item.chain else None
        if models is None:
            continue
        for label in item.labels:
            outcome = label.values.get(VOTE_FIELD)
            if outcome in ("a", "b", "tie", "both_bad"):
                votes.append(Vote(*models, parse_outcome(outcome)))
    return votes


@dataclass(frozen=True)
class JudgeAgreement:
    """Human majority vote vs the judge's winner on the same pairs (both-bad counts as a
    tie): ``agreement`` is the share of pairs where they match, ``kappa`` Cohen's kappa."""

    pairs: int
    agreement: float
    kappa: float
    confusion: dict[str, dict[str, int]]


def judge_agreement(
    results: CampaignResults, judged: list[dict[str, Any]], criterion: str | None = None
) -> JudgeAgreement:
    """Compare with ``haechi judge pairwise`` output on pairs written by ``judge_pairs``
    (its A and B are the campaign's A and B)."""
    human: dict[str, str] = {}
    for item in results.items:
        ratings = [
            Rating(item.external_id, label.reviewer, _side(label.values.get(VOTE_FIELD)))
            for label in item.labels
        ]
        decided = majority_label([r for r in ratings if r.value is not None])
        if decided is not None:
            human[item.external_id] = str(decided)
    pairs: list[tuple[str, str]] = []
    for record in judged:
        verdicts = record.get("pairwise") or {}
        name = criterion or next(iter(verdicts), None)
        if name is None or name not in verdicts:
            raise InputError(f"no verdict for criterion {name!r}", field="pairwise")
        judge = {"A": "a", "B": "b"}.get(verdicts[name]["winner"], "tie")
        if str(record.get("id")) in human:
            pairs.append((human[str(record["id"])], judge))
    if not pairs:
        raise InputError("no pair has both a human vote and a judge verdict", field="id")
    confusion: dict[str, dict[str, int]] = {}
    for h, j in pairs:
        confusion.setdefault(h, {}).setdefault(j, 0)
        confusion[h][j] += 1
    agreement = sum(h == j for h, j in pairs) / len(pairs)
    return JudgeAgreement(len(pairs), agreement, cohen_kappa(pairs), confusion)


def _side(value: object) -> str | None:
    if value in ("a", "b"):
        return str(value)
    return "tie" if value in ("tie", "both_bad") else None
