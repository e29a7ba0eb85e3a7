"""Reading a document's instructions and deciding which ones a response follows, strictly
and loosely (IFEval's two accuracies)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from pydantic import ValidationError

from haechi.errors import MissingExtraError
from haechi.evaluate.instructions.base import Check
from haechi.evaluate.instructions.registry import INSTRUCTIONS


@dataclass(frozen=True)
class Instruction:
    """One instruction of a document: its id and its check with the arguments given."""

    id: str
    check: Check


@dataclass(frozen=True)
class Verdicts:
    """Per instruction (``ids``, in the document's order): followed as written
    (``strict``), and followed by the response or one of its loose variants (``loose``)."""

    ids: tuple[str, ...]
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    def record(self) -> dict[str, list[str] | list[bool]]:
        return {
            "instructions": list(self.ids),
            "strict": list(self.strict),
            "loose": list(self.loose),
        }


def _listed(fields: Mapping[str, Any], name: str) -> list[Any]:
    value = fields.get(name)
    if isinstance(value, str):  # csv/tsv cells hold the list as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name}: not a JSON list ({exc.msg})") from None
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list, got {type(value).__name__}")
    return value


def instructions_of(fields: Mapping[str, Any]) -> list[Instruction]:
    """A document's instructions from IFEval's fields: ``instruction_id_list`` and, at the
    same positions, ``kwargs`` (one mapping each; ``None`` values are absent arguments, as
    in IFEval's files, where every mapping lists every argument name). Raises ValueError
    naming the position and argument that is wrong."""
    ids = _listed(fields, "instruction_id_list")
    if not ids:
        raise ValueError("instruction_id_list is empty")
    kwargs = _listed(fields, "kwargs") if fields.get("kwargs") is not None else [{}] * len(ids)
    if len(kwargs) != len(ids):
        raise ValueError(f"kwargs has {len(kwargs)} entries for {len(ids)} instructions")
    found = []
    for i, (instruction_id, given) in enumerate(zip(ids, kwargs, strict=True)):
        check = INSTRUCTIONS.get(str(instruction_id))
        if check is None:
            raise ValueError(
                f"instruction_id_list[{i}]: unknown instruction {instruction_id!r} "
                f"(see `haechi tasks show ko_ifeval`)"
            )
        if given is not None and not isinstance(given, dict):
            raise ValueError(f"kwargs[{i}] must be a mapping, got {type(given).__name__}")
        arguments = {k: v for k, v in (given or {}).items() if v is not None}
        try:
            found.append(Instruction(str(instruction_id), check.model_validate(arguments)))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise ValueError(
                f"kwargs[{i}] of {instruction_id}: {where + ': ' if where else ''}{error['msg']}"
            ) from None
    return found


def require_packages(instructions: Iterable[Instruction]) -> None:
    """Raise ``MissingExtraError`` (extra ``ko``) when a check needs a package that is not
    installed, so a run stops before its model generates rather than after."""
    for instruction in instructions:
        for package in instruction.check.needs:
            if find_spec(package) is None:
                raise MissingExtraError(package, "ko")


def loose_variants(response: str) -> list[str]:
    """The response and what IFEval's loose accuracy also accepts in its place: without
    its first line, its last line or both (a preamble such as "Sure, here it is:" or a
    closing remark), each also without markdown asterisks."""
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return trimmed + [t.replace("*", "") for t in trimmed]


def follow(response: str, instructions: Sequence[Instruction]) -> Verdicts:
    """Which instructions ``response`` follows; an empty (or blank) text follows none."""
    variants = [v for v in loose_variants(response) if v.strip()]
    strict = tuple(bool(response.strip()) and i.check.follows(response) for i in instructions)
    loose = tuple(
        followed or any(i.check.follows(v) for v in variants)
        for i, followed in zip(instructions, strict, strict=True)
    )
    return Verdicts(tuple(i.id for i in instructions), strict, loose)
