"""Supervised fine-tuning data: jsonl lines of chat ``messages`` or ``prompt``/``response``.

One example a line, in one of two shapes (one shape per file)::

    {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "..."}]}
    {"prompt": "...", "response": "..."}

Other keys (ids, sources) are ignored. Strings are NFC-normalised as they are read (Korean
text arrives composed and decomposed); every problem is an ``InputError`` naming the file,
the line and the field.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from haechi.documents import Document, read_file
from haechi.errors import InputError

DataFormat = Literal["messages", "prompt-response", "text"]  # text: train_text
ROLES = ("system", "user", "assistant")
T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Example:
    """One training example; ``origin`` is ``file:line``. A prompt/response line is held as
    a user message followed by an assistant message."""

    messages: tuple[Message, ...]
    origin: str


@dataclass(frozen=True)
class TrainData:
    """The examples of one file, its shape and the sha256 of its bytes (hex)."""

    path: Path
    format: DataFormat
    examples: list[Example]
    sha256: str


def read_examples(path: Path) -> TrainData:
    """Read and validate a ``.jsonl`` (or ``.json`` list) of training examples.

    Raises ``InputError`` (file, line, field) for unreadable files, malformed JSON, lines of
    neither shape, a file that mixes the two, and a file without examples.
    """
    if path.suffix not in (".jsonl", ".json"):
        raise InputError(
            f"training data must be .jsonl (or a .json list), not {path.suffix or 'no suffix'!r}",
            file=str(path),
            hint="raw text (.txt, .parquet) is for --objective causal-lm",
        )
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    documents = read_file(path)
    if not documents:
        raise InputError("no examples in the file", file=str(path), hint=_SHAPES)
    formats = [_format(doc) for doc in documents]
    for doc, kind in zip(documents, formats, strict=True):
        if kind != formats[0]:
            raise doc.error(
                f"this line is {kind} but the first one is {formats[0]}: one shape per file"
            )
    examples = [_example(doc, kind) for doc, kind in zip(documents, formats, strict=True)]
    return TrainData(path, formats[0], examples, file_sha256(path))


def split_eval(examples: list[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """``(train, eval)``: a seeded random ``fraction`` of the examples (or preference pairs;
    at least one) held out."""
    if not 0 < fraction < 1:
        raise InputError(f"must be between 0 and 1, got {fraction}", field="eval-fraction")
    if len(examples) < 2:
        raise InputError("need at least 2 examples to hold some out", field="eval-fraction")
    held = min(len(examples) - 1, max(1, round(len(examples) * fraction)))
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    eval_ids = set(order[:held])
    train = [e for i, e in enumerate(examples) if i not in eval_ids]
    return train, [e for i, e in enumerate(examples) if i in eval_ids]


def to_records(
    examples: list[Example], data_format: DataFormat, chat: bool
) -> list[dict[str, Any]]:
    """Rows in TRL's dataset shapes: ``messages`` (conversational language modelling) or
    ``prompt``/``completion`` (the prompt is masked from the loss), the latter as chat
    messages when the tokenizer has a chat template (``chat``) and as plain text otherwise."""

    def as_dicts(messages: tuple[Message, ...]) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in messages]

    if data_format == "text":  # language modelling on the whole document
        return [{"text": e.messages[0].content} for e in examples]
    if data_format == "messages":
        return [{"messages": as_dicts(e.messages)} for e in examples]
    if chat:
        return [
            {"prompt": as_dicts(e.messages[:1]), "completion": as_dicts(e.messages[1:])}
            for e in examples
        ]
    return [
        {"prompt": e.messages[0].content, "completion": e.messages[1].content} for e in examples
    ]


def file_sha256(path: Path) -> str:
    """sha256 (hex) of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_SHAPES = (
    'each line: {"messages": [{"role": ..., "content": ...}]} or {"prompt": ..., "response": ...}'
    "; raw text (a 'text' field, .txt, .parquet) is for --objective causal-lm"
)


def _format(doc: Document) -> DataFormat:
    fields = doc.fields
    has_messages = "messages" in fields
    has_pair = "prompt" in fields or "response" in fields
    if has_messages == has_pair:
        raise doc.error(
            "expected either 'messages' or 'prompt' and 'response'"
            + (", not both" if has_messages else ""),
            hint=_SHAPES,
        )
    return "messages" if has_messages else "prompt-response"


def _example(doc: Document, kind: DataFormat) -> Example:
    def fail(message: str, field: str) -> InputError:
        return doc.error(message, field, _SHAPES)

    if kind == "prompt-response":
        for key in ("prompt", "response"):
            value = doc.fields.get(key)
            if not isinstance(value, str) or not value.strip():
                raise fail(f"must be a non-empty string, got {value!r}", key)
        pair = (
            Message("user", doc.fields["prompt"]),
            Message("assistant", doc.fields["response"]),
        )
        return Example(pair, doc.origin)
    raw = doc.fields["messages"]
    if not isinstance(raw, list) or not raw:
        raise fail(f"must be a non-empty list of messages, got {raw!r}", "messages")
    messages = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise fail(f"a message must be an object, got {item!r}", f"messages[{i}]")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise fail(
                f"role must be one of {', '.join(ROLES)}, got {role!r}", f"messages[{i}].role"
            )
        if not isinstance(content, str):
            raise fail(f"content must be a string, got {content!r}", f"messages[{i}].content")
        messages.append(Message(role, content))
    if not any(m.role == "assistant" and m.content.strip() for m in messages):
        raise fail("no assistant message with content: nothing to learn", "messages")
    return Example(tuple(messages), doc.origin)
