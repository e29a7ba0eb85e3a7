"""Label schemas: the fields a reviewer fills in for each item of a campaign (YAML).

A field is ``choice`` (one option), ``multi`` (any number of options), ``boolean``,
``ordinal`` (one option; the options' order is their rank) or ``text``. Labels in
other languages fall back to English, then to the field name.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from haechi.errors import InputError
from haechi.yaml_files import read_yaml_mapping

FieldKind = Literal["choice", "multi", "boolean", "ordinal", "text"]
Language = Literal["ko", "en"]
BOOLEAN_OPTIONS = ("yes", "no")
MAX_NOTE_CHARS = 5000


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str = Field(min_length=1, max_length=64)
    label: dict[str, str] = {}

    def text(self, language: Language) -> str:
        return self.label.get(language) or self.label.get("en") or self.value


class LabelField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    kind: FieldKind
    label: dict[str, str] = {}
    help: dict[str, str] = {}
    options: tuple[Option, ...] = ()
    required: bool = False

    @field_validator("options", mode="before")
    @classmethod
    def _plain_options(cls, value: Any) -> Any:
        """Options may be written as plain strings or numbers."""
        if isinstance(value, list):
            return [{"value": str(o)} if isinstance(o, str | int) else o for o in value]
        return value

    @model_validator(mode="after")
    def _options_fit_kind(self) -> LabelField:
        if self.kind == "boolean" and not self.options:
            object.__setattr__(
                self,
                "options",
                (
                    Option(value="yes", label={"ko": "예", "en": "Yes"}),
                    Option(value="no", label={"ko": "아니오", "en": "No"}),
                ),
            )
        if self.kind in ("choice", "multi", "ordinal") and len(self.options) < 2:
            raise ValueError(f"a {self.kind} field needs at least two options")
        if self.kind == "text" and self.options:
            raise ValueError("a text field has no options")
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError("option values must be distinct")
        return self

    def title(self, language: Language) -> str:
        return self.label.get(language) or self.label.get("en") or self.name

    def hint(self, language: Language) -> str:
        return self.help.get(language) or self.help.get("en") or ""

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


class LabelSchema(BaseModel):
    """A campaign's fields, in the order the form shows them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=255)
    fields: tuple[LabelField, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct_names(self) -> LabelSchema:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("field names must be distinct")
        return self

    def field(self, name: str) -> LabelField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def validate_values(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Check one label against the schema and normalise it: ``choice``/``ordinal``/
        ``boolean`` → an option value or ``None``; ``multi`` → a sorted list (schema
        order); ``text`` → a stripped string. Raises ``InputError`` naming the field."""
        unknown = sorted(set(raw) - {f.name for f in self.fields})
        if unknown:
            raise InputError(f"unknown label field {unknown[0]!r}", field=unknown[0])
        clean: dict[str, Any] = {}
        for f in self.fields:
            clean[f.name] = _clean(f, raw.get(f.name))
            if f.required and clean[f.name] in (None, "", []):
                raise InputError(f"{f.name!r} is required", field=f.name)
        return clean


def _clean(field: LabelField, value: Any) -> Any:
    if field.kind == "text":
        text = "" if value is None else str(value).strip()
        if len(text) > MAX_NOTE_CHARS:
            raise InputError(f"at most {MAX_NOTE_CHARS} characters", field=field.name)
        return text
    if field.kind == "multi":
        chosen = {str(v) for v in (value or [])} if not isinstance(value, str) else {value}
        bad = sorted(chosen - set(field.values))
        if bad:
            raise InputError(f"{bad[0]!r} is not one of {list(field.values)}", field=field.name)
        return [v for v in field.values if v in chosen]
    if value is None or value == "":
        return None
    if field.kind == "boolean" and isinstance(value, bool):
        value = "yes" if value else "no"
    text = str(value)
    if text not in field.values:
        raise InputError(f"{text!r} is not one of {list(field.values)}", field=field.name)
    return text


def default_schema() -> LabelSchema:
    """The schema that ships: attack success, harm categories, severity 0–3 and a note."""
    text = resources.files("haechi.review").joinpath("schemas/default.yaml").read_text("utf-8")
    return parse_schema_text(text, "default.yaml")


def load_label_schema(path: Path) -> LabelSchema:
    """Read and validate a label-schema YAML file; errors name the file and field."""
    raw, _ = read_yaml_mapping(path, "label schema")
    return _validate(raw, str(path))


def parse_schema_text(text: str, origin: str) -> LabelSchema:
    """Validate a label schema given as YAML text (``origin`` names it in errors)."""
    import yaml

    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise InputError("a label schema is a YAML mapping", file=origin)
    return _validate(raw, origin)


def _validate(raw: dict[str, Any], origin: str) -> LabelSchema:
    try:
        return LabelSchema.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=origin, field=where or None) from None
