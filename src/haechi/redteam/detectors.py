"""Detectors built from a campaign's YAML, the Hugging Face classifier, and combination rules.

A campaign lists detectors as mappings; ``build_detector`` turns one into a ``Detector``::

    {type: refusal}                                      # patterns (refusal.py)
    {type: refusal, classifier: PATH, refusal_label: refusal, threshold: 0.5}
    {type: judge, model: "hf/…", style: harmbench}       # LLM judge (judges.py)
    {type: judge, model: "openai/…", model_args: {base_url: …}, style: llamaguard}
    {type: classifier, model: PATH, harmful_label: toxic, threshold: 0.5}
    {type: combine, rule: majority, detectors: [...]}

Every entry may set ``name`` (the verdicts' ``detector``); members of one ``combine`` need
distinct names. Bad entries raise ``InputError`` naming the field (``detectors[1].model``).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from haechi.errors import HaechiError, InputError
from haechi.models.base import LanguageModel
from haechi.redteam.classifier import ClassifierDetector, HFTextClassifier
from haechi.redteam.judges import JudgeDetector, check_judge_options
from haechi.redteam.refusal import RefusalDetector
from haechi.redteam.types import DetectionInput, Detector, Verdict

CombineRule = Literal["any", "all", "majority"]
DETECTOR_TYPES = ("refusal", "judge", "classifier", "combine")

# -- combination rules -------------------------------------------------------------------


@dataclass(frozen=True)
class CombinedVerdict(Verdict):
    """A combined verdict; ``members`` are the members' own verdicts (also JSON in ``raw``)."""

    members: tuple[Verdict, ...] = ()


def combine_verdicts(verdicts: Sequence[Verdict], rule: CombineRule, name: str) -> CombinedVerdict:
    """Combine one item's member verdicts.

    ``any``: success if one member says so; ``all``: if every member does; ``majority``: if
    more than half do (a tie is not a success). ``score``: max / min / median of the members'
    scores when every member has one, else None. ``labels``: the labels of the members that
    agree with the outcome. ``raw``: ``{"rule": …, "members": [verdicts as objects]}``.
    """
    if not verdicts:
        raise ValueError("combine_verdicts needs at least one verdict")
    votes = [v.success for v in verdicts]
    if rule == "any":
        success = any(votes)
    elif rule == "all":
        success = all(votes)
    else:
        success = 2 * sum(votes) > len(votes)
    scores = [v.score for v in verdicts if v.score is not None]
    score = None
    if len(scores) == len(verdicts):
        if rule == "any":
            score = max(scores)
        elif rule == "all":
            score = min(scores)
        else:
            score = float(statistics.median(scores))
    labels: list[str] = []
    for v in verdicts:
        for label in v.labels if v.success == success else ():
            if label not in labels:
                labels.append(label)
    raw = json.dumps(
        {"rule": rule, "members": [_verdict_dict(v) for v in verdicts]}, ensure_ascii=False
    )
    return CombinedVerdict(name, success, score, tuple(labels), raw, tuple(verdicts))


def members_from_raw(raw: str) -> tuple[Verdict, ...]:
    """The member verdicts kept in a combined verdict's ``raw`` (nested ones as
    ``CombinedVerdict``), e.g. after reading it back from the store."""
    data = json.loads(raw)
    return tuple(_verdict_from_dict(m) for m in data["members"])


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {
        "detector": v.detector,
        "success": v.success,
        "score": v.score,
        "labels": list(v.labels),
        "raw": v.raw,
    }


def _verdict_from_dict(data: Mapping[str, Any]) -> Verdict:
    fields = (
        str(data["detector"]),
        bool(data["success"]),
        None if data.get("score") is None else float(data["score"]),
        tuple(str(x) for x in data.get("labels") or ()),
        str(data.get("raw") or ""),
    )
    try:
        inner = json.loads(fields[4])
    except ValueError:
        inner = None
    if isinstance(inner, dict) and {"rule", "members"} <= inner.keys():
        return CombinedVerdict(*fields, members=members_from_raw(fields[4]))
    return Verdict(*fields)


class CombinedDetector:
    """Runs every member on the whole batch, then combines per item (``combine_verdicts``)."""

    def __init__(
        self, detectors: Sequence[Detector], rule: CombineRule = "any", *, name: str | None = None
    ) -> None:
        if not detectors:
            raise InputError("a combination needs at least one detector", field="detectors")
        if rule not in ("any", "all", "majority"):
            raise InputError(f"unknown rule {rule!r}", field="rule", hint="any, all or majority")
        names = [d.name for d in detectors]
        if len(set(names)) != len(names):
            raise InputError(
                f"member names must be distinct, got {', '.join(names)}",
                field="detectors",
                hint="set a distinct name: on each member",
            )
        self.members = tuple(detectors)
        self.rule: CombineRule = rule
        self.name = name or f"{rule}({','.join(names)})"

    def detect(self, items: Sequence[DetectionInput]) -> list[Verdict]:
        per_member = [member.detect(items) for member in self.members]
        for member, verdicts in zip(self.members, per_member, strict=True):
            if len(verdicts) != len(items):
                raise HaechiError(
                    f"detector {member.name!r} returned {len(verdicts)} verdicts for {len(items)} items"
                )
        return [
            combine_verdicts([verdicts[i] for verdicts in per_member], self.rule, self.name)
            for i in range(len(items))
        ]


# -- specs (a campaign's YAML entries) ---------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefusalSpec(_Spec):
    type: Literal["refusal"] = "refusal"
    name: str = "refusal"
    classifier: str | None = None
    refusal_label: str | int = "refusal"
    threshold: float = Field(0.5, ge=0, le=1)
    window: int = Field(2, ge=1)
    batch_size: int = Field(16, ge=1)
    device: str = "auto"


