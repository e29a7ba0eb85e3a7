"""Reading judge scores and human ratings for meta-evaluation, and joining them by id.

Four layouts are read. The layout is detected from the keys of a file's first row (the
file's suffix only decides jsonl vs a JSON list), and every later row must hold that
layout's required fields:

1. **G-Eval results** — a row has ``all_responses``: the G-Eval repository's
   ``results/gpt4_<coh|con|flu|rel>_detailed.json``, a JSON list of summeval.json rows
   plus ``prompt`` and ``all_responses`` (the judge's sampled answers to one criterion).
   As the *judge* side, the score is the mean of the parsable answers (parsed with
   :func:`~haechi.judge.parsing.parse_score` within the criterion's score range); the
   unparsable ones are counted in ``ScoredItem.unparsed``, not scored 0 as the original
   code did, and an item with none parsable has no score. The criterion is the one named
   by the caller, else the one the file name names (``coh``/``coherence``,
   ``con``/``consistency``, ``flu``/``fluency``, ``rel``/``relevance``). As the *human*
   side, its ``scores`` are read like summeval.json's.
2. **G-Eval summeval.json** — a row has ``system_output``: ``doc_id``, ``system_id``,
   ``scores`` (criterion → the human average).
3. **SummEval jsonl** — a row has ``expert_annotations``: ``id`` (the source document),
   ``model_id``, ``expert_annotations`` (a list of criterion → score objects); a criterion's
   score is the mean over the experts (``turker_annotations`` are ignored).
4. **haechi** — a row has ``id`` and ``scores``: ``haechi judge geval`` output or human
   ratings jsonl; ``doc_id`` and ``system`` optional; a null score means "no score".

Rows of layouts 1–3 have no item id of their own; their id is ``"<doc_id>/<system_id>"``
(SummEval: ``"<id>/<model_id>"``), so a haechi items file built from them joins when it
uses the same ids. Extra fields are ignored. Scores must be numbers (or null, haechi
layout only); errors name the file, the line (jsonl) or element number (JSON list), and
the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from haechi.documents import Document, read_file
from haechi.errors import InputError
from haechi.judge.criteria import bundled_criteria
from haechi.judge.parsing import parse_score

Layout = Literal["geval-results", "geval-summeval", "summeval-jsonl", "haechi"]
Role = Literal["judge", "human"]

# G-Eval's results files name their criterion by its first three letters.
_CRITERION_WORDS = {
    "coh": "coherence",
    "coherence": "coherence",
    "con": "consistency",
    "consistency": "consistency",
    "flu": "fluency",
    "fluency": "fluency",
    "rel": "relevance",
    "relevance": "relevance",
}


@dataclass(frozen=True)
class ScoredItem:
    """One graded item: criterion → score (``None``: no score for that criterion), the
    source document and system it belongs to ("" when the file does not say), where it
    was read (``file:line``), and how many judge answers could not be parsed."""

    id: str
    scores: dict[str, float | None]
    doc_id: str = ""
    system: str = ""
    origin: str = ""
    unparsed: int = 0


@dataclass(frozen=True)
class Joined:
    """Judge and human items paired by id, and the ids only one side has (in file order)."""

    pairs: list[tuple[ScoredItem, ScoredItem]] = field(default_factory=list)
    only_judge: list[str] = field(default_factory=list)
    only_human: list[str] = field(default_factory=list)


def detect_layout(row: dict[str, Any]) -> Layout | None:
    """The layout a row is in, by its keys (see the module docstring), else ``None``."""
    if "all_responses" in row:
        return "geval-results"
    if "system_output" in row:
        return "geval-summeval"
    if "expert_annotations" in row:
        return "summeval-jsonl"
    if "id" in row and "scores" in row:
        return "haechi"
    return None


def criterion_from_name(path: Path) -> str | None:
    """The SummEval criterion a G-Eval results file's name names (``gpt4_coh_detailed``
    → coherence), or ``None`` when it names none or several."""
    words = re.split(r"[^a-z]+", path.stem.lower())
    found = {_CRITERION_WORDS[w] for w in words if w in _CRITERION_WORDS}
    return found.pop() if len(found) == 1 else None


def read_ratings(
    path: Path, *, role: Role = "human", criterion: str | None = None
) -> list[ScoredItem]:
    """Items with scores from ``path`` in any of the four layouts. ``role`` matters only
    for G-Eval results (judge: the sampled answers; human: ``scores``); ``criterion``
    names what a G-Eval results file's answers grade. Ids must be unique in a file."""
    docs = read_file(path)
    if not docs:
        raise InputError("no rows", file=str(path), hint="expected scored items")
    layout = detect_layout(docs[0].fields)
    if layout is None:
        raise InputError(
            "cannot tell the layout of this file",
            file=docs[0].origin,
            hint="expected haechi rows (id, scores), G-Eval summeval.json or results rows "
            "(system_output, all_responses) or SummEval jsonl rows (expert_annotations)",
        )
    if layout == "geval-results" and role == "judge":
        criterion = criterion or criterion_from_name(path)
        if criterion is None:
            raise InputError(
                "cannot tell which criterion this G-Eval results file grades",
                file=str(path),
                hint="name it with --criteria (one criterion per results file)",
            )
    items: list[ScoredItem] = []
    seen: set[str] = set()
    for doc in docs:
        item = _read_row(doc, layout, role, criterion)
        if item.id in seen:
            raise InputError(f"duplicate id {item.id!r}", file=doc.origin, field="id")
        seen.add(item.id)
        items.append(item)
    return items


