"""Detectors as a campaign's YAML names them: one spec class per ``type``, each with its ``build``.

A campaign lists detectors as mappings; ``build_detector`` turns one into a ``Detector``::

    {type: refusal}                                      # patterns (refusal.py)
    {type: refusal, classifier: PATH, refusal_label: refusal, threshold: 0.5}
    {type: judge, model: "hf/…", style: harmbench}       # LLM judge (judges.py)
    {type: judge, model: "openai/…", model_args: {base_url: …}, style: llamaguard}
    {type: classifier, model: PATH, harmful_label: toxic, threshold: 0.5}
    {type: combine, rule: majority, detectors: [...]}   # combine.py

Adding a detector is one subclass of ``DetectorSpec`` with a ``type`` Literal, its options
as fields and a ``build``: defining it registers it (``SPECS``), and the entries are read
as a pydantic union discriminated on ``type`` built from the registry, nested ones too.
Every entry may set ``name`` (the verdicts' ``detector``); members of one ``combine`` need
distinct names. Bad entries raise ``InputError`` naming the field (``detectors[1].model``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import CoreSchema

from haechi.errors import InputError
from haechi.models.base import LanguageModel
from haechi.redteam.classifier import ClassifierDetector, HFTextClassifier
from haechi.redteam.combine import CombinedDetector, CombineRule
from haechi.redteam.judges import JudgeDetector, check_judge_options
from haechi.redteam.refusal import RefusalDetector
from haechi.redteam.types import Detector

SPECS: dict[str, type[DetectorSpec]] = {}
"""Every detector spec class by its ``type``, in the order they were defined."""


@dataclass
class BuildContext:
    """Where an entry sits (``detectors[2]``, for error fields) and the models loaded so far,
    so judges of one entry that name the same model and args share one load."""

    where: str = ""
    models: dict[str, LanguageModel] = field(default_factory=dict)

    def at(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def inside(self, name: str) -> BuildContext:
        return BuildContext(self.at(name), self.models)

    def load_model(self, spec: str, args: dict[str, Any]) -> LanguageModel:
        """``haechi.models.load(spec, **args)``, once per spec and args; errors name the field."""
        from haechi.models import load

        key = json.dumps([spec, args], sort_keys=True, default=str)
        if key not in self.models:
            try:
                self.models[key] = load(spec, **args)
            except InputError as exc:
                if exc.field in (None, "model"):
                    raise InputError(exc.message, field=self.at("model"), hint=exc.hint) from None
                raise InputError(exc.describe(), field=self.at("model_args")) from None
        return self.models[key]


class DetectorSpec(BaseModel):
    """One detector entry. Subclasses set ``type: Literal[...]`` and implement ``build``;
    ``check`` adds rules across fields, ``detector_name`` the verdicts' ``detector``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    type: str
    name: str | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        kind = cls.model_fields["type"].default
        if not isinstance(kind, str):
            raise TypeError(f"{cls.__name__} needs a default for its type Literal")
        if kind in SPECS:
            raise TypeError(f"detector type {kind!r} is defined twice")
        SPECS[kind] = cls
        for spec in SPECS.values():  # specs holding members re-read the grown union
            if spec.__pydantic_complete__:
                spec.model_rebuild(force=True)

    @property
    def detector_name(self) -> str:
        return self.name or self.type

    def check(self, at: Callable[[str], str]) -> None:
        """Raise ``InputError`` for options that validate alone but not together."""

    def build(self, context: BuildContext) -> Detector:
        raise NotImplementedError


class AnyDetectorSpec:
    """A field type: any registered detector entry (the discriminated union)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler.generate_schema(_union())


def _union() -> Any:
    """Every registered spec, told apart by ``type``."""
    return Annotated[Union[tuple(SPECS.values())], Field(discriminator="type")]  # noqa: UP007


_ADAPTERS: dict[tuple[type[DetectorSpec], ...], TypeAdapter[Any]] = {}


def _adapter() -> TypeAdapter[Any]:
    members = tuple(SPECS.values())
    if members not in _ADAPTERS:
        _ADAPTERS[members] = TypeAdapter(_union())
    return _ADAPTERS[members]


# -- the detectors ------------------------------------------------------------------------


class RefusalSpec(DetectorSpec):
    """Refusal patterns, optionally with a refusal classifier (refusal.py)."""

    type: Literal["refusal"] = "refusal"
    name: str | None = "refusal"
    classifier: str | None = None
    refusal_label: str | int = "refusal"
    threshold: float = Field(0.5, ge=0, le=1)
    window: int = Field(2, ge=1)
    batch_size: int = Field(16, ge=1)
    device: str = "auto"

    def build(self, context: BuildContext) -> Detector:
        classifier = None
        if self.classifier:
            classifier = HFTextClassifier(
                self.classifier,
                self.refusal_label,
                batch_size=self.batch_size,
                device=self.device,
                field=context.at("classifier"),
                label_field=context.at("refusal_label"),
            )
        return RefusalDetector(self.detector_name, classifier, self.threshold, self.window)


class JudgeSpec(DetectorSpec):
    """An LLM judge in HarmBench or Llama-Guard style, any model spec (judges.py)."""

    type: Literal["judge"] = "judge"
    model: str
    model_args: dict[str, Any] = Field(default_factory=dict)
    style: Literal["harmbench", "llamaguard"] = "harmbench"
    chat: bool = True
    native: bool = False
    code_map: dict[str, str] | None = None
    max_new_tokens: int | None = Field(None, ge=1)
    top_logprobs: int = Field(10, ge=0)
    batch_size: int = Field(32, ge=1)
    max_response_chars: int = Field(4000, ge=1)
    template: str | None = None
    system: str | None = None

    @property
    def detector_name(self) -> str:
        return self.name or f"judge-{self.style}"

    def check(self, at: Callable[[str], str]) -> None:
        try:
            check_judge_options(
                self.style, chat=self.chat, native=self.native, template=self.template
            )
        except InputError as exc:
            raise InputError(exc.message, field=at(exc.field or "style"), hint=exc.hint) from None

    def build(self, context: BuildContext) -> Detector:
        return JudgeDetector(
            context.load_model(self.model, self.model_args),
            self.style,
            name=self.detector_name,
            chat=self.chat,
            native=self.native,
            code_map=self.code_map,
            max_new_tokens=self.max_new_tokens,
            top_logprobs=self.top_logprobs,
            batch_size=self.batch_size,
            max_response_chars=self.max_response_chars,
            template=self.template,
            system=self.system,
        )


class ClassifierSpec(DetectorSpec):
    """A Hugging Face text classifier's P(harmful label) (classifier.py)."""

    type: Literal["classifier"] = "classifier"
    name: str | None = "classifier"
    model: str
    harmful_label: str | int
    threshold: float = Field(0.5, ge=0, le=1)
    batch_size: int = Field(16, ge=1)
    max_length: int | None = Field(None, ge=1)
    device: str = "auto"

    def build(self, context: BuildContext) -> Detector:
        classifier = HFTextClassifier(
            self.model,
            self.harmful_label,
            batch_size=self.batch_size,
            max_length=self.max_length,
            device=self.device,
            field=context.at("model"),
            label_field=context.at("harmful_label"),
        )
        return ClassifierDetector(classifier, self.threshold, name=self.detector_name)


