"""Where a task's documents come from: a data folder, the bundled samples or the Hub.

A set written for haechi (``dataset.bundled``: Ko-IFEval's prompts) ships whole in
``haechi/tasks/data/<task>/`` and is read from there in place of the Hub.

In a data folder a split is ``DIR/<task>/<split>.*``, or else the files the spec's
``dataset.data_files`` names in the set's own release layout (globs relative to ``DIR``),
so one folder of public sets as released (``../shared/data``) serves every task.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from haechi.documents import SUFFIXES, Document, normalise, read_file
from haechi.errors import HaechiError, InputError, MissingExtraError
from haechi.tasks.spec import DatasetSpec


@dataclass(frozen=True)
class DocumentSource:
    """``samples``: the documents bundled with haechi; ``dir``: files under ``data_dir``;
    ``hub``: the task's Hugging Face dataset (needs the network)."""

    kind: str = "hub"
    data_dir: Path | None = None

    @classmethod
    def choose(cls, data_dir: Path | None, samples: bool) -> DocumentSource:
        if data_dir is not None:
            return cls("dir", data_dir)
        return cls("samples") if samples else cls("hub")


def split_file(folder: Path, split: str) -> Path | None:
    """The first of ``split.jsonl/.json/.csv/.tsv/.parquet`` that exists in ``folder``."""
    for suffix in SUFFIXES:
        path = folder / f"{split}{suffix}"
        if path.is_file():
            return path
    return None


def release_files(data_dir: Path, dataset: DatasetSpec, split: str) -> list[Path]:
    """The files ``dataset.data_files`` names for ``split`` under ``data_dir``, sorted and
    without repeats (several files are read one after another)."""
    patterns = dataset.data_files.get(split, [])
    found = {path for pattern in patterns for path in data_dir.glob(pattern) if path.is_file()}
    return sorted(found)


def data_dir_layouts(task: str, dataset: DatasetSpec, split: str) -> list[str]:
    """What a data folder may hold for ``split``, relative to it (for help and errors)."""
    others = ", ".join(SUFFIXES[1:])
    return [f"{task}/{split}.jsonl (or {others})", *dataset.data_files.get(split, [])]


def load_split(
    task: str, split: str, source: DocumentSource, dataset: DatasetSpec
) -> list[Document]:
    """Read one split of a task's documents from ``source``."""
    if source.kind == "samples" or (source.kind == "hub" and dataset.bundled):
        where = "samples" if source.kind == "samples" else "data"
        folder = Path(str(resources.files("haechi.tasks").joinpath(where, task)))
        return _read_folder(folder, split, task)
    if source.kind == "hub":
        return _load_hub(task, split, dataset)
    assert source.data_dir is not None
    path = split_file(source.data_dir / task, split)
    if path is not None:
        return read_file(path)
    files = release_files(source.data_dir, dataset, split)
    if not files:
        raise InputError(
            f"no {split} split for task {task!r}",
            file=str(source.data_dir),
            field="data-dir",
            hint="expected "
            + " or ".join(f"DIR/{layout}" for layout in data_dir_layouts(task, dataset, split))
            + f" with DIR = {source.data_dir}",
        )
    docs = [doc for path in files for doc in read_file(path)]
    # doc_id is the index in the whole split, which may span several files
    return [Document(i, doc.fields, doc.origin) for i, doc in enumerate(docs)]


def _read_folder(folder: Path, split: str, task: str) -> list[Document]:
    path = split_file(folder, split)
    if path is None:
        raise InputError(
            f"no {split} split for task {task!r}",
            file=str(folder / f"{split}.jsonl"),
            hint=f"expected one of {', '.join(split + s for s in SUFFIXES)} in {folder}",
        )
    return read_file(path)


def _load_hub(task: str, split: str, dataset: DatasetSpec) -> list[Document]:
    if not dataset.path:
        layouts = " or ".join(f"DIR/{layout}" for layout in data_dir_layouts(task, dataset, split))
        raise InputError(
            f"task {task!r} has no public dataset on the Hub",
            field="data-dir",
            hint=f"point --data-dir at a folder DIR holding {layouts}",
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
