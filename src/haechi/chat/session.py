"""A chat conversation with one model: history, sampling settings, streamed answers, saving."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from haechi.chat.templates import ChatTemplate, build_request
from haechi.errors import InputError
from haechi.io import write_json_atomic
from haechi.models.base import ChatMessage, LanguageModel
from haechi.models.streaming import TextStream, stream
from haechi.validation import validated
from haechi.versions import package_versions


class ChatSettings(BaseModel):
    """Sampling settings of a chat; ``temperature == 0`` is greedy, ``max_tokens`` counts
    generated tokens per answer, ``seed`` (when set) makes every answer reproducible."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(512, ge=1)
    seed: int | None = None


class ChatSession:
    """The conversation so far and how to continue it.

    ``ask`` streams an answer without touching the history; ``keep`` adds the exchange once
    the answer is over (complete or cut short), so an interrupted answer stays as shown.
    """

    def __init__(
        self,
        model: LanguageModel,
        *,
        system: str | None = None,
        template: ChatTemplate | None = None,
        settings: ChatSettings | None = None,
    ) -> None:
        self.model = model
        self.system = system
        self.template = template
        self.settings = settings or ChatSettings()
        self.history: list[ChatMessage] = []

    def messages(self, text: str) -> tuple[ChatMessage, ...]:
        """The system prompt, the history and ``text`` as the next user message."""
        system = (ChatMessage("system", self.system),) if self.system else ()
        return (*system, *self.history, ChatMessage("user", text))

    def ask(self, text: str) -> TextStream:
        """Stream the model's answer to ``text`` (NFC-normalised first)."""
        request = build_request(
            self.messages(unicodedata.normalize("NFC", text)),
            self.template,
            max_new_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            seed=self.settings.seed,
        )
        return stream(self.model, request)

    def keep(self, text: str, answer: str) -> None:
        """Add a user message and the answer it got to the history."""
        self.history += [
            ChatMessage("user", unicodedata.normalize("NFC", text)),
            ChatMessage("assistant", answer),
        ]

    def reset(self) -> None:
        """Forget the history (the system prompt and settings stay)."""
        self.history.clear()

    def set_option(self, name: str, value: str) -> None:
        """Change one setting from text (``none`` clears the seed); bad names or values
        raise ``InputError`` naming the setting."""
        parsed: str | None = None if value.lower() == "none" else value
        values = {**self.settings.model_dump(), name: parsed}
        self.settings = validated(ChatSettings, values, where="setting")

    def record(self) -> dict[str, object]:
        """The conversation with the model, its configuration and the settings."""
        return {
            "model": self.model.name,
            "fingerprint": self.model.fingerprint,
            "model_config": self.model.describe(),
            "template": self.template.name if self.template else None,
            "system": self.system,
            "settings": self.settings.model_dump(),
            "messages": [{"role": m.role, "content": m.content} for m in self.history],
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": package_versions(),
        }

    def save(self, path: Path) -> Path:
        """Write ``record()``: a ``.jsonl`` file gets it appended as one line (many chats in
        one file), any other file is replaced by it as indented JSON."""
        record = self.record()
        try:
            if path.suffix == ".jsonl":
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as sink:
                    sink.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            else:
                write_json_atomic(path, record)
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", file=str(path)) from None
        return path


def default_save_path(now: datetime | None = None) -> Path:
    """``chat-YYYYmmdd-HHMMSS.json`` in the working folder."""
    return Path(f"chat-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}.json")
