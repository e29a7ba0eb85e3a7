"""Campaign files: one YAML says what to attack, how, and how to judge it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from haechi.errors import InputError
from haechi.yaml_files import read_yaml_mapping


class TargetSpec(BaseModel):
    """The model under attack and how it generates."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="model spec, e.g. hf/./ckpt or openai/my-model")
    model_args: dict[str, Any] = {}
    system_prompt: str | None = None
    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = 0


class GeneratorSpec(BaseModel):
    """An attack generator.

    ``direct``: the seed as written. ``templates``: jailbreak families (all, or ``families``).
    ``red_lm``: a red-team model writes new test cases per category (Perez et al. 2022),
    zero-shot or stochastic few-shot from the campaign's seeds. ``pair``: an attacker model
    revises the prompt from the detectors' feedback for ``rounds`` rounds (PAIR).
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["direct", "templates", "red_lm", "pair"]
    families: list[str] = []
    model: str | None = Field(None, description="red_lm / pair: the attacker model spec")
    model_args: dict[str, Any] = {}
    mode: Literal["zero_shot", "few_shot"] = "zero_shot"
    per_category: int = Field(5, ge=1, description="red_lm: test cases per category")
    shots: int = Field(5, ge=1, description="red_lm few-shot: examples per prompt")
    rounds: int = Field(3, ge=1, description="pair: attacker revisions")
    temperature: float = Field(1.0, ge=0)
    max_new_tokens: int = Field(256, ge=1)

    @property
    def label(self) -> str:
        return self.type if not self.model else f"{self.type}:{self.model}"


class BudgetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)


class CampaignSpec(BaseModel):
    """A red-teaming campaign. ``converters`` lists chains (each a list of converter names,
    or one name; ``[]`` sends the prompt as written); every attack goes through every chain.
    ``decision`` combines the detectors' verdicts into the attempt's success."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[\w.\-]+$")
    description: str = ""
    target: TargetSpec
    seeds: list[dict[str, Any]] = Field(min_length=1)
    controls: list[dict[str, Any]] = [{"source": "controls"}]
    generators: list[GeneratorSpec] = [GeneratorSpec(type="direct")]
    converters: list[list[str]] = [[]]
    detectors: list[dict[str, Any]] = [{"type": "refusal"}]
    decision: Literal["any", "all", "majority"] = "any"
    budget: BudgetSpec = BudgetSpec()
    concurrency: int = Field(8, ge=1, description="attempts sent to the target together")
    seed: int = 0
    converter_model: str | None = Field(
        None, description="model spec for model-based converters (translate, paraphrase)"
    )
    mitigation: str | None = Field(
        None, description="decode-time guard on the target, e.g. gedi:./gedi-dir (haechi.guard)"
    )

    @field_validator("converters", mode="before")
    @classmethod
    def _chains(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [[c] if isinstance(c, str) else c for c in value]
        return value

    @field_validator("mitigation")
    @classmethod
    def _mitigation(cls, value: str | None) -> str | None:
        from haechi.guard.spec import parse_guard

        if value is not None:
            try:
                parse_guard(value, field="mitigation")
            except InputError as exc:
                raise ValueError(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None
        return value

    def fingerprint(self) -> str:
        """A hash of everything that decides which attempts exist and how they are judged
        (an unset ``mitigation`` is left out, so campaigns written before it keep theirs)."""
        unset = {"mitigation"} if self.mitigation is None else set()
        blob = json.dumps(
            self.model_dump(mode="json", exclude=unset), sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def load_campaign(path: Path) -> CampaignSpec:
    """Read and validate a campaign file; errors name the file, the line and the field."""
    raw, text = read_yaml_mapping(path, "campaign")
    try:
        return CampaignSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"{first['msg']} (got {first.get('input')!r})",
            file=str(path),
            line=_line_of(text, first["loc"]),
            field=field or None,
        ) from None


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line of the first key in ``loc`` (good enough to point a user at the entry)."""
    for part in reversed(loc):
        if isinstance(part, str):
            for number, line in enumerate(text.splitlines(), start=1):
                if line.lstrip().startswith(f"{part}:") or line.lstrip().startswith(f"- {part}:"):
                    return number
    return None
