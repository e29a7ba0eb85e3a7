"""Seed sets as a campaign names them: ``{source: square, path: ..., limit: 100}``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from haechi.errors import InputError
from haechi.redteam.seeds import (
    SPLITS,
    bundled_controls,
    bundled_seeds,
    load_advbench_csv,
    load_harmbench_csv,
    load_jsonl,
    load_kobbq,
    load_kosbi,
    load_square,
)
from haechi.redteam.taxonomy import check_category
from haechi.redteam.types import Seed

_OPTIONS: dict[str, tuple[str, ...]] = {
    "bundled": (),
    "controls": (),
    "jsonl": ("path", "name", "category", "benign"),
    "harmbench": ("path", "category_map"),
    "advbench": ("path", "category"),
    "square": ("path", "split", "controls"),
    "kosbi": ("path", "split"),
    "kobbq": ("path",),
}
_COMMON = ("source", "categories", "limit")
SOURCES: tuple[str, ...] = tuple(_OPTIONS)
"""The ``source`` values ``load_seed_set`` accepts."""


def load_seed_set(
    spec: Mapping[str, Any], *, base_dir: Path | None = None, where: str = ""
) -> list[Seed]:
    """The seeds one campaign entry names, e.g. ``{source: square, path: ../shared/data/square,
    limit: 100}``.

    Fields: ``source`` (one of ``SOURCES``), ``path`` (file or folder; relative paths are
    taken from ``base_dir``, normally the campaign file's folder), the source's own
    options, ``categories`` (keep only these) and ``limit`` (at most this many, taken in
    turn from each category so a small limit still covers them all, in file order).
    Errors name the field as ``where.field``; an entry that yields no seed is an error.
    """

    def field(key: str) -> str:
        return f"{where}.{key}" if where else key

    if not isinstance(spec, Mapping):
        raise InputError("expected a mapping such as {source: bundled}", field=where or None)
    source = spec.get("source")
    if source not in _OPTIONS:
        raise InputError(
            f"unknown seed source {source!r}",
            field=field("source"),
            hint=f"use one of {', '.join(SOURCES)}",
        )
    allowed = _COMMON + _OPTIONS[source]
    for key in spec:
        if key not in allowed:
            raise InputError(
                f"not an option of source {source!r}",
                field=field(str(key)),
                hint=f"{source} takes {', '.join(allowed)}",
            )
    option = _Options(spec, field)
    if (category := option.get("category", str)) is not None:
        check_category(category, field=field("category"))

    if source == "bundled":
        seeds = bundled_seeds()
    elif source == "controls":
        seeds = bundled_controls()
    elif source == "jsonl":
        seeds = load_jsonl(
            option.path(base_dir),
            name=option.get("name", str),
            category=category,
            benign=bool(option.get("benign", bool)),
        )
    elif source == "harmbench":
        mapping = option.get("category_map", dict) or {}
        for label, target in mapping.items():
            check_category(target, field=field(f"category_map.{label}"))
        seeds = load_harmbench_csv(option.path(base_dir), category_map=mapping)
    elif source == "advbench":
        if category is None:
            raise InputError("missing: AdvBench files carry no categories", field=field("category"))
        seeds = load_advbench_csv(option.path(base_dir), category)
    elif source == "square":
        seeds = load_square(
            option.path(base_dir),
            split=option.split(),
            controls=bool(option.get("controls", bool)),
        )
    elif source == "kosbi":
        seeds = load_kosbi(option.path(base_dir), split=option.split())
    else:
        seeds = load_kobbq(option.path(base_dir))

    if (wanted := option.get("categories", list)) is not None:
        keep = {check_category(c, field=field("categories")) for c in wanted}
        seeds = [s for s in seeds if s.category in keep]
    if (limit := option.get("limit", int)) is not None:
        if limit < 1:
            raise InputError(f"expected a positive number, got {limit}", field=field("limit"))
        seeds = _spread(seeds, limit)
    if not seeds:
        raise InputError(
            f"the {source} seed set yields no seeds",
            field=field("categories" if "categories" in spec else "source"),
            hint="check its path and categories",
        )
    return seeds


class _Options:
    """Typed reads of one campaign entry's fields, errors naming the field."""

    def __init__(self, spec: Mapping[str, Any], field: Callable[[str], str]) -> None:
        self.spec = spec
        self.field = field

    def get(self, key: str, kind: type) -> Any:
        value = self.spec.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = {
                str: "text",
                int: "a whole number",
                bool: "true or false",
                list: "a list",
                dict: "a mapping",
            }
            raise InputError(f"expected {names[kind]}, got {value!r}", field=self.field(key))
        return value

    def path(self, base_dir: Path | None) -> Path:
        raw = self.get("path", str)
        if not raw:
            raise InputError(
                "missing: this source reads a file or folder", field=self.field("path")
            )
        path = Path(raw).expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path

    def split(self) -> str:
        split = self.get("split", str) or "test"
        known = SPLITS[str(self.spec["source"])]
        if split not in known:
            raise InputError(
                f"unknown split {split!r}",
                field=self.field("split"),
                hint=f"use one of {', '.join(known)}",
            )
        return split


# --- helpers -------------------------------------------------------------------------


def _spread(seeds: list[Seed], limit: int) -> list[Seed]:
    """At most ``limit`` seeds, taken in turn from each category, in their file order."""
    if limit >= len(seeds):
        return seeds
    queues: dict[str, list[Seed]] = {}
    for seed in seeds:
        queues.setdefault(seed.category, []).append(seed)
    turns = (s for row in itertools.zip_longest(*queues.values()) for s in row if s is not None)
    chosen = {s.id for s in itertools.islice(turns, limit)}
    return [s for s in seeds if s.id in chosen]
