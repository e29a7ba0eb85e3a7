"""Named chat formats for tokenizers (or servers) without a chat template of their own.

Without a named template a conversation goes to the backend as chat messages, and the
tokenizer's template (hf) or the server's (openai) renders it. With one, haechi renders the
conversation to a plain prompt here and adds the format's end-of-turn marker as a stop
string, so the same format works on every backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from haechi.errors import InputError
from haechi.models.base import ChatMessage, GenerationRequest, LanguageModel


@dataclass(frozen=True)
class ChatTemplate:
    """A chat format written out as text.

    ``turn`` is formatted with ``role`` and ``content`` for every message; roles are renamed
    through ``roles``. A format without a system role (``system_role=False``) gets the system
    prompt at the top of the first user message. BOS is not written: a backend adds its
    tokenizer's own to a plain prompt.
    """

    name: str
    turn: str
    generation_prompt: str
    stop: tuple[str, ...]
    roles: Mapping[str, str] = field(default_factory=dict)
    system_role: bool = True

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt for the assistant's next turn."""
        turns = list(messages)
        if not self.system_role and turns and turns[0].role == "system":
            system, turns = turns[0], turns[1:]
            if turns and turns[0].role == "user":
                turns[0] = ChatMessage("user", f"{system.content}\n\n{turns[0].content}")
            else:
                turns.insert(0, ChatMessage("user", system.content))
        body = "".join(
            self.turn.format(role=self.roles.get(m.role, m.role), content=m.content) for m in turns
        )
        return body + self.generation_prompt


TEMPLATES: dict[str, ChatTemplate] = {
    t.name: t
    for t in (
        ChatTemplate(
            "chatml",
            turn="<|im_start|>{role}\n{content}<|im_end|>\n",
            generation_prompt="<|im_start|>assistant\n",
            stop=("<|im_end|>",),
        ),
        ChatTemplate(
            "llama3",
            turn="<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>",
            generation_prompt="<|start_header_id|>assistant<|end_header_id|>\n\n",
            stop=("<|eot_id|>",),
        ),
        ChatTemplate(
            "gemma",
            turn="<start_of_turn>{role}\n{content}<end_of_turn>\n",
            generation_prompt="<start_of_turn>model\n",
            stop=("<end_of_turn>",),
            roles={"assistant": "model"},
            system_role=False,
        ),
    )
}


def resolve_template(name: str | None) -> ChatTemplate | None:
    """The bundled template called ``name``; ``None`` means the model's own."""
    if name is None:
        return None
    if name not in TEMPLATES:
        raise InputError(
            f"unknown chat template {name!r}",
            field="template",
            hint=f"one of {', '.join(TEMPLATES)}",
        )
    return TEMPLATES[name]


def require_chat_format(model: LanguageModel, template: ChatTemplate | None) -> None:
    """Refuse early a model whose own tokenizer cannot render chat messages (a server
    without a local tokenizer renders them itself)."""
    tokenizer = getattr(model, "tokenizer", None)
    if template is None and tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        raise InputError(
            f"{model.name}'s tokenizer has no chat template",
            field="template",
            hint=f"name one: --template {'|'.join(TEMPLATES)}",
        )


def build_request(
    messages: Sequence[ChatMessage],
    template: ChatTemplate | None,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int | None,
    n: int = 1,
) -> GenerationRequest:
    """The request continuing ``messages``: chat messages, or the rendered prompt with the
    template's stop strings."""
    request = GenerationRequest(
        messages=tuple(messages),
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        n=n,
    )
    if template is None:
        return request
    return replace(request, messages=None, prompt=template.render(messages), stop=template.stop)
