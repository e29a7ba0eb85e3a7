"""Reading a YAML file that must hold a mapping, with errors that name the file and line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from haechi.errors import InputError


def read_yaml_mapping(path: Path, what: str) -> tuple[dict[str, Any], str]:
    """The mapping in ``path`` and the file's text (for locating fields later).

    ``what`` names the kind of file in messages ("task file", "campaign").
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", file=str(path)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML: {problem}", file=str(path), line=line) from None
    if not isinstance(raw, dict):
        raise InputError(f"a {what} must hold a mapping", file=str(path))
    return raw, text


def line_of(text: str, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the entry at ``loc`` (keys and list indexes, as pydantic's error
    locations give them) in the YAML ``text``: the deepest part of ``loc`` found."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next((e for e in node.value if e[0].value == str(part)), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