class CombineSpec(DetectorSpec):
    """Several detectors' verdicts combined by ``rule`` (combine.py)."""

    type: Literal["combine"] = "combine"
    rule: CombineRule
    detectors: list[AnyDetectorSpec] = Field(min_length=1)

    @property
    def members(self) -> list[DetectorSpec]:
        return [m for m in self.detectors if isinstance(m, DetectorSpec)]

    @property
    def detector_name(self) -> str:
        names = ",".join(m.detector_name for m in self.members)
        return self.name or f"{self.rule}({names})"

    def check(self, at: Callable[[str], str]) -> None:
        for i, member in enumerate(self.members):
            member.check(functools.partial(_member_at, at, i))
        names = [m.detector_name for m in self.members]
        if len(set(names)) != len(names):
            raise InputError(
                f"member names must be distinct, got {', '.join(names)}",
                field=at("detectors"),
                hint="set a distinct name: on each member",
            )

    def build(self, context: BuildContext) -> Detector:
        members = [m.build(context.inside(f"detectors[{i}]")) for i, m in enumerate(self.members)]
        return CombinedDetector(members, self.rule, name=self.detector_name)


def _member_at(at: Callable[[str], str], index: int, name: str) -> str:
    return at(f"detectors[{index}].{name}")


# -- reading and building -----------------------------------------------------------------


def parse_detector_spec(spec: object, *, where: str = "") -> DetectorSpec:
    """Validate one YAML entry without loading any model; ``where`` prefixes field names
    in errors (``detectors[2]``)."""
    context = BuildContext(where)
    if not isinstance(spec, Mapping):
        raise InputError(
            f"a detector must be a mapping with a 'type', got {spec!r}", field=where or "detector"
        )
    try:
        parsed = _adapter().validate_python(dict(spec))
    except ValidationError as exc:
        raise _input_error(exc, context) from None
    assert isinstance(parsed, DetectorSpec)
    parsed.check(context.at)
    return parsed


def build_detector(spec: object, *, where: str = "") -> Detector:
    """Build a detector from a campaign's YAML entry (a mapping or a parsed spec), loading
    its models; judges in one entry that name the same model and args share one load."""
    parsed = spec if isinstance(spec, DetectorSpec) else parse_detector_spec(spec, where=where)
    return parsed.build(BuildContext(where))


def _input_error(exc: ValidationError, context: BuildContext) -> InputError:
    """The first error, its location as a field path: pydantic's location holds the
    union's tag (the ``type``) before each entry's fields, which the path leaves out."""
    first = exc.errors()[0]
    parts: list[str] = []
    spec: type[DetectorSpec] | None = None
    expect_tag = True
    for part in first["loc"]:
        if expect_tag and isinstance(part, str) and part in SPECS:
            spec, expect_tag = SPECS[part], False
        elif isinstance(part, int):
            parts.append(f"[{part}]")
            expect_tag = True
        else:
            parts.append(f".{part}")
            expect_tag = False
    kind = first["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        got = first["input"].get("type") if isinstance(first["input"], Mapping) else None
        message = f"unknown detector type {got!r}" if got is not None else "missing"
        parts.append(".type")
        hint: str | None = f"one of {', '.join(SPECS)}"
    elif kind in ("model_attributes_type", "model_type"):
        message = f"a detector must be a mapping with a 'type', got {first['input']!r}"
        hint = None
    else:
        message = f"{first['msg']} (got {first.get('input')!r})"
        allowed = ", ".join(spec.model_fields) if spec else ""
        hint = f"allowed: {allowed}" if kind == "extra_forbidden" and spec else None
    path = "".join(parts).lstrip(".")
    return InputError(
        message, field=context.at(path) if path else context.where or "detector", hint=hint
    )
