"""The chat playground: a conversation with one model, streamed, with slash commands."""

from __future__ import annotations

from haechi.chat.repl import CommandResult, answer, run_command, run_repl
from haechi.chat.session import ChatSession, ChatSettings, default_save_path
from haechi.chat.templates import (
    TEMPLATES,
    ChatTemplate,
    build_request,
    require_chat_format,
    resolve_template,
)

__all__ = [
    "TEMPLATES",
    "ChatSession",
    "ChatSettings",
    "ChatTemplate",
    "CommandResult",
    "answer",
    "build_request",
    "default_save_path",
    "require_chat_format",
    "resolve_template",
    "run_command",
    "run_repl",
]
