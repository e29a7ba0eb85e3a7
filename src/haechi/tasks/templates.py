"""Jinja2 rendering of prompts (templates) and choices/targets (expressions) from documents."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from haechi.errors import InputError

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@lru_cache(maxsize=512)
def _template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


@lru_cache(maxsize=512)
def _expression(source: str) -> Any:
    return _ENV.compile_expression(source, undefined_to_none=False)


def syntax_error(source: str, *, expression: bool) -> str | None:
    """What is wrong with the Jinja2 syntax of a template (or an expression), or None."""
    try:
        (_expression if expression else _template)(source)
    except jinja2.TemplateSyntaxError as exc:
        where = f" (line {exc.lineno} of the template)" if exc.lineno and exc.lineno > 1 else ""
        return f"Jinja2 syntax error: {exc.message}{where}"
    return None


def render(source: str, doc: dict[str, Any], *, where: str, field: str) -> str:
    """Render a template; a missing document field is an ``InputError`` at ``where``."""
    try:
        return _template(source).render(**doc)
    except jinja2.UndefinedError as exc:
        raise InputError(str(exc), file=where, field=field) from None


def expression_value(source: str, doc: dict[str, Any], *, where: str, field: str) -> Any:
    """Evaluate an expression to a Python value (a list, an int, a string)."""
    try:
        value = _expression(source)(**doc)
    except (jinja2.UndefinedError, KeyError, IndexError, ValueError, TypeError) as exc:
        raise InputError(f"cannot evaluate {source!r}: {exc}", file=where, field=field) from None
    if isinstance(value, jinja2.Undefined):
        raise InputError(f"{source!r} is undefined for this document", file=where, field=field)
    return value
