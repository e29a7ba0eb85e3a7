"""Loading task documents from local files, bundled samples or Hugging Face datasets."""

from __future__ import annotations

import csv
import json
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from haechi.errors import HaechiError, InputError, MissingExtraError

SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


@dataclass(frozen=True)
class Document:
    """One document: ``doc_id`` is its index in its split; ``origin`` is ``file:line``."""

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


@dataclass(frozen=True)
class DocumentSource:
    """``samples``: the documents bundled with haechi; ``dir``: ``data_dir/<task>/<split>.*``;
    ``hub``: the task's Hugging Face dataset (needs the network)."""

    kind: str = "hub"
    data_dir: Path | None = None

    @classmethod
    def choose(cls, data_dir: Path | None, samples: bool) -> DocumentSource:
        if data_dir is not None:
            return cls("dir", data_dir)
        return cls("samples") if samples else cls("hub")


def normalise(value: Any) -> Any:
    """NFC-normalise every string inside ``value`` (Korean text arrives in both forms)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def split_file(folder: Path, split: str) -> Path | None:
    """The first of ``split.jsonl/.json/.csv/.parquet`` that exists in ``folder``."""
    for suffix in SUFFIXES:
        path = folder / f"{split}{suffix}"
        if path.is_file():
            return path
    return None


def load_split(
    task: str, split: str, source: DocumentSource, dataset: Any = None
) -> list[Document]:
    """Read one split of a task's documents from ``source``."""
    if source.kind == "hub":
        return _load_hub(task, split, dataset)
    if source.kind == "samples":
        folder = Path(str(resources.files("haechi.tasks").joinpath("samples", task)))
    else:
        assert source.data_dir is not None
        folder = source.data_dir / task
    path = split_file(folder, split)
    if path is None:
        raise InputError(
            f"no {split} split for task {task!r}",
            file=str(folder / f"{split}.jsonl"),
            hint=f"expected one of {', '.join(split + s for s in SUFFIXES)} in {folder}",
        )
    return read_file(path)


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


def _load_hub(task: str, split: str, dataset: Any) -> list[Document]:
    if dataset is None or not dataset.path:
        raise InputError(
            f"task {task!r} has no public dataset",
            field="data-dir",
            hint=f"point --data-dir at a folder holding {task}/{split}.jsonl",
        )
    try:
        import datasets
    except ImportError:
        raise MissingExtraError("datasets", "train") from None
    try:
        rows = datasets.load_dataset(dataset.path, dataset.name, split=split)
    except Exception as exc:  # datasets raises many unrelated types for "cannot fetch"
        raise HaechiError(
            f"could not load {dataset.path} ({split}) for task {task!r}: {exc}. "
            f"Offline? Use --data-dir DIR with DIR/{task}/{split}.jsonl, or --samples."
        ) from exc
    origin = f"{dataset.path}:{split}"
    return [Document(i, normalise(dict(row)), f"{origin}#{i}") for i, row in enumerate(rows)]
