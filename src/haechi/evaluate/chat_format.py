"""Chat-template evaluation (lm-eval 0.4.13's ``--apply_chat_template``): which template
renders the prompts, with what, and the hash that keeps runs with and without apart.

lm-eval renders each prompt's conversation with the tokenizer's template
(``apply_chat_template(..., tokenize=False, add_generation_prompt=True)``, retried without
the system turn when the template refuses one). haechi renders the text here, in the engine,
so every backend gets the same string: hf and vLLM score and generate it as a plain prompt;
the openai backend scores it through ``/completions`` (which needs the served model's
tokenizer locally) and generates from the messages through ``/chat/completions`` when the
template is the model's own, so the server renders them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haechi.chat.templates import TEMPLATES
from haechi.errors import InputError
from haechi.evaluate.config import DEFAULT_TEMPLATE, EvalConfig
from haechi.models.base import ChatMessage, LanguageModel
from haechi.tasks.prompts import PLAIN, PromptStyle

Render = Callable[[Sequence[ChatMessage]], str]


@dataclass(frozen=True)
class ChatFormat:
    """The chat template of a run.

    ``source`` is ``tokenizer`` (the model's own template), ``server`` (only the server
    knows it: generation only), a bundled template's name or a template file's path;
    ``template_hash`` the SHA-256 (16 hex digits) of the template text; ``render`` turns a
    conversation into the prompt text (``None`` for ``server``); ``send_messages`` says
    generation requests go as chat messages for the server to render; ``stop`` holds a
    bundled template's end-of-turn strings.
    """

    source: str
    template_hash: str | None
    multiturn: bool
    render: Render | None
    send_messages: bool = False
    stop: tuple[str, ...] = ()

    def record(self) -> dict[str, object]:
        """What the run's configuration records (and its resume key hashes)."""
        return {
            "source": self.source,
            "hash": self.template_hash,
            "fewshot_as_multiturn": self.multiturn,
            "generation_via_chat_messages": self.send_messages,
        }


def chat_format(model: LanguageModel, config: EvalConfig) -> ChatFormat | None:
    """The run's chat template, or ``None`` for plain prompts; bad names and files, and a
    local model whose tokenizer has no template, are refused before anything runs."""
    name = config.apply_chat_template
    if name is None:
        return None
    tokenizer, in_process = _tokenizer(model)
    if name == DEFAULT_TEMPLATE:
        template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
        if isinstance(template, str) and template:
            return ChatFormat(
                "tokenizer",
                _hash(template),
                config.multiturn,
                _tokenizer_render(tokenizer, None),
                send_messages=not in_process,
            )
        if in_process:
            raise InputError(
                f"{model.name}'s tokenizer has no chat template",
                field="apply-chat-template",
                hint=f"name one: --apply-chat-template {'|'.join(TEMPLATES)}|FILE.jinja",
            )
        return ChatFormat("server", None, config.multiturn, None, send_messages=True)
    if name in TEMPLATES:
        bundled = TEMPLATES[name]
        return ChatFormat(
            name, _hash(repr(bundled)), config.multiturn, bundled.render, stop=bundled.stop
        )
    path = Path(name).expanduser()
    if not path.is_file():
        raise InputError(
            f"no chat template named {name!r} and no such file",
            field="apply-chat-template",
            hint=f"leave the value out for the tokenizer's own, or one of {', '.join(TEMPLATES)}, "
            "or a Jinja chat template file",
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read chat template: {exc}", file=str(path)) from None
    if tokenizer is None:
        raise InputError(
            f"{model.name} has no local tokenizer to render {path} with",
            field="apply-chat-template",
            hint="pass the served model's tokenizer: --model-args tokenizer=ID",
        )
    return ChatFormat(str(path), _hash(text), config.multiturn, _tokenizer_render(tokenizer, text))


def prompt_style(chat: ChatFormat | None, config: EvalConfig) -> PromptStyle:
    """How the run's prompts are built from their turns."""
    if chat is None and config.system_instruction is None:
        return PLAIN
    return PromptStyle(
        system_instruction=config.system_instruction,
        chat=chat is not None,
        multiturn=chat.multiturn if chat else False,
        render=chat.render if chat else None,
    )


def require_scoring(chat: ChatFormat | None, model: LanguageModel, tasks: Sequence[str]) -> None:
    """Refuse log-likelihood tasks when only the server can render the template."""
    if chat is None or chat.render is not None or not tasks:
        return
    raise InputError(
        f"{model.name} cannot score {', '.join(tasks)} under a chat template: log-likelihoods "
        "go through /completions with the template rendered here, and there is no local "
        "tokenizer with a chat template",
        field="apply-chat-template",
        hint="pass the served model's tokenizer (--model-args tokenizer=ID), name a template, "
        "or run only generate_until tasks",
    )


def _tokenizer(model: LanguageModel) -> tuple[Any, bool]:
    """The model's tokenizer, if any, and whether the model runs in this process (a
    server's backend offers ``local_tokenizer()``, loaded from its ``tokenizer`` argument)."""
    local = getattr(model, "local_tokenizer", None)
    if callable(local):
        return local(), False
    return getattr(model, "tokenizer", None), True


def _tokenizer_render(tokenizer: Any, template: str | None) -> Render:
    import jinja2

    def render(messages: Sequence[ChatMessage]) -> str:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": True}
        if template is not None:
            kwargs["chat_template"] = template
        try:
            return str(tokenizer.apply_chat_template(chat, **kwargs))
        except jinja2.TemplateError:
            # as lm-eval: a template that refuses a system turn gets the rest without it
            rest = [m for m in chat if m["role"] != "system"]
            return str(tokenizer.apply_chat_template(rest, **kwargs))

    return render


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
