"""The chat loop: read a line, run a slash command or stream the answer, repeat.

It talks to the terminal only through ``read(prompt) -> str`` (``input``: ``EOFError`` on
Ctrl-D, ``KeyboardInterrupt`` on Ctrl-C) and ``write(text)``, so it runs the same under a
test as in a terminal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from haechi.chat.session import ChatSession, default_save_path
from haechi.errors import HaechiError, InputError

PROMPT = "you> "

HELP = """\
commands:
  /reset              forget the conversation (system prompt and settings stay)
  /save [FILE]        save conversation, model and settings (.json added when FILE has
                      no extension; .jsonl appends a line)
  /set NAME VALUE     temperature, top_p, max_tokens or seed (seed none: unseeded)
  /set                show the settings
  /help               this text
  /exit               quit (or Ctrl-D)
Ctrl-C stops an answer while it is being written."""


@dataclass(frozen=True)
class CommandResult:
    """What a slash command has to say, and whether the chat should end."""

    message: str = ""
    exit: bool = False


def run_command(session: ChatSession, line: str) -> CommandResult:
    """Run one slash command (``line`` starts with ``/``); unknown ones raise ``InputError``."""
    name, _, argument = line.removeprefix("/").strip().partition(" ")
    argument = argument.strip()
    if name in ("exit", "quit"):
        return CommandResult(exit=True)
    if name == "help":
        return CommandResult(HELP)
    if name == "reset":
        session.reset()
        return CommandResult("conversation cleared")
    if name == "save":
        path = session.save(save_path(argument))
        return CommandResult(f"saved to {path.resolve()}")
    if name == "set":
        if not argument:
            shown = session.settings.model_dump()
            return CommandResult("  ".join(f"{k}={v}" for k, v in shown.items()))
        option, _, value = argument.partition(" ")
        if not value.strip():
            raise InputError("/set needs a name and a value", hint="e.g. /set temperature 0.7")
        session.set_option(option, value.strip())
        return CommandResult(f"{option} = {getattr(session.settings, option)}")
    raise InputError(f"unknown command /{name}", hint="/help lists the commands")


def save_path(argument: str) -> Path:
    """Where ``/save [FILE]`` writes: FILE, with ``.json`` added when it has no extension,
    else a dated ``chat-….json`` in the working folder."""
    if not argument:
        return default_save_path()
    path = Path(argument).expanduser()
    return path if path.suffix else path.with_name(path.name + ".json")


def run_repl(
    session: ChatSession, read: Callable[[str], str], write: Callable[[str], None]
) -> None:
    """Chat until ``/exit`` or end of input. Errors of a command or an answer are shown and
    the chat goes on; Ctrl-C at the prompt only clears the line."""
    while True:
        try:
            line = read(PROMPT).strip()
        except EOFError:
            write("\n")
            return
        except KeyboardInterrupt:
            write("\n")
            continue
        if not line:
            continue
        try:
            if line.startswith("/"):
                result = run_command(session, line)
                if result.message:
                    write(result.message + "\n")
                if result.exit:
                    return
            else:
                answer(session, line, write)
        except HaechiError as exc:
            write(f"error: {exc}\n")


def answer(session: ChatSession, text: str, write: Callable[[str], None]) -> str:
    """Stream the answer to ``text`` through ``write``; Ctrl-C stops it there and the
    exchange joins the history as shown (a backend error leaves the history as it was).
    Returns the answer."""
    reply = session.ask(text)
    try:
        for piece in reply:
            write(printable(piece))
    except KeyboardInterrupt:
        reply.close()
        write(" [stopped]")
    finally:
        write("\n")  # also before an error's message
    session.keep(text, reply.text)
    return reply.text


def printable(text: str) -> str:
    """``text`` with control characters other than newline and tab shown as U+FFFD, so a
    model cannot send escape sequences to the terminal."""
    return "".join(
        "\ufffd" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c for c in text
    )
