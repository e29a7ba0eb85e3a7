"""Reading items to grade and writing scored items (jsonl)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from haechi.documents import read_file
from haechi.errors import InputError
from haechi.io import write_text_atomic
from haechi.judge.geval import CriterionScore
from haechi.judge.prompts import JudgeItem


def read_items(path: Path) -> list[JudgeItem]:
    """Items from jsonl: ``id``, ``source``, ``output`` required; ``doc_id``, ``system``,
    ``reference`` optional. Errors name the file, line and field; ids must be unique."""
    items, seen = [], set()
    for doc in read_file(path):
        fields = doc.fields
        for name in ("id", "source", "output"):
            if name not in fields:
                raise InputError(f"item lacks field {name!r}", file=doc.origin, field=name)
        item_id = str(fields["id"])
        if item_id in seen:
            raise InputError(f"duplicate id {item_id!r}", file=doc.origin, field="id")
        seen.add(item_id)
        reference = fields.get("reference")
        items.append(
            JudgeItem(
                id=item_id,
                source=str(fields["source"]),
                output=str(fields["output"]),
                doc_id=str(fields.get("doc_id", "")),
                system=str(fields.get("system", "")),
                reference=None if reference is None else str(reference),
            )
        )
    return items


def read_pairs(path: Path) -> list[dict[str, str]]:
    """Pairs from jsonl: ``id``, ``source``, ``output_a``, ``output_b`` (all required)."""
    pairs = []
    for doc in read_file(path):
        for name in ("id", "source", "output_a", "output_b"):
            if name not in doc.fields:
                raise InputError(f"pair lacks field {name!r}", file=doc.origin, field=name)
        pairs.append({k: str(doc.fields[k]) for k in ("id", "source", "output_a", "output_b")})
    return pairs


def write_jsonl(path: Path, records: Sequence[Mapping[str, object]]) -> None:
    """One JSON object a line, written atomically."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    write_text_atomic(path, text)


def write_scored(
    path: Path, items: Sequence[JudgeItem], scores: Sequence[dict[str, CriterionScore]]
) -> None:
    """Each item with ``scores`` (criterion → float or null) and per-criterion ``details``."""
    lines: list[Mapping[str, object]] = []
    for item, row in zip(items, scores, strict=True):
        record = {
            "id": item.id,
            "doc_id": item.doc_id,
            "system": item.system,
            "source": item.source,
            "output": item.output,
            "reference": item.reference,
            "scores": {name: s.score for name, s in row.items()},
            "details": {name: s.record() for name, s in row.items()},
        }
        lines.append(record)
    write_jsonl(path, lines)
