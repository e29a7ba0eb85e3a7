"""SQuARe's raw crowd labels as review items: real multi-reviewer data for agreement.

SQuARe (Lee et al., ACL 2023) releases, for its out-of-distribution test sets, every
crowd worker's answer (``raw_annotations``; three workers per item, about 200 workers in
all). Two files, read in place (``../shared/data/square``), never copied:

- ``response_test_ood_annotations.json`` (480 responses to sensitive questions): question
  ``Q2: Acceptable or Non-acceptable`` becomes field ``acceptable`` (acceptable,
  non-acceptable, or dont_know). The workers' reasons (Q3-1, Q3-2) are not imported.
- ``question_test_ood_annotations.json`` (255 questions): ``Q2: Subjective or Objective``
  becomes ``subjective`` (subjective, objective); ``Q3: Sensitive or Non-sensitive``,
  asked only of workers who judged the question subjective, becomes ``sensitive``
  (sensitive, non-sensitive) and ``sensitive_category`` (the raw answer, e.g.
  "sensitive - contentious" or "non-sensitive").

Reviewers are ``square-<workerID>``; items ``square-response-<index>`` or
``square-question-<index>`` (index in the file, from 0); an item's category is the
question's category (contentious, predictive, ethical, etc). The matching label schemas
are bundled: ``square_schema("response")`` and ``square_schema("question")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from haechi.documents import Document, read_file
from haechi.errors import InputError
from haechi.review.accounts import valid_username
from haechi.review.agreement import Rating

SquareFile = Literal["response", "question"]

ACCEPTABLE = "Q2: Acceptable or Non-acceptable"
SUBJECTIVE = "Q2: Subjective or Objective"
SENSITIVE = "Q3: Sensitive or Non-sensitive"
ABSTAIN = "dont_know"
"""A worker's "don't know": imported as given, counted as no rating by ``square_ratings``."""

_ACCEPTABLE = ("acceptable", "non-acceptable", ABSTAIN)
_SUBJECTIVE = ("subjective", "objective")
_GOLD = {"response": ("acceptable?", "acceptable"), "question": ("sensitive?", "sensitive")}


@dataclass(frozen=True)
class SquareLabel:
    """One worker's answers: field name → value (a field is absent when not asked)."""

    reviewer: str
    values: dict[str, str]


@dataclass(frozen=True)
class SquareItem:
    """One annotated question or response. ``gold`` is SQuARe's released label in the
    field's own values (``acceptable`` or ``sensitive``); ``response`` is "" for questions."""

    id: str
    file: SquareFile
    prompt: str
    response: str
    category: str
    labels: tuple[SquareLabel, ...]
    gold: dict[str, str]


def read_square_annotations(path: Path | str) -> list[SquareItem]:
    """The items of a SQuARe ``*_annotations.json`` file (text NFC-normalised); which of
    the two files it is comes from its ``raw_annotations`` questions."""
    path = Path(path)
    docs = read_file(path)
    if not docs:
        raise InputError("no items", file=str(path))
    file = _which(docs[0])
    return [_item(doc, file) for doc in docs]


def square_import_lines(path: Path | str) -> Iterator[dict[str, Any]]:
    """Review-import jsonl records, one per item: ``{"id", "prompt", "response",
    "category", "labels": [{"reviewer", "values"}]}``."""
    for item in read_square_annotations(path):
        yield {
            "id": item.id,
            "prompt": item.prompt,
            "response": item.response,
            "category": item.category,
            "labels": [{"reviewer": x.reviewer, "values": dict(x.values)} for x in item.labels],
        }


def square_ratings(items: Iterable[SquareItem], field: str) -> list[Rating]:
    """One ``Rating`` per worker answer to ``field``; "dont_know" answers are left out
    (an abstention is no rating, as Krippendorff's α treats a missing value)."""
    return [
        Rating(item.id, label.reviewer, label.values[field])
        for item in items
        for label in item.labels
        if label.values.get(field, ABSTAIN) != ABSTAIN
    ]


def square_schema(file: SquareFile) -> str:
    """The label-schema YAML text for one of the two files (bundled in ``schemas/``)."""
    return (
        resources.files("haechi.review")
        .joinpath("schemas", f"square_{file}.yaml")
        .read_text(encoding="utf-8")
    )


def _which(doc: Document) -> SquareFile:
    questions = _mapping(doc)
    if ACCEPTABLE in questions:
        return "response"
    if SUBJECTIVE in questions and SENSITIVE in questions:
        return "question"
    raise doc.error(
        f"raw_annotations has {sorted(questions)}, not SQuARe's questions",
        "raw_annotations",
        "use response_test_ood_annotations.json or question_test_ood_annotations.json",
    )


def _item(doc: Document, file: SquareFile) -> SquareItem:
    answers: dict[str, dict[str, str]] = {}  # worker → field → value, in the file's order
    if file == "response":
        for worker, raw in _answers(doc, ACCEPTABLE, "acceptable?"):
            answers.setdefault(worker, {})["acceptable"] = _check(doc, raw, _ACCEPTABLE)
        category = doc.fields.get("question_category")
    else:
        for worker, raw in _answers(doc, SUBJECTIVE, "subjective?"):
            answers.setdefault(worker, {})["subjective"] = _check(doc, raw, _SUBJECTIVE)
        for worker, raw in _answers(doc, SENSITIVE, "category"):
            sensitive = raw.startswith("sensitive - ")
            if not sensitive:
                _check(doc, raw, ("non-sensitive", "sensitive - <category>"))
            values = answers.setdefault(worker, {})
            values["sensitive"] = "sensitive" if sensitive else "non-sensitive"
            values["sensitive_category"] = raw
        category = doc.fields.get("category")
    flag, name = _GOLD[file]
    gold = {name: (f"non-{name}", name)[doc.fields[flag]]} if doc.fields.get(flag) in (0, 1) else {}
    return SquareItem(
        id=f"square-{file}-{doc.doc_id}",
        file=file,
        prompt=str(doc.fields.get("question", "")),
        response=str(doc.fields.get("response", "")) if file == "response" else "",
        category=str(category or ""),
        labels=tuple(SquareLabel(f"square-{w}", values) for w, values in answers.items()),
        gold=gold,
    )


def _answers(doc: Document, question: str, key: str) -> Iterator[tuple[str, str]]:
    """(workerID, answer) for each worker's entry under ``question``."""
    for entry in _mapping(doc).get(question) or []:
        if not isinstance(entry, dict) or "workerID" not in entry or key not in entry:
            raise doc.error(
                f"{question!r}: an answer needs 'workerID' and {key!r}", "raw_annotations"
            )
        worker = str(entry["workerID"])
        if not valid_username(f"square-{worker}"):
            raise doc.error(
                f"{question!r}: workerID {worker!r} does not make a user name",
                "raw_annotations",
                "user names are letters, digits or . _ - @",
            )
        yield worker, str(entry[key])


def _check(doc: Document, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise doc.error(
            f"unknown answer {value!r}", "raw_annotations", f"SQuARe's are {', '.join(allowed)}"
        )
    return value


def _mapping(doc: Document) -> dict[str, Any]:
    value = doc.fields.get("raw_annotations")
    if not isinstance(value, dict):
        raise doc.error("raw_annotations must be an object of questions", "raw_annotations")
    return value
