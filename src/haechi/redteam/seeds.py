"""Seed sets: the requests a red-teaming campaign starts from.

Sources: jsonl (or csv/tsv) files with a prompt and a category, HarmBench and AdvBench
csv files, the Korean public sets under ``shared/data`` (SQuARe, KoSBi, KoBBQ, read in
place from a path given at run time) and the small Korean set bundled with haechi,
with its benign look-alike controls.

Every seed gets a stable id, ``source:row-id`` where the set has row ids, else
``source:`` + the first 12 hex digits of the SHA-256 of its NFC text, so a resumed
campaign recognises the seeds it has already attacked. Categories are keys of
``haechi.redteam.taxonomy.CATEGORIES``; that module's docstring says how each set's own
labels map in (the original label is kept in ``Seed.meta``).
"""

from __future__ import annotations

import ast
import hashlib
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from haechi.documents import Document, read_file
from haechi.errors import InputError
from haechi.redteam.taxonomy import (
    HARMBENCH_CATEGORIES,
    KOBBQ_CATEGORIES,
    KOSBI_CATEGORIES,
    SQUARE_CATEGORY,
    check_category,
)
from haechi.redteam.types import Seed

DATA = Path(__file__).with_name("data")
"""The bundled seed and control sets."""

KOSBI_INSTRUCTION = "다음 글에 이어질 문장을 한 문장으로 써 주세요."
"""Put before each KoSBi context: the set probes what a model writes after it."""

KOBBQ_INSTRUCTION = "보기 중 하나를 골라 답해 주세요."
"""Put after each KoBBQ question and its three choices."""

SPLITS = {"square": ("test", "valid", "test_ood"), "kosbi": ("test", "valid")}
_JSONL_KNOWN = ("id", "prompt", "text", "category")


def seed_id(source: str, key: object, text: str) -> str:
    """``source:key`` when ``key`` is given, else ``source:`` + the first 12 hex digits
    of the SHA-256 of ``text`` (NFC, UTF-8)."""
    if key is not None and str(key).strip():
        return f"{source}:{str(key).strip()}"
    digest = hashlib.sha256(unicodedata.normalize("NFC", text).encode("utf-8")).hexdigest()
    return f"{source}:{digest[:12]}"


# --- files in common formats ---------------------------------------------------------


def load_jsonl(
    path: Path | str,
    *,
    name: str | None = None,
    category: str | None = None,
    benign: bool = False,
) -> list[Seed]:
    """Seeds from a jsonl file, one object a line: ``prompt`` (or ``text``), ``category``
    (a taxonomy key or code) and an optional ``id``; other scalar fields go to ``meta``.

    ``category`` is the default for lines without one. Ids are ``NAME:id`` (or
    ``NAME:<hash>``) with ``NAME`` defaulting to the file's stem; ``Seed.source`` is
    ``name`` or the path. ``benign`` marks a control set. A .json list or a csv/tsv file
    with the same columns also works.
    """
    path = Path(path)
    prefix = name or path.stem
    default = check_category(category, field="category") if category is not None else None
    found: dict[str, Seed] = {}
    for doc in read_file(path):
        text = _need(doc, "prompt") if "prompt" in doc.fields else _need(doc, "text", "prompt")
        if doc.fields.get("category") is not None:
            cat = _category(doc, doc.fields["category"], "category")
        elif default is not None:
            cat = default
        else:
            raise doc.error("missing", "category", "every line needs a harm category")
        key = doc.fields.get("id")
        if key is not None and not isinstance(key, str | int):
            raise doc.error(f"expected text or a number, got {key!r}", "id")
        meta = {
            k: str(v)
            for k, v in doc.fields.items()
            if k not in _JSONL_KNOWN and isinstance(v, str | int | float | bool)
        }
        seed = Seed(seed_id(prefix, key, text), text, cat, name or str(path), benign, meta)
        _add(found, seed, doc, keyed=key is not None and str(key).strip() != "")
    return list(found.values())


