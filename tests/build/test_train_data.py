"""Fine-tuning data: both line shapes, NFC, file:line errors, the held-out split, TRL rows."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from haechi.build.train_data import Example, Message, read_examples, split_eval, to_records
from haechi.errors import InputError

CHAT = {
    "messages": [
        {"role": "system", "content": "친절한 비서입니다."},
        {"role": "user", "content": "한국의 수도는?"},
        {"role": "assistant", "content": "서울입니다."},
    ]
}
PAIR = {"prompt": "김치는 무엇인가요?", "response": "배추로 만든 발효 음식입니다.", "id": 7}


def write(path: Path, rows: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_messages_lines_are_read_in_nfc_with_the_file_digest(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "서울입니다.")
    row = {"messages": [*CHAT["messages"][:2], {"role": "assistant", "content": decomposed}]}
    path = write(tmp_path / "chat.jsonl", [CHAT, "", row])
    data = read_examples(path)
    assert data.format == "messages"
    assert [e.origin for e in data.examples] == [f"{path}:1", f"{path}:3"]
    assert data.examples[1].messages[2] == Message("assistant", "서울입니다.")
    assert len(decomposed) == 13 and len(data.examples[1].messages[2].content) == 6  # characters
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_prompt_response_lines_become_a_user_and_an_assistant_turn(tmp_path: Path) -> None:
    data = read_examples(write(tmp_path / "pairs.jsonl", [PAIR, PAIR]))
    assert data.format == "prompt-response"
    assert data.examples[0].messages == (
        Message("user", PAIR["prompt"]),
        Message("assistant", PAIR["response"]),
    )


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", [PAIR, PAIR, '{"prompt": "안녕", "response": '])
    with pytest.raises(InputError) as caught:
        read_examples(path)
    assert caught.value.file == str(path) and caught.value.line == 3
    assert str(caught.value).startswith(f"{path}:3: not valid JSON")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("rows", "line", "field", "says"),
    [
        ([PAIR, {"prompt": "질문"}], 2, "response", "non-empty string"),
        ([PAIR, {"prompt": "질문", "response": "  "}], 2, "response", "non-empty string"),
        ([{"text": "본문"}], 1, None, "either 'messages' or 'prompt'"),
        ([{**CHAT, **PAIR}], 1, None, "not both"),
        ([CHAT, PAIR], 2, None, "one shape per file"),
        ([{"messages": []}], 1, "messages", "non-empty list"),
        (
            [{"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}]}],
            1,
            "messages[1].role",
            "role must be one of",
        ),
        ([{"messages": [{"role": "user", "content": 3}]}], 1, "messages[0].content", "string"),
        ([{"messages": [{"role": "user", "content": "질문만"}]}], 1, "messages", "assistant"),
    ],
)
def test_bad_lines_name_line_and_field(
    tmp_path: Path, rows: list[Any], line: int, field: str | None, says: str
) -> None:
    path = write(tmp_path / "data.jsonl", rows)
    with pytest.raises(InputError) as caught:
        read_examples(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), line, field)
    assert says in caught.value.message


def test_empty_missing_and_wrong_suffix_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no examples"):
        read_examples(write(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(InputError, match="no such file"):
        read_examples(tmp_path / "absent.jsonl")
    with pytest.raises(InputError, match=r"must be \.jsonl"):
        read_examples(write(tmp_path / "data.csv", ["prompt,response"]))


def examples(n: int) -> list[Example]:
    return [
        Example((Message("user", f"q{i}"), Message("assistant", f"a{i}")), f"f:{i}")
        for i in range(n)
    ]


def test_held_out_split_is_seeded_disjoint_and_complete() -> None:
    items = examples(20)
    train, held = split_eval(items, 0.1, seed=0)
    assert len(held) == 2 and len(train) == 18
    assert sorted(e.origin for e in train + held) == sorted(e.origin for e in items)
    assert split_eval(items, 0.1, seed=0) == (train, held)
    assert split_eval(items, 0.1, seed=1)[1] != held
    assert len(split_eval(examples(3), 0.01, seed=0)[1]) == 1  # at least one held out
    assert len(split_eval(examples(3), 0.99, seed=0)[0]) == 1  # at least one left to train
    with pytest.raises(InputError, match="at least 2"):
        split_eval(examples(1), 0.5, seed=0)


def test_rows_in_trl_shapes() -> None:
    pair = examples(1)
    assert to_records(pair, "prompt-response", chat=True) == [
        {
            "prompt": [{"role": "user", "content": "q0"}],
            "completion": [{"role": "assistant", "content": "a0"}],
        }
    ]
    assert to_records(pair, "prompt-response", chat=False) == [{"prompt": "q0", "completion": "a0"}]
    assert to_records(pair, "messages", chat=True) == [
        {"messages": [{"role": "user", "content": "q0"}, {"role": "assistant", "content": "a0"}]}
    ]