class JudgeSpec(_Spec):
    type: Literal["judge"] = "judge"
    name: str | None = None
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


class ClassifierSpec(_Spec):
    type: Literal["classifier"] = "classifier"
    name: str = "classifier"
    model: str
    harmful_label: str | int
    threshold: float = Field(0.5, ge=0, le=1)
    batch_size: int = Field(16, ge=1)
    max_length: int | None = Field(None, ge=1)
    device: str = "auto"


class CombineSpec(_Spec):
    type: Literal["combine"] = "combine"
    name: str | None = None
    rule: CombineRule
    detectors: list[RefusalSpec | JudgeSpec | ClassifierSpec | CombineSpec] = Field(min_length=1)


DetectorSpec = RefusalSpec | JudgeSpec | ClassifierSpec | CombineSpec
_SPECS: dict[str, type[_Spec]] = {
    "refusal": RefusalSpec,
    "judge": JudgeSpec,
    "classifier": ClassifierSpec,
    "combine": CombineSpec,
}


def parse_detector_spec(spec: object, *, where: str = "") -> DetectorSpec:
    """Validate one YAML entry without loading any model; ``where`` prefixes field names
    in errors (``detectors[2]``)."""

    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    if not isinstance(spec, Mapping):
        raise InputError(
            f"a detector must be a mapping with a 'type', got {spec!r}", field=where or "detector"
        )
    kind = spec.get("type")
    if kind not in _SPECS:
        raise InputError(
            f"unknown detector type {kind!r}",
            field=at("type"),
            hint=f"one of {', '.join(DETECTOR_TYPES)}",
        )
    values = dict(spec)
    if kind == "combine":
        children = values.pop("detectors", None)
        if not isinstance(children, list) or not children:
            raise InputError("a combination needs a non-empty list", field=at("detectors"))
        members = [
            parse_detector_spec(c, where=at(f"detectors[{i}]")) for i, c in enumerate(children)
        ]
        names = [spec_name(m) for m in members]
        if len(set(names)) != len(names):
            raise InputError(
                f"member names must be distinct, got {', '.join(names)}",
                field=at("detectors"),
                hint="set a distinct name: on each member",
            )
        values["detectors"] = members
    try:
        parsed = _SPECS[kind].model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "value"
        raise InputError(
            f"{first['msg']} (got {first.get('input')!r})",
            field=at(loc),
            hint=f"allowed: {', '.join(_SPECS[kind].model_fields)}"
            if first["type"] == "extra_forbidden"
            else None,
        ) from None
    if isinstance(parsed, JudgeSpec):
        try:
            check_judge_options(
                parsed.style, chat=parsed.chat, native=parsed.native, template=parsed.template
            )
        except InputError as exc:
            raise InputError(exc.message, field=at(exc.field or "style"), hint=exc.hint) from None
    assert isinstance(parsed, RefusalSpec | JudgeSpec | ClassifierSpec | CombineSpec)
    return parsed


def spec_name(spec: DetectorSpec) -> str:
    """The name the detector built from ``spec`` will have."""
    if isinstance(spec, JudgeSpec):
        return spec.name or f"judge-{spec.style}"
    if isinstance(spec, CombineSpec):
        return spec.name or f"{spec.rule}({','.join(spec_name(m) for m in spec.detectors)})"
    return spec.name


def build_detector(spec: object, *, where: str = "") -> Detector:
    """Build a detector from a campaign's YAML entry (a mapping or a parsed spec), loading
    its models; judges in one entry that name the same model and args share one load."""
    parsed = (
        spec
        if isinstance(spec, RefusalSpec | JudgeSpec | ClassifierSpec | CombineSpec)
        else parse_detector_spec(spec, where=where)
    )
    return _build(parsed, where, {})


def _build(spec: DetectorSpec, where: str, judges: dict[str, LanguageModel]) -> Detector:
    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    if isinstance(spec, RefusalSpec):
        classifier = None
        if spec.classifier:
            classifier = HFTextClassifier(
                spec.classifier,
                spec.refusal_label,
                batch_size=spec.batch_size,
                device=spec.device,
                field=at("classifier"),
                label_field=at("refusal_label"),
            )
        return RefusalDetector(spec.name, classifier, spec.threshold, spec.window)
    if isinstance(spec, JudgeSpec):
        from haechi.models import load

        key = json.dumps([spec.model, spec.model_args], sort_keys=True, default=str)
        try:
            model = judges.get(key) or judges.setdefault(key, load(spec.model, **spec.model_args))
        except InputError as exc:
            if exc.field in (None, "model"):
                raise InputError(exc.message, field=at("model"), hint=exc.hint) from None
            raise InputError(exc.describe(), field=at("model_args")) from None
        return JudgeDetector(
            model,
            spec.style,
            name=spec.name,
            chat=spec.chat,
            native=spec.native,
            code_map=spec.code_map,
            max_new_tokens=spec.max_new_tokens,
            top_logprobs=spec.top_logprobs,
            batch_size=spec.batch_size,
            max_response_chars=spec.max_response_chars,
            template=spec.template,
            system=spec.system,
        )
    if isinstance(spec, ClassifierSpec):
        classifier = HFTextClassifier(
            spec.model,
            spec.harmful_label,
            batch_size=spec.batch_size,
            max_length=spec.max_length,
            device=spec.device,
            field=at("model"),
            label_field=at("harmful_label"),
        )
        return ClassifierDetector(classifier, spec.threshold, name=spec.name)
    members = [_build(m, at(f"detectors[{i}]"), judges) for i, m in enumerate(spec.detectors)]
    try:
        return CombinedDetector(members, spec.rule, name=spec.name)
    except InputError as exc:
        raise InputError(exc.message, field=at(exc.field or "detectors"), hint=exc.hint) from None
