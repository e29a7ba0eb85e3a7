"""A prompt as turns, as lm-evaluation-harness 0.4.13 builds it (``lm_eval.api.utils.Message``).

The same turns give the plain-text prompt (each turn's text followed by its delimiter) or a
chat conversation for a chat template: every turn its own message (few-shot as multi-turn),
or everything but the system turn collapsed into one user message (and the final assistant
turn, when there is one), as lm-eval's ``multiturn_to_singleturn`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from haechi.models.base import ChatMessage, Role


@dataclass(frozen=True)
class Turn:
    """One message; ``delimiter`` follows it in plain text and is dropped in chat form."""

    role: Role
    content: str
    delimiter: str = ""

    def text(self) -> str:
        return self.content + self.delimiter


def as_text(turns: Sequence[Turn]) -> str:
    """The plain-text prompt."""
    return "".join(t.text() for t in turns)


def as_messages(turns: Sequence[Turn], *, multiturn: bool) -> tuple[ChatMessage, ...]:
    """The conversation a chat template renders (``fewshot_as_multiturn`` or not)."""
    if multiturn:
        return tuple(ChatMessage(t.role, t.content) for t in turns)
    system = turns[0] if turns and turns[0].role == "system" else None
    rest = list(turns[1:] if system else turns)
    # lm-eval clears the delimiter of the last turn joined into the user message
    final = rest.pop() if rest and rest[-1].role == "assistant" else None
    joined = as_text([*rest[:-1], Turn(rest[-1].role, rest[-1].content)]) if rest else ""
    messages = [ChatMessage("user", joined)]
    if final is not None:
        messages.append(ChatMessage("assistant", final.content))
    if system is not None:
        messages.insert(0, ChatMessage("system", system.content))
    return tuple(messages)


def join_instruction(instruction: str | None, description: str, delimiter: str) -> str:
    """The system turn: lm-eval's ``maybe_delimit(system_instruction, description,
    fewshot_delimiter)``, which adds the delimiter only where neither side has whitespace
    at the join."""
    if not instruction:
        return description
    if not description:
        return instruction
    if instruction[-1].isspace() or description[0].isspace():
        return instruction + description
    return instruction + delimiter + description
