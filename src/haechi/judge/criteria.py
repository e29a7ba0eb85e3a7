"""Evaluation criteria: one YAML each (bundled in ``judge/criteria``, or a user's file)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from haechi.errors import InputError
from haechi.yaml_files import read_yaml_mapping


class Criterion(BaseModel):
    """A G-Eval criterion: the task introduction and the criterion text the judge reads,
    the integer score range, and optionally fixed evaluation steps (else generated once)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    label: str = Field(description="how the form names it, e.g. Coherence or 정확성")
    language: str = "en"
    task_introduction: str
    criterion: str
    score_min: int = 1
    score_max: int = 5
    steps: str | None = None

    @model_validator(mode="after")
    def _range(self) -> Criterion:
        if self.score_max <= self.score_min:
            raise ValueError("score_max must be above score_min")
        return self

    @property
    def scores(self) -> list[int]:
        return list(range(self.score_min, self.score_max + 1))

    def digest(self) -> str:
        """Identifies the criterion's wording (steps are generated per digest)."""
        blob = self.model_dump_json(exclude={"steps"})
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _folder() -> Path:
    return Path(str(resources.files("haechi.judge").joinpath("criteria")))


@lru_cache(maxsize=1)
def bundled_criteria() -> dict[str, Criterion]:
    found = {}
    for path in sorted(_folder().glob("*.yaml")):
        criterion = load_criterion(path)
        found[criterion.name] = criterion
    return found


def load_criterion(path: Path) -> Criterion:
    raw, _ = read_yaml_mapping(path, "criterion file")
    try:
        return Criterion.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InputError(first["msg"], file=str(path), field=field) from None


def resolve_criteria(names: str | list[str]) -> list[Criterion]:
    """``coherence,fluency`` or paths of criterion YAML files."""
    items = names.split(",") if isinstance(names, str) else names
    known = bundled_criteria()
    chosen = []
    for item in (i.strip() for i in items if i.strip()):
        if item.endswith((".yaml", ".yml")):
            chosen.append(load_criterion(Path(item)))
        elif item in known:
            chosen.append(known[item])
        else:
            raise InputError(
                f"unknown criterion {item!r}", field="criteria", hint=f"bundled: {', '.join(known)}"
            )
    if not chosen:
        raise InputError("no criteria given", field="criteria")
    return chosen
