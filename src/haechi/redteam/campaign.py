"""Campaign files: one YAML says what to attack, how, and how to judge it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from haechi.errors import InputError
from haechi.redteam.conversation import ConversationSpec
from haechi.redteam.converters import CONVERTERS, MODEL_KINDS
from haechi.redteam.crescendo import CrescendoSpec
from haechi.redteam.detectors import parse_detector_spec
from haechi.redteam.generators import JAILBREAK_FAMILIES
from haechi.redteam.tap import TapSpec
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

    def models(self) -> list[tuple[str, dict[str, Any]]]:
        """The model specs (with args) the generator calls."""
        return [(self.model, self.model_args)] if self.model else []


AnyGenerator = Annotated[GeneratorSpec | CrescendoSpec | TapSpec, Field(discriminator="type")]
"""A ``generators:`` entry: single-turn kinds and PAIR above, the multi-turn generators in
their own modules (``crescendo.py``, ``tap.py``; see ``conversation.py``)."""


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
    generators: list[AnyGenerator] = [GeneratorSpec(type="direct")]
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

    _file: str | None = PrivateAttr(None)
    _text: str = PrivateAttr("")

    def locate(self, exc: InputError) -> InputError:
        """``exc`` with the campaign file and the line of its field, when it has neither."""
        if self._file is None or exc.file is not None:
            return exc
        line = line_of(self._text, exc.field or "")
        return InputError(exc.message, file=self._file, line=line, field=exc.field, hint=exc.hint)

    def check(self) -> None:
        """What a campaign names beyond its own schema: converters, generators, detectors.
        Raises ``InputError`` naming the field; reads no data and loads no model."""
        for i, chain in enumerate(self.converters):
            for j, name in enumerate(chain):
                where = f"converters[{i}][{j}]"
                if name in MODEL_KINDS and self.converter_model is None:
                    raise InputError(
                        f"converter {name!r} calls a model, and none was given",
                        field=where,
                        hint="set converter_model: to a model spec",
                    )
                if name not in CONVERTERS and name not in MODEL_KINDS:
                    raise InputError(
                        f"unknown converter {name!r}",
                        field=where,
                        hint=f"known converters: {', '.join([*CONVERTERS, *MODEL_KINDS])}",
                    )
        labels = [g.label for g in self.generators if isinstance(g, ConversationSpec)]
        if len(set(labels)) != len(labels):
            raise InputError(
                f"multi-turn generators must differ in type or attacker, got {', '.join(labels)}",
                field="generators",
            )
        for i, generator in enumerate(self.generators):
            if not isinstance(generator, GeneratorSpec):
                continue
            for j, family in enumerate(generator.families):
                if family not in JAILBREAK_FAMILIES:
                    raise InputError(
                        f"unknown jailbreak family {family!r}",
                        field=f"generators[{i}].families[{j}]",
                        hint=f"known: {', '.join(JAILBREAK_FAMILIES)}",
                    )
            if generator.type in ("red_lm", "pair") and not generator.model:
                raise InputError(
                    f"a {generator.type} generator needs the attacker's model spec",
                    field=f"generators[{i}].model",
                )
        if sum(g.type == "pair" for g in self.generators) > 1:
            raise InputError("at most one pair generator", field="generators")
        names = [
            parse_detector_spec(d, where=f"detectors[{i}]").detector_name
            for i, d in enumerate(self.detectors)
        ]
        if len(set(names)) != len(names):
            raise InputError(
                f"detector names must be distinct, got {', '.join(names)}",
                field="detectors",
                hint="set a distinct name: on each detector",
            )

    def fingerprint(self) -> str:
        """A hash of everything that decides which attempts exist and how they are judged
        (an unset ``mitigation`` is left out, so campaigns written before it keep theirs)."""
        unset = {"mitigation"} if self.mitigation is None else set()
        blob = json.dumps(
            self.model_dump(mode="json", exclude=unset), sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def load_campaign(path: Path) -> CampaignSpec:
    """Read and validate a campaign file, converters, generators and detectors included;
    errors name the file, the line and the field."""
    raw, text = read_yaml_mapping(path, "campaign")
    try:
        spec = CampaignSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = _without_tag(first["loc"], raw)
        message = f"{first['msg']} (got {first.get('input')!r})"
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):  # a generator's type
            loc, message = (*loc, "type"), first["msg"].replace("Input tag", "generator type")
        field = ".".join(str(p) for p in loc)
        raise InputError(
            message,
            file=str(path),
            line=line_of(text, field),
            field=field or None,
        ) from None
    spec._file, spec._text = str(path), text
    try:
        spec.check()
    except InputError as exc:
        raise spec.locate(exc) from None
    return spec


def _without_tag(loc: tuple[int | str, ...], raw: dict[str, Any]) -> tuple[int | str, ...]:
    """A validation error's location without the generator union's tag (the entry's
    ``type``, which pydantic puts after the index): ``generators.0.depth``."""
    if len(loc) > 2 and loc[0] == "generators" and isinstance(loc[1], int):
        entries = raw.get("generators")
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        if isinstance(entry, dict) and loc[2] == entry.get("type"):
            return loc[:2] + loc[3:]
    return loc


_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def line_of(text: str, field: str) -> int | None:
    """The line of ``field`` (``detectors[1].model`` or ``target.max_new_tokens``) in the
    YAML ``text``: of its deepest part that is there."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for index, key in _PART.findall(field):
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == (key or index)), None)
            if pair is None:
                break
            line = pair[0].start_mark.line + 1
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and (index or key).isdigit():
            position = int(index or key)
            if position >= len(node.value):
                break
            node = node.value[position]
            line = node.start_mark.line + 1
        else:
            break
    return line
