"""Bundled chat formats: exact text, system prompts where a format has no system role, and
requests that carry the end-of-turn marker as a stop string."""

from __future__ import annotations

from pathlib import Path

import pytest

from haechi.chat import TEMPLATES, build_request, require_chat_format, resolve_template
from haechi.errors import InputError
from haechi.models import ChatMessage, load

CONVERSATION = (
    ChatMessage("system", "한국어로 답하세요."),
    ChatMessage("user", "안녕?"),
    ChatMessage("assistant", "안녕하세요!"),
    ChatMessage("user", "{이름}이 뭐야?"),
)


def test_chatml_text() -> None:
    assert TEMPLATES["chatml"].render(CONVERSATION) == (
        "<|im_start|>system\n한국어로 답하세요.<|im_end|>\n"
        "<|im_start|>user\n안녕?<|im_end|>\n"
        "<|im_start|>assistant\n안녕하세요!<|im_end|>\n"
        "<|im_start|>user\n{이름}이 뭐야?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_llama3_text() -> None:
    assert TEMPLATES["llama3"].render(CONVERSATION[1:2]) == (
        "<|start_header_id|>user<|end_header_id|>\n\n안녕?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_gemma_puts_the_system_prompt_into_the_first_user_turn() -> None:
    assert TEMPLATES["gemma"].render(CONVERSATION[:3]) == (
        "<start_of_turn>user\n한국어로 답하세요.\n\n안녕?<end_of_turn>\n"
        "<start_of_turn>model\n안녕하세요!<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_requests_with_and_without_a_template() -> None:
    options = dict(max_new_tokens=9, temperature=0.5, top_p=0.9, seed=3)
    own = build_request(CONVERSATION, None, **options)  # type: ignore[arg-type]
    assert own.messages == CONVERSATION and own.prompt is None and own.stop == ()
    named = build_request(CONVERSATION, TEMPLATES["chatml"], **options)  # type: ignore[arg-type]
    assert named.messages is None and named.prompt == TEMPLATES["chatml"].render(CONVERSATION)
    assert named.stop == ("<|im_end|>",)
    assert (named.max_new_tokens, named.temperature, named.top_p, named.seed) == (9, 0.5, 0.9, 3)


def test_unknown_template_is_an_input_error() -> None:
    assert resolve_template(None) is None
    with pytest.raises(InputError, match="chatml, llama3, gemma"):
        resolve_template("vicuna")


def test_a_tokenizer_without_a_template_needs_one(tiny_qwen2_dir: Path) -> None:
    model = load(f"hf/{tiny_qwen2_dir}")
    require_chat_format(model, None)  # the tiny tokenizer has a template
    model.tokenizer.chat_template = None  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="--template"):
        require_chat_format(model, None)
    require_chat_format(model, TEMPLATES["chatml"])
    # The named template renders the prompt here and generation works without the
    # tokenizer's own template; <|im_end|> is a token of this vocabulary, so generation also
    # stops there, and it never shows in the text.
    request = build_request(
        CONVERSATION, TEMPLATES["chatml"], max_new_tokens=12, temperature=0, top_p=1, seed=None
    )
    [generation] = model.generate([request])
    assert "<|im_end|>" not in generation.text and generation.completion_tokens > 0
