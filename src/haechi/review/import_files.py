"""Reading an import file: a review-import jsonl (see ``haechi.review.imports``), our own
jsonl export, ``haechi generate`` output, or a judge's scored output, as ``ImportLine``s
with file:line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from haechi.errors import InputError
from haechi.io import read_jsonl_objects
from haechi.review.imports import ImportLine


def read_import_file(path: Path) -> list[ImportLine]:
    """Parse an import jsonl (also ``haechi generate`` output and a judge's scored
    output). Errors name the file, line and field; an id twice names both lines."""
    lines: list[ImportLine] = []
    first_seen: dict[str, int] = {}
    for number, data in read_jsonl_objects(path):
        for record in _from_generate(data) or [_from_judge(data)]:
            try:
                line = ImportLine.model_validate(record)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or None
                raise InputError(first["msg"], file=str(path), line=number, field=where) from None
            external_id = line.external_id()
            if external_id in first_seen:
                raise InputError(
                    f"id {external_id!r} is already on line {first_seen[external_id]}",
                    file=str(path),
                    line=number,
                    field="id",
                )
            first_seen[external_id] = number
            line._where = (str(path), number)
            lines.append(line)
    return lines


def _from_generate(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A line of ``haechi generate`` as items (one per answer when it sampled several),
    the model shown to reviewers after they label; ``[]`` for any other line."""
    if "fingerprint" not in data or "settings" not in data:
        return []
    messages = data.get("messages") if isinstance(data.get("messages"), list) else None
    prompt = generated_prompt(data)
    answers = data.get("responses")
    if not isinstance(answers, list) or not answers:
        answers = [data.get("response")]
    reasons = data.get("finish_reasons")
    if not isinstance(reasons, list) or len(reasons) != len(answers):
        reasons = [data.get("finish_reason")] * len(answers)
    several = len(answers) > 1 and isinstance(data.get("id"), str)
    return [
        {
            "id": f"{data['id']}#{k}" if several else data.get("id"),
            "prompt": prompt,
            "response": answer,
            "category": data.get("category") or "",
            "turns": [*messages, {"role": "assistant", "content": answer}] if messages else [],
            "verdicts": [
                {
                    "detector": "generate",
                    "model": data.get("model"),
                    "finish_reason": reason,
                }
            ],
        }
        for k, (answer, reason) in enumerate(zip(answers, reasons, strict=True), start=1)
    ]


def generated_prompt(data: dict[str, Any]) -> Any:
    """A ``haechi generate`` line's prompt: ``prompt``, else the last user message of its
    ``messages`` (``None`` when it has neither)."""
    messages = data.get("messages")
    if data.get("prompt") is not None or not isinstance(messages, list):
        return data.get("prompt")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1].get("content") if users else None


def _from_judge(data: dict[str, Any]) -> dict[str, Any]:
    if "prompt" in data or "output" not in data or "scores" not in data:
        return data
    return {
        "id": str(data.get("id", "")) or None,
        "prompt": data.get("source", ""),
        "response": data["output"],
        "category": str(data.get("system") or ""),
        "verdicts": [
            {"detector": f"judge:{name}", "score": score}
            for name, score in (data.get("scores") or {}).items()
        ],
    }
