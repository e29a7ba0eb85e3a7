"""Building pydantic values from user input, with errors that name the offending field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from haechi.errors import InputError

ModelT = TypeVar("ModelT", bound=BaseModel)


def validated(
    model: type[ModelT], values: dict[str, Any] | None = None, *, where: str = "", **kwargs: Any
) -> ModelT:
    """``model(**values)``; a validation error becomes an ``InputError`` naming the field
    (prefixed by ``where``, e.g. "hf model argument") and the allowed fields."""
    try:
        return model.model_validate({**(values or {}), **kwargs})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "value"
        field = f"{where} {name}" if where else name.replace("_", "-")
        raise InputError(
            f"{first['msg']} (got {first.get('input')!r})",
            field=field,
            hint=f"allowed: {', '.join(model.model_fields)}"
            if first["type"] == "extra_forbidden"
            else None,
        ) from None
