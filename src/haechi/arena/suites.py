"""Prompt suites: bundled Korean suites and users' own prompt files (jsonl)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from haechi.documents import Document, read_file
from haechi.errors import InputError
from haechi.models.base import ChatMessage

# The bundled suites' categories: ASCII ids (in files and records) → Korean names.
CATEGORY_NAMES = {
    "spelling": "맞춤법",
    "honorifics": "존댓말/반말",
    "culture_history": "한국 문화·역사 지식",
    "summarization": "요약",
    "translation": "번역",
    "reasoning": "추론",
    "code": "코드",
    "safety": "안전",
}
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class SuitePrompt:
    """One prompt: a single user ``prompt``, or a ``messages`` conversation to continue.

    ``origin`` is ``file:line``.
    """

    id: str
    prompt: str | None
    messages: tuple[ChatMessage, ...] | None
    category: str
    origin: str

    def conversation(self, system: str | None = None) -> tuple[ChatMessage, ...]:
        """The messages to send; ``system`` goes first unless they have a system message."""
        messages = self.messages or (ChatMessage("user", self.prompt or ""),)
        if system and messages[0].role != "system":
            return (ChatMessage("system", system), *messages)
        return messages


@dataclass(frozen=True)
class Suite:
    """The prompts of one file; ``name`` is the bundled name or the path given;
    ``sha256`` is of the file's bytes."""

    name: str
    path: Path
    prompts: tuple[SuitePrompt, ...]
    sha256: str

    def categories(self) -> dict[str, int]:
        """Prompts per category, in first-seen order."""
        return dict(Counter(p.category for p in self.prompts))


def bundled_suites() -> list[str]:
    """Names of the suites shipped with haechi."""
    folder = resources.files("haechi.arena").joinpath("data")
    return sorted(
        p.name.removesuffix(".jsonl") for p in folder.iterdir() if p.name.endswith(".jsonl")
    )


def load_suite(source: str | Path) -> Suite:
    """A prompt file, or a bundled suite by name (a path that exists wins)."""
    path = Path(source).expanduser()
    name = str(source)
    if not path.is_file():
        if name not in bundled_suites():
            raise InputError(
                f"no prompt file or bundled suite called {name!r}",
                field="prompts",
                hint=f"a jsonl file, or one of: {', '.join(bundled_suites())}",
            )
        path = Path(str(resources.files("haechi.arena").joinpath("data", f"{name}.jsonl")))
    prompts = read_prompts(path)
    return Suite(name, path, tuple(prompts), hashlib.sha256(path.read_bytes()).hexdigest())


def read_prompts(path: Path) -> list[SuitePrompt]:
    """Prompts from jsonl lines with ``id``, ``prompt`` or ``messages`` (a list of
    ``{"role", "content"}``) and an optional ``category``. Errors name the file and line;
    ids must be unique. Text is NFC-normalised."""
    if path.suffix != ".jsonl":
        raise InputError("a prompt file must be jsonl", file=str(path))
    prompts: list[SuitePrompt] = []
    seen: set[str] = set()
    for doc in read_file(path):
        prompt = _prompt(doc)
        if prompt.id in seen:
            raise doc.error(f"duplicate id {prompt.id!r}", "id")
        seen.add(prompt.id)
        prompts.append(prompt)
    if not prompts:
        raise InputError("no prompts in the file", file=str(path))
    return prompts


def _prompt(doc: Document) -> SuitePrompt:
    fields = doc.fields
    raw_id = fields.get("id")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or str(raw_id) == "":
        raise doc.error("each line needs an id (string or integer)", "id")
    category = fields.get("category", "")
    if not isinstance(category, str):
        raise doc.error("category must be a string", "category")
    has_prompt, has_messages = "prompt" in fields, "messages" in fields
    if has_prompt == has_messages:
        raise doc.error("each line needs exactly one of prompt and messages", "prompt")
    if has_prompt:
        text = fields["prompt"]
        if not isinstance(text, str) or not text.strip():
            raise doc.error("prompt must be a non-empty string", "prompt")
        return SuitePrompt(str(raw_id), text, None, category, doc.origin)
    return SuitePrompt(str(raw_id), None, _messages(doc), category, doc.origin)


def _messages(doc: Document) -> tuple[ChatMessage, ...]:
    raw = doc.fields["messages"]
    if not isinstance(raw, list) or not raw:
        raise doc.error("messages must be a non-empty list", "messages")
    messages = []
    for index, item in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise doc.error(f"needs a role of {', '.join(ROLES)}", f"{where}.role")
        if not isinstance(item.get("content"), str):
            raise doc.error("content must be a string", f"{where}.content")
        messages.append(ChatMessage(item["role"], item["content"]))
    if messages[-1].role == "assistant":
        raise doc.error(
            "the last message must not be the assistant's (there is nothing to answer)",
            f"messages[{len(raw) - 1}].role",
        )
    return tuple(messages)
