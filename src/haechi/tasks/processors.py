"""Named document processors a task spec can apply (``process_docs: NAME``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from haechi.errors import InputError

Fields = dict[str, Any]


def _clean_wikihow(text: str) -> str:
    # HellaSwag's WikiHow items carry bracketed markup such as "[title]" and "[step]".
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def hellaswag(doc: Fields) -> Fields:
    """HellaSwag schema (activity_label, ctx_a, ctx_b, endings, label) → query/choices/gold."""
    context = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
    return {
        **doc,
        "query": _clean_wikihow(doc["activity_label"] + ": " + context),
        "choices": [_clean_wikihow(e) for e in doc["endings"]],
        "gold": int(doc["label"]),
    }


PROCESSORS: dict[str, Callable[[Fields], Fields]] = {"hellaswag": hellaswag}


def get_processor(name: str, source: str) -> Callable[[Fields], Fields]:
    try:
        return PROCESSORS[name]
    except KeyError:
        raise InputError(
            f"unknown document processor {name!r}",
            file=source,
            field="process_docs",
            hint=f"known: {', '.join(sorted(PROCESSORS))}",
        ) from None
