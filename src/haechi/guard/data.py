"""Labelled texts for training and checking a GeDi: Korean hate-speech and bias sets, or
any jsonl of ``text`` and ``label``.

Every example is a text and whether it belongs to the *desired* class (what guided
generation should steer towards) or the *undesired* one. Texts are NFC-normalised.

- ``kocohub:DIR``: Korean HateSpeech (kocohub) ``train.tsv`` / ``dev.tsv``; the text is
  ``comments`` and the class comes from ``hate``: ``none`` → desired ("clean");
  ``offensive`` and ``hate`` → undesired ("toxic"). Default split: train.
- ``kosbi:DIR``: KoSBi ``kosbi_valid.json`` / ``kosbi_test.json``; the text is
  ``sentence`` and the class comes from ``sentence_label``: ``safe`` → desired,
  ``unsafe`` → undesired (social bias). Default split: valid (KoSBi ships no train split).
- any other spec is a jsonl/json/csv/tsv file with ``text`` and ``label``; ``desired``
  names the desired label and every other label is undesired.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from haechi.documents import Document, read_file
from haechi.errors import InputError
from haechi.guard.gedi_config import ClassNames, DataRecord, Side

KOCOHUB_CLASSES: dict[str, Side] = {
    "none": "desired",
    "offensive": "undesired",
    "hate": "undesired",
}
KOSBI_CLASSES: dict[str, Side] = {"safe": "desired", "unsafe": "undesired"}
DATASETS = ("kocohub", "kosbi")


@dataclass(frozen=True)
class LabelledText:
    text: str
    desired: bool


@dataclass(frozen=True)
class LabelledSet:
    """Examples with their class names and the raw-label mapping that produced them."""

    examples: tuple[LabelledText, ...]
    classes: ClassNames
    label_mapping: Mapping[str, Side]
    source: str
    split: str | None

    def sha256(self) -> str:
        """sha256 over the examples as used: ``+``/``-`` (desired or not), a tab and the
        text, one per line, UTF-8."""
        h = hashlib.sha256()
        for e in self.examples:
            h.update(f"{'+' if e.desired else '-'}\t{e.text}\n".encode())
        return h.hexdigest()

    def record(self) -> DataRecord:
        desired = sum(e.desired for e in self.examples)
        return DataRecord(
            source=self.source,
            split=self.split,
            sha256=self.sha256(),
            examples=len(self.examples),
            desired=desired,
            undesired=len(self.examples) - desired,
            label_mapping=dict(self.label_mapping),
        )

    def limited(self, limit: int | None) -> LabelledSet:
        """The first ``limit`` examples (all when ``None``)."""
        if limit is None:
            return self
        return LabelledSet(
            self.examples[:limit], self.classes, self.label_mapping, self.source, self.split
        )


def load_labelled(
    spec: str, *, desired: str | None = None, split: str | None = None
) -> LabelledSet:
    """Load ``kocohub:DIR``, ``kosbi:DIR`` or a labelled file (see the module docstring).

    ``split`` picks the dataset's split (ignored for a plain file); ``desired`` is needed
    for a plain file and refused for the named datasets, whose mapping is fixed.
    """
    name, sep, folder = spec.partition(":")
    if sep and name in DATASETS:
        if desired is not None:
            raise InputError(
                f"{name} has a fixed label mapping; --desired applies to plain files only",
                field="desired",
            )
        if name == "kocohub":
            return load_kocohub(Path(folder), split=split or "train")
        return load_kosbi(Path(folder), split=split or "valid")
    return load_labelled_file(Path(spec), desired=desired)


def load_kocohub(folder: Path, *, split: str = "train") -> LabelledSet:
    """Korean HateSpeech comments: ``none`` clean, ``offensive``/``hate`` toxic."""
    path = _split_file(folder, f"{split}.tsv", "kocohub", ("train", "dev"), split)
    return _mapped(
        path, "comments", "hate", KOCOHUB_CLASSES, ClassNames(desired="clean", undesired="toxic"),
        f"kocohub:{folder}", split,
    )  # fmt: skip


def load_kosbi(folder: Path, *, split: str = "valid") -> LabelledSet:
    """KoSBi sentences: ``safe`` desired, ``unsafe`` undesired (social bias)."""
    path = _split_file(folder, f"kosbi_{split}.json", "kosbi", ("valid", "test"), split)
    return _mapped(
        path, "sentence", "sentence_label", KOSBI_CLASSES,
        ClassNames(desired="safe", undesired="unsafe"), f"kosbi:{folder}", split,
    )  # fmt: skip


def load_labelled_file(path: Path, *, desired: str | None) -> LabelledSet:
    """A file of ``text`` and ``label``: ``desired`` is the desired label, all others
    undesired (named after the other label when there is only one)."""
    docs = read_file(path)
    labels = [_field(doc, "label") for doc in docs]
    found = sorted(set(labels))
    if desired is None or desired not in found:
        raise InputError(
            "name the desired label" if desired is None else f"no line has label {desired!r}",
            file=str(path),
            field="desired",
            hint=f"labels in the file: {', '.join(found) or 'none'} (e.g. --desired {found[0] if found else 'clean'})",
        )
    others = [label for label in found if label != desired]
    if not others:
        raise InputError(
            f"every line has label {desired!r}; a GeDi needs examples of both classes",
            file=str(path),
            field="label",
        )
    mapping: dict[str, Side] = {
        label: "desired" if label == desired else "undesired" for label in found
    }
    classes = ClassNames(
        desired=desired, undesired=others[0] if len(others) == 1 else f"not-{desired}"
    )
    examples = tuple(
        LabelledText(_field(doc, "text"), label == desired)
        for doc, label in zip(docs, labels, strict=True)
    )
    return LabelledSet(examples, classes, mapping, str(path), None)


def _mapped(
    path: Path,
    text_field: str,
    label_field: str,
    mapping: Mapping[str, Side],
    classes: ClassNames,
    source: str,
    split: str,
) -> LabelledSet:
    examples = []
    for doc in read_file(path):
        label = _field(doc, label_field)
        if label not in mapping:
            raise InputError(
                f"unknown label {label!r}",
                file=doc.origin,
                field=label_field,
                hint=f"expected one of {', '.join(mapping)}",
            )
        examples.append(LabelledText(_field(doc, text_field), mapping[label] == "desired"))
    return LabelledSet(tuple(examples), classes, dict(mapping), source, split)


def _split_file(folder: Path, name: str, dataset: str, splits: Sequence[str], split: str) -> Path:
    if split not in splits:
        raise InputError(
            f"{dataset} has no split {split!r}", field="split", hint=f"choose {', '.join(splits)}"
        )
    path = folder.expanduser() / name
    if not path.is_file():
        raise InputError(
            f"no {name} in {folder}",
            file=str(path),
            hint=f"point {dataset}:DIR at the folder holding the {dataset} files",
        )
    return path


def _field(doc: Document, name: str) -> str:
    value = doc.fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError("missing or empty", file=doc.origin, field=name)
    if not isinstance(value, str | int | bool):
        raise InputError(f"expected text, got {value!r}", file=doc.origin, field=name)
    return str(value)
