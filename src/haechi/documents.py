"""Reading records from data files (jsonl, json, csv, tsv, parquet) as ``Document``s that
remember their file and line, so every reader's errors can name both."""

from __future__ import annotations

import csv
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haechi.errors import InputError, MissingExtraError

SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


@dataclass(frozen=True)
class Document:
    """One record: ``doc_id`` is its index in its file (in a task: in its split);
    ``origin`` is ``file:line``."""

    doc_id: int
    fields: dict[str, Any]
    origin: str

    def error(self, message: str, field: str | None = None, hint: str | None = None) -> InputError:
        """An ``InputError`` naming this document's file and line (a JSON list's item
        number, which is not a line, goes into the message instead)."""
        file, _, number = self.origin.rpartition(":")
        if not number.isdigit():  # hub datasets: "path:split#index"
            return InputError(message, file=self.origin, field=field, hint=hint)
        if file.endswith(".json"):
            return InputError(f"item {number}: {message}", file=file, field=field, hint=hint)
        return InputError(message, file=file, line=int(number), field=field, hint=hint)


def normalise(value: Any) -> Any:
    """NFC-normalise every string inside ``value`` (Korean text arrives in both forms)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def read_file(path: Path) -> list[Document]:
    """Read documents from a jsonl, json, csv, tsv or parquet file, keeping each one's line
    (csv/tsv cells are strings; a task's processor converts what it needs)."""
    suffix = path.suffix
    try:
        if suffix == ".jsonl":
            rows = _read_jsonl(path)
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            items = (
                data
                if isinstance(data, list)
                else data.get("data")
                if isinstance(data, dict)
                else None
            )
            if not isinstance(items, list):
                raise InputError(
                    "expected a list of documents (or {'data': [...]})", file=str(path)
                )
            rows = [(i + 1, row) for i, row in enumerate(items)]
        elif suffix in (".csv", ".tsv"):
            delimiter = "\t" if suffix == ".tsv" else ","
            with path.open(encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f, delimiter=delimiter)
                rows = [(i + 2, dict(row)) for i, row in enumerate(reader)]
        elif suffix == ".parquet":
            rows = _read_parquet(path)
        else:
            raise InputError(f"unsupported document file type {suffix!r}", file=str(path))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(path)) from None
    docs = []
    for index, (line, row) in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError("a document must be a JSON object", file=str(path), line=line)
        docs.append(Document(index, normalise(row), f"{path}:{line}"))
    return docs


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                rows.append((number, json.loads(text)))
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"not valid JSON: {exc.msg}", file=str(path), line=number
                ) from None
    return rows


def _read_parquet(path: Path) -> list[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "train") from None
    return [(i + 1, row) for i, row in enumerate(pq.read_table(path).to_pylist())]