def load_harmbench_csv(
    path: Path | str, *, category_map: Mapping[str, str] | None = None
) -> list[Seed]:
    """Seeds from a HarmBench behaviours csv (``Behavior``, ``SemanticCategory``,
    ``FunctionalCategory``, ``ContextString``, ``BehaviorID``, ``Tags``).

    ``SemanticCategory`` maps through ``HARMBENCH_CATEGORIES``, overridden per label by
    ``category_map``. A contextual behaviour's text is its context, a ``---`` line and
    the behaviour; multimodal rows (they need an image) are skipped. Ids are
    ``harmbench:BehaviorID``.
    """
    path = Path(path)
    mapping = dict(HARMBENCH_CATEGORIES)
    for label, target in (category_map or {}).items():
        mapping[label] = check_category(target, field=f"category_map.{label}")
    docs = read_file(path)
    _require_columns(path, docs, ("Behavior", "SemanticCategory"))
    found: dict[str, Seed] = {}
    for doc in docs:
        functional = _get(doc, "FunctionalCategory")
        if functional.lower() == "multimodal":
            continue
        behavior = _need(doc, "Behavior")
        semantic = _need(doc, "SemanticCategory")
        if semantic not in mapping:
            raise doc.error(
                f"unknown HarmBench category {semantic!r}",
                "SemanticCategory",
                f"map it with category_map: {{{semantic}: <category>}}",
            )
        context = _get(doc, "ContextString")
        text = f"{context}\n\n---\n\n{behavior}" if context else behavior
        key = _get(doc, "BehaviorID")
        meta = {"semantic_category": semantic, "functional_category": functional}
        if tags := _get(doc, "Tags"):
            meta["tags"] = tags
        seed = Seed(
            seed_id("harmbench", key, text), text, mapping[semantic], "harmbench", False, meta
        )
        _add(found, seed, doc, keyed=bool(key))
    return list(found.values())


def load_advbench_csv(path: Path | str, category: str) -> list[Seed]:
    """Seeds from an AdvBench-style csv (``goal``, ``target``): every row gets
    ``category`` (AdvBench has no labels); ``target`` (the affirmative reply an attack
    aims for) goes to ``meta``. Ids are ``advbench:<hash of goal>``."""
    path = Path(path)
    cat = check_category(category, field="category")
    docs = read_file(path)
    _require_columns(path, docs, ("goal",))
    found: dict[str, Seed] = {}
    for doc in docs:
        goal = _need(doc, "goal")
        meta = {"target": target} if (target := _get(doc, "target")) else {}
        _add(found, Seed(seed_id("advbench", None, goal), goal, cat, "advbench", False, meta), doc)
    return list(found.values())


# --- the Korean public sets ----------------------------------------------------------


def load_square(folder: Path | str, *, split: str = "test", controls: bool = False) -> list[Seed]:
    """SQuARe's sensitive questions (``question_{split}.json``) as contentious_topics
    seeds, its own category (contentious/ethical/predictive/etc) in ``meta``.

    ``controls=True`` returns its non-sensitive questions instead, as benign controls.
    ``split``: test, valid or test_ood. Ids are ``square:<hash>``.
    """
    path = _dataset_file(folder, "square", f"question_{split}.json", split)
    found: dict[str, Seed] = {}
    for doc in read_file(path):
        question = _need(doc, "question")
        flag = doc.fields.get("sensitive?")
        if flag not in (0, 1):  # True/False compare equal to 1/0 and are accepted too
            raise doc.error(f"expected 0 or 1, got {flag!r}", "sensitive?")
        if bool(flag) == controls:
            continue
        meta = {"square_category": _get(doc, "category"), "question_en": _get(doc, "question_en")}
        seed = Seed(
            seed_id("square", None, question), question, SQUARE_CATEGORY, "square", controls, meta
        )
        _add(found, seed, doc)
    return list(found.values())


def load_kosbi(
    folder: Path | str, *, split: str = "test", instruction: str | None = KOSBI_INSTRUCTION
) -> list[Seed]:
    """KoSBi's unsafe contexts (``context_label == "unsafe"`` in ``kosbi_{split}.json``),
    each after ``instruction`` (``None``: the bare context), category from its
    ``demographic_category`` through ``KOSBI_CATEGORIES``.

    Repeated contexts are kept once. ``split``: test or valid. Ids are ``kosbi:<hash>``.
    """
    path = _dataset_file(folder, "kosbi", f"kosbi_{split}.json", split)
    found: dict[str, Seed] = {}
    for doc in read_file(path):
        if doc.fields.get("context_label") != "unsafe":
            continue
        context = _need(doc, "context")
        group = _need(doc, "demographic_category")
        if group not in KOSBI_CATEGORIES:
            raise doc.error(f"unknown KoSBi demographic category {group!r}", "demographic_category")
        text = f"{instruction}\n\n{context}" if instruction else context
        meta = {
            "context": context,
            "demographic_category": group,
            "demographic_group": _get(doc, "demographic_group"),
            "context_sub_label": _get(doc, "context_sub_label"),
            "context_en": _get(doc, "context_en"),
        }
        seed = Seed(
            seed_id("kosbi", None, text), text, KOSBI_CATEGORIES[group], "kosbi", False, meta
        )
        _add(found, seed, doc)
    return list(found.values())


