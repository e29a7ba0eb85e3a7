"""The merge YAML: mergekit's layout for whole-model merges, checked against the method table.

    models:
      - model: ./sft-a
        parameters: {weight: 0.6, density: 0.5}
      - model: ./sft-b
        parameters: {weight: 0.4}
    merge_method: ties            # linear | slerp | task_arithmetic | ties | dare_ties | dare_linear
    base_model: ./base            # every method but linear
    parameters: {normalize: true} # t for slerp; normalize, rescale, lambda, int8_mask
    dtype: float32                # of the merged tensors (default: the base's, else the first model's)
    seed: 0                       # haechi's own: DARE's draws (mergekit has no such key)

Model paths are local folders, relative to the YAML file. A ``models`` entry that is the
base model is the base (mergekit lists it there too). Parameters are numbers or booleans:
mergekit's per-layer gradients and name filters are not supported and are rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from haechi.build.merge_methods import METHODS, Method
from haechi.errors import InputError
from haechi.yaml_files import line_of, read_yaml_mapping

Scalar = StrictBool | float


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    parameters: dict[str, Scalar] = {}


class MergeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelEntry]
    merge_method: str
    base_model: str | None = None
    parameters: dict[str, Scalar] = {}
    dtype: Literal["float32", "bfloat16", "float16"] | None = None
    seed: int = 0


class MergeConfig(BaseModel):
    """A checked merge: resolved model folders, each model's parameters with the method's
    defaults filled in, and the file it came from (for the record)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    method: str
    models: tuple[Path, ...]
    base: Path | None
    shared: dict[str, float | bool]
    per_model: tuple[dict[str, float | bool], ...]
    dtype: str | None
    seed: int
    source: Path | None = None

    @property
    def spec(self) -> Method:
        return METHODS[self.method]


def load_merge_config(path: Path) -> MergeConfig:
    """Read and check a merge YAML; errors name the file, line and field."""
    raw, text = read_yaml_mapping(path, "merge config")
    try:
        parsed = MergeFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [p for p in first["loc"] if not str(p).startswith(("bool", "float"))]
        message = first["msg"]
        if first["type"] in ("float_type", "bool_type", "float_parsing"):
            message = "expected a number or true/false (mergekit's gradients and filters are not supported)"
        raise InputError(
            message,
            file=str(path),
            line=line_of(text, loc),
            field=".".join(str(p) for p in loc) or None,
        ) from None

    def fail(message: str, loc: list[int | str], hint: str | None = None) -> InputError:
        field = ".".join(str(p) for p in loc)
        return InputError(message, file=str(path), line=line_of(text, loc), field=field, hint=hint)

    return build_config(parsed, path, fail)


def build_config(parsed: MergeFile, path: Path, fail: Any) -> MergeConfig:
    """Check ``parsed`` against its method's row of ``METHODS``; ``fail(message, loc)``
    makes the error for a location in the file."""
    method = METHODS.get(parsed.merge_method)
    if method is None:
        raise fail(f"unknown merge method {parsed.merge_method!r}", ["merge_method"],
                   hint=f"one of {', '.join(METHODS)}")  # fmt: skip
    root = path.parent
    base = _folder(root, parsed.base_model) if parsed.base_model else None
    if method.base and base is None:
        raise fail(f"{method.name} needs a base_model", ["merge_method"])
    if not method.base and base is not None:
        raise fail(f"{method.name} does not use a base_model", ["base_model"],
                   hint="list every model to average under models")  # fmt: skip
    models, per_model = [], []
    for i, entry in enumerate(parsed.models):
        folder = _folder(root, entry.model)
        if base is not None and folder.resolve() == base.resolve():
            if entry.parameters:
                raise fail("the base model takes no parameters", ["models", i, "parameters"])
            continue
        unknown = sorted(set(entry.parameters) - set(method.per_model))
        if unknown:
            raise fail(f"{method.name} has no per-model parameter {unknown[0]!r}",
                       ["models", i, "parameters", unknown[0]],
                       hint=f"it reads: {', '.join(method.per_model) or 'none'}")  # fmt: skip
        values = {**method.per_model, **_defaults(parsed.parameters, method), **entry.parameters}
        missing = [k for k, v in values.items() if v is None]
        if missing:
            raise fail(f"{method.name} needs '{missing[0]}' for every model", ["models", i])
        density = values.get("density")
        if density is not None and not 0 <= float(density) <= 1:
            raise fail("density must be between 0 and 1", ["models", i, "parameters", "density"])
        models.append(folder)
        per_model.append({k: v for k, v in values.items() if v is not None})
    count = len(models)
    if count < method.min_models or (method.max_models and count > method.max_models):
        wanted = (
            f"exactly {method.min_models}"
            if method.min_models == method.max_models
            else f"at least {method.min_models}"
        )
        raise fail(f"{method.name} merges {wanted} model(s) besides the base, got {count}",
                   ["models"])  # fmt: skip
    unknown = sorted(set(parsed.parameters) - set(method.shared) - set(method.per_model))
    if unknown:
        raise fail(f"{method.name} has no parameter {unknown[0]!r}",
                   ["parameters", unknown[0]],
                   hint=f"it reads: {', '.join([*method.shared, *method.per_model])}")  # fmt: skip
    shared = {**method.shared, **{k: v for k, v in parsed.parameters.items() if k in method.shared}}
    if shared.get("t") is None and "t" in shared:
        raise fail("slerp needs parameters.t (0 = the base, 1 = the other model)", ["parameters"])
    if "t" in shared and not 0 <= float(shared["t"]) <= 1:  # type: ignore[arg-type]
        raise fail("t must be between 0 and 1", ["parameters", "t"])
    if method.name == "linear" and sum(float(p["weight"]) for p in per_model) == 0:
        raise fail("the weights sum to zero", ["models"])
    return MergeConfig(
        method=method.name,
        models=tuple(models),
        base=base,
        shared={k: v for k, v in shared.items() if v is not None},
        per_model=tuple(per_model),
        dtype=parsed.dtype,
        seed=parsed.seed,
        source=path,
    )


def _defaults(parameters: dict[str, Scalar], method: Method) -> dict[str, Scalar]:
    """Global values of per-model parameters (mergekit lets ``weight`` sit under
    ``parameters`` for every model); a model's own value wins."""
    return {k: v for k, v in parameters.items() if k in method.per_model}


def _folder(root: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else root / path
