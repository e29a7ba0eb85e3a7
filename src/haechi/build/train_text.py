"""Raw text for continued pre-training (``--objective causal-lm``): one document per unit.

- ``.txt``: documents separated by a blank line (a paragraph block each);
- ``.jsonl``/``.json``: a ``text`` string per line (other keys ignored);
- ``.parquet``: a ``text`` column (pyarrow, which the `train` extra brings).

Text is NFC-normalised; empty documents are errors naming the file and line (or row).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from haechi.build.train_data import Example, Message, TrainData, file_sha256
from haechi.documents import read_file
from haechi.errors import InputError

SUFFIXES = (".txt", ".jsonl", ".json", ".parquet")


def read_texts(path: Path) -> TrainData:
    """Documents of ``path`` as examples of one ``text`` message each (format ``text``)."""
    if path.suffix not in SUFFIXES:
        raise InputError(
            f"raw text must be one of {', '.join(SUFFIXES)}, not {path.suffix or 'no suffix'!r}",
            file=str(path),
        )
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    examples = _plain(path) if path.suffix == ".txt" else _records(path)
    if not examples:
        raise InputError("no documents in the file", file=str(path))
    return TrainData(path, "text", examples, file_sha256(path))


def document_text(example: Example) -> str:
    return example.messages[0].content


def _example(text: str, origin: str) -> Example:
    return Example((Message("text", unicodedata.normalize("NFC", text)),), origin)


def _plain(path: Path) -> list[Example]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc}", file=str(path)) from exc
    examples: list[Example] = []
    block: list[str] = []
    start = 0
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            start = start or number
            block.append(line)
        elif block:
            examples.append(_example("\n".join(block), f"{path}:{start}"))
            block, start = [], 0
    return examples


def _records(path: Path) -> list[Example]:
    """jsonl/json/parquet through ``documents.read_file`` (parquet rows count as lines)."""
    examples = []
    for doc in read_file(path):
        text = doc.fields.get("text")
        if not isinstance(text, str) or not text.strip():
            raise doc.error(f"must be a non-empty string, got {text!r}", "text")
        examples.append(_example(text, doc.origin))
    return examples