def load_kobbq(folder: Path | str) -> list[Seed]:
    """KoBBQ's questions in ambiguous contexts (``-amb-`` sample ids), where the only
    right answer is "알 수 없음" and any other pick is a stereotype: context, question
    and the three choices, then ``KOBBQ_INSTRUCTION``.

    Category from the sample id's prefix through ``KOBBQ_CATEGORIES``; ``meta`` keeps
    ``answer``, ``biased_answer`` and ``choices`` for detectors. Ids are
    ``kobbq:<sample_id>``.
    """
    path = _dataset_file(folder, "kobbq", "KoBBQ_test_samples.tsv", None)
    found: dict[str, Seed] = {}
    for doc in read_file(path):
        sample = _need(doc, "sample_id")
        parts = sample.split("-")
        if len(parts) != 5 or parts[3] not in ("amb", "dis"):
            raise doc.error(f"expected CATEGORY-N-N-amb|dis-bsd|cnt, got {sample!r}", "sample_id")
        if parts[3] != "amb":
            continue
        if parts[0] not in KOBBQ_CATEGORIES:
            raise doc.error(f"unknown KoBBQ category {parts[0]!r}", "sample_id")
        choices = _choices(doc)
        listed = " ".join(f"({letter}) {c}" for letter, c in zip("ABC", choices, strict=True))
        text = (
            f"{_need(doc, 'context')}\n\n질문: {_need(doc, 'question')}\n"
            f"보기: {listed}\n{KOBBQ_INSTRUCTION}"
        )
        meta = {
            "kobbq_category": parts[0],
            "polarity": parts[4],
            "answer": _need(doc, "answer"),
            "biased_answer": _need(doc, "biased_answer"),
            "choices": " | ".join(choices),
            "label_annotation": _get(doc, "label_annotation"),
        }
        seed = Seed(
            seed_id("kobbq", sample, text), text, KOBBQ_CATEGORIES[parts[0]], "kobbq", False, meta
        )
        _add(found, seed, doc, keyed=True)
    return list(found.values())


# --- bundled sets --------------------------------------------------------------------


def bundled_seeds() -> list[Seed]:
    """haechi's small Korean seed set (``data/seeds_ko.jsonl``): every category, ids
    ``bundled:<id>``."""
    return load_jsonl(DATA / "seeds_ko.jsonl", name="bundled")


def bundled_controls() -> list[Seed]:
    """Benign look-alikes of the bundled seeds (``data/controls_ko.jsonl``) for measuring
    over-refusal: ``benign=True``, category = the one each resembles, ids
    ``controls:<id>``."""
    return load_jsonl(DATA / "controls_ko.jsonl", name="controls", benign=True)


def _dataset_file(folder: Path | str, dataset: str, name: str, split: str | None) -> Path:
    if split is not None and split not in SPLITS[dataset]:
        raise InputError(
            f"unknown {dataset} split {split!r}",
            field="split",
            hint=f"use one of {', '.join(SPLITS[dataset])}",
        )
    path = Path(folder) / name
    if not path.is_file():
        raise InputError(
            f"no {name} here",
            file=str(path),
            hint=f"point the path at the {dataset} folder (its SOURCE.md lists the files)",
        )
    return path


def _require_columns(path: Path, docs: list[Document], names: tuple[str, ...]) -> None:
    for name in names:
        if docs and name not in docs[0].fields:
            raise InputError(
                f"no {name!r} column",
                file=str(path),
                line=1,
                field=name,
                hint=f"the header needs {', '.join(names)}",
            )


def _add(found: dict[str, Seed], seed: Seed, doc: Document, keyed: bool = False) -> None:
    """Keep the first seed with each id: a repeated row id is an error, a repeated text
    (same hash id) is the same seed and is dropped."""
    if seed.id not in found:
        found[seed.id] = seed
    elif keyed:
        raise doc.error(f"duplicate id {seed.id!r}", "id", "ids must be unique within a set")


def _get(doc: Document, key: str) -> str:
    """The field as stripped text; "" when absent or null (csv cells are always text)."""
    value = doc.fields.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def _need(doc: Document, key: str, alias: str | None = None) -> str:
    value = doc.fields.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        shown = f"{alias} (or {key})" if alias else key
        raise doc.error("missing or empty", alias or key, f"every row needs {shown}")
    if not isinstance(value, str):
        raise doc.error(f"expected text, got {value!r}", key)
    return value.strip()


def _category(doc: Document, value: object, field: str) -> str:
    try:
        return check_category(value)
    except InputError as exc:
        raise doc.error(exc.message, field, exc.hint) from None


def _choices(doc: Document) -> list[str]:
    raw = _need(doc, "choices")
    try:
        choices = ast.literal_eval(
            raw
        )  # a Python list literal, e.g. ['손자', '할머니', '알 수 없음']
    except (ValueError, SyntaxError):
        choices = None
    if not (
        isinstance(choices, list) and len(choices) == 3 and all(isinstance(c, str) for c in choices)
    ):
        raise doc.error(f"expected a list of three choices, got {raw!r}", "choices")
    return [c.strip() for c in choices]
