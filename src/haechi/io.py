"""Small file helpers: atomic writes (temp file + rename), so no half-written results, and
jsonl reading with file:line errors."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from haechi.errors import InputError

MAX_DEPTH = 64
"""Deepest nesting of lists and objects a jsonl line may have: deeper is refused before
it can exhaust the stack of whatever processes it next."""
MAX_INT_DIGITS = 20  # 64-bit integers and then some


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON; readers see the old file or the new one."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line, text exactly as written (no
    normalisation). Lines end at "\n" only: U+2028, U+2029 and U+0085 are ordinary
    characters inside a JSON string. ``InputError`` names the file and line of anything
    that is not strict JSON (NaN, Infinity, numbers too large for a float, bytes that are
    not UTF-8) or not an object, or that nests deeper than ``MAX_DEPTH``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text: {exc.reason} at byte {exc.start + 1} of the line",
                file=str(path),
                line=number,
            ) from None
        yield number, parse_json_object(text, str(path), number)


def parse_json_object(text: str, file: str, line: int) -> dict[str, Any]:
    """One line of jsonl as a dict, strictly (see ``read_jsonl_objects``)."""
    try:
        data = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", file=file, line=line) from None
    except RecursionError:
        raise InputError(f"nested deeper than {MAX_DEPTH} levels", file=file, line=line) from None
    except ValueError as exc:  # NaN, Infinity, 1e999, an integer of many digits
        raise InputError(f"not strict JSON: {exc}", file=file, line=line) from None
    if not isinstance(data, dict):
        raise InputError("each line must be a JSON object", file=file, line=line)
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"nested deeper than {MAX_DEPTH} levels", file=file, line=line)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _depth(value: Any) -> int:
    """Nesting depth of lists and dicts, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest
