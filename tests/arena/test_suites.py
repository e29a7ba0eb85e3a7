"""Prompt suites: the bundled Korean suite, and errors that point at the bad line."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from haechi.arena import CATEGORY_NAMES, bundled_suites, load_suite
from haechi.arena.suites import read_prompts
from haechi.errors import InputError
from haechi.models import ChatMessage


def test_bundled_korean_suite() -> None:
    assert "ko_basic" in bundled_suites()
    suite = load_suite("ko_basic")
    assert len(suite.prompts) == 80
    assert suite.categories() == dict.fromkeys(CATEGORY_NAMES, 10)
    assert len({p.id for p in suite.prompts}) == 80
    for prompt in suite.prompts:
        assert prompt.prompt is not None and prompt.messages is None
        assert unicodedata.is_normalized("NFC", prompt.prompt)
        assert any("\uac00" <= c <= "\ud7a3" for c in prompt.prompt)  # Hangul syllables
    assert len(suite.sha256) == 64


def test_a_file_of_prompts_and_conversations(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    lines = [
        {"id": 1, "prompt": "안녕?"},
        {"id": "b", "category": "chat", "messages": [
            {"role": "system", "content": "반말로 답해."},
            {"role": "user", "content": "뭐 해?"},
        ]},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n")
    suite = load_suite(str(path))
    first, second = suite.prompts
    assert (first.id, first.category, second.category) == ("1", "", "chat")
    assert first.conversation("짧게.") == (
        ChatMessage("system", "짧게."),
        ChatMessage("user", "안녕?"),
    )
    # A conversation with its own system message keeps it.
    assert second.conversation("짧게.")[0] == ChatMessage("system", "반말로 답해.")


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"prompt": "x"}', "id", "needs an id"),
        ('{"id": "a"}', "prompt", "exactly one of prompt and messages"),
        ('{"id": "a", "prompt": "x", "messages": []}', "prompt", "exactly one"),
        ('{"id": "a", "prompt": "  "}', "prompt", "non-empty"),
        ('{"id": "a", "prompt": "x", "category": 3}', "category", "must be a string"),
        ('{"id": "a", "messages": [{"role": "bot", "content": "x"}]}', "messages[0].role", "role"),
        ('{"id": "a", "messages": [{"role": "user"}]}', "messages[0].content", "string"),
        ('{"id": "a", "messages": [{"role": "user", "content": "x"}, '
         '{"role": "assistant", "content": "y"}]}', "messages[1].role", "nothing to answer"),
        ('{"id": "ok", "prompt": "x"}', "id", "duplicate id"),
    ],
)  # fmt: skip
def test_bad_lines_name_file_line_and_field(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "prompt": "첫 줄"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        read_prompts(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 3, field)


def test_broken_json_and_unknown_suites(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": 1, "prompt": "x"}\n{"id": 2, "prompt": \n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_suite(path)
    assert (caught.value.file, caught.value.line) == (str(path), 2)
    with pytest.raises(InputError, match="ko_basic"):
        load_suite("ko_advanced")