def join_items(judge: Sequence[ScoredItem], human: Sequence[ScoredItem]) -> Joined:
    """Pair items by id; the pair's ``doc_id``/``system`` come from the judge side when it
    has them (see :func:`pair_keys`)."""
    by_id = {item.id: item for item in human}
    judge_ids = {item.id for item in judge}
    joined = Joined()
    for item in judge:
        if item.id in by_id:
            joined.pairs.append((item, by_id[item.id]))
        else:
            joined.only_judge.append(item.id)
    joined.only_human.extend(item.id for item in human if item.id not in judge_ids)
    return joined


def pair_keys(judge: ScoredItem, human: ScoredItem) -> tuple[str, str]:
    """``(doc_id, system)`` of a pair: the judge side's, else the human side's."""
    return judge.doc_id or human.doc_id, judge.system or human.system


def _read_row(doc: Document, layout: Layout, role: Role, criterion: str | None) -> ScoredItem:
    row = doc.fields
    if detect_layout(row) != layout:
        raise InputError(
            f"this row is not in the file's layout ({layout}, from its first row)",
            file=doc.origin,
            hint="one layout per file",
        )
    if layout == "haechi":
        return ScoredItem(
            id=str(row["id"]),
            scores=_scores(row["scores"], doc.origin, "scores", allow_null=True),
            doc_id=_text(row.get("doc_id", ""), doc.origin, "doc_id"),
            system=_text(row.get("system", ""), doc.origin, "system"),
            origin=doc.origin,
        )
    if layout == "summeval-jsonl":
        doc_id = _required_text(row, "id", doc.origin)
        system = _required_text(row, "model_id", doc.origin)
        return ScoredItem(
            id=f"{doc_id}/{system}",
            scores=_expert_means(row["expert_annotations"], doc.origin),
            doc_id=doc_id,
            system=system,
            origin=doc.origin,
        )
    doc_id = _required_text(row, "doc_id", doc.origin)
    system = _required_text(row, "system_id", doc.origin)
    if layout == "geval-results" and role == "judge":
        assert criterion is not None
        score, unparsed = _mean_answer(row["all_responses"], criterion, doc.origin)
        scores: dict[str, float | None] = {criterion: score}
    else:
        if "scores" not in row:
            raise InputError("row lacks field 'scores'", file=doc.origin, field="scores")
        scores, unparsed = _scores(row["scores"], doc.origin, "scores", allow_null=False), 0
    return ScoredItem(
        id=f"{doc_id}/{system}",
        scores=scores,
        doc_id=doc_id,
        system=system,
        origin=doc.origin,
        unparsed=unparsed,
    )


def _required_text(row: dict[str, Any], name: str, origin: str) -> str:
    if name not in row:
        raise InputError(f"row lacks field {name!r}", file=origin, field=name)
    return _text(row[name], origin, name)


def _text(value: Any, origin: str, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"expected a string, got {value!r}", file=origin, field=name)
    return str(value)


def _number(value: Any, origin: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"expected a finite number, got {value!r}", file=origin, field=name)
    return float(value)


def _scores(value: Any, origin: str, name: str, *, allow_null: bool) -> dict[str, float | None]:
    if not isinstance(value, dict):
        raise InputError("expected an object criterion → score", file=origin, field=name)
    scores: dict[str, float | None] = {}
    for key, score in value.items():
        if score is None and allow_null:
            scores[key] = None
        else:
            scores[key] = _number(score, origin, f"{name}.{key}")
    return scores


def _expert_means(value: Any, origin: str) -> dict[str, float | None]:
    if not isinstance(value, list) or not value:
        raise InputError(
            "expected a non-empty list of annotations", file=origin, field="expert_annotations"
        )
    rows: list[dict[str, float | None]] = []
    for i, annotation in enumerate(value):
        scores = _scores(annotation, origin, f"expert_annotations[{i}]", allow_null=False)
        if i and scores.keys() != rows[0].keys():
            raise InputError(
                f"annotation {i} rates {sorted(scores)}, annotation 0 rates {sorted(rows[0])}",
                file=origin,
                field="expert_annotations",
            )
        rows.append(scores)
    return {key: sum(r[key] or 0.0 for r in rows) / len(rows) for key in rows[0]}


def _mean_answer(answers: Any, criterion: str, origin: str) -> tuple[float | None, int]:
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise InputError("expected a list of strings", file=origin, field="all_responses")
    known = bundled_criteria().get(criterion)
    low, high = (known.score_min, known.score_max) if known else (1, 5)
    parsed = [s for a in answers if (s := parse_score(a, low, high)) is not None]
    unparsed = len(answers) - len(parsed)
    return (sum(parsed) / len(parsed) if parsed else None), unparsed
