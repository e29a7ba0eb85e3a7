"""The chat session and loop with a real tiny model, driven by scripted input (no terminal)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from haechi.chat import ChatSession, ChatSettings, run_command, run_repl
from haechi.chat.repl import PROMPT, answer, printable
from haechi.errors import InputError
from haechi.models import ChatMessage, GenerationRequest, LanguageModel, load

GREEDY = ChatSettings(temperature=0, max_tokens=10)


@pytest.fixture(scope="module")
def model(tiny_llama_dir: Path) -> LanguageModel:
    return load(f"hf/{tiny_llama_dir}")


def _greedy(model: LanguageModel, *messages: ChatMessage) -> str:
    request = GenerationRequest(messages=messages, max_new_tokens=10)
    return model.generate([request])[0].text


class Terminal:
    """Scripted lines in (``None`` stands for Ctrl-C at the prompt), everything written out."""

    def __init__(self, lines: list[str | None]) -> None:
        self.lines: Iterator[str | None] = iter(lines)
        self.written: list[str] = []

    def read(self, prompt: str) -> str:
        assert prompt == PROMPT
        line = next(self.lines, "")
        if line is None:
            raise KeyboardInterrupt
        if line == "":
            raise EOFError
        return line

    def write(self, text: str) -> None:
        self.written.append(text)

    @property
    def text(self) -> str:
        return "".join(self.written)


def test_history_grows_with_each_exchange_and_feeds_the_next(model: LanguageModel) -> None:
    session = ChatSession(model, system="짧게 답하세요.", settings=GREEDY)
    first = "".join(session.ask("안녕하세요"))
    system, hello = ChatMessage("system", "짧게 답하세요."), ChatMessage("user", "안녕하세요")
    assert first == _greedy(model, system, hello)
    session.keep("안녕하세요", first)
    second = "".join(session.ask("이름이 뭐예요?"))
    assert second == _greedy(
        model, system, hello, ChatMessage("assistant", first), ChatMessage("user", "이름이 뭐예요?")
    )


def test_input_is_nfc_normalised(model: LanguageModel) -> None:
    session = ChatSession(model, settings=GREEDY)
    decomposed = "\u1100\u1161"  # 가 as two jamo (NFD, as macOS input methods can send)
    assert "".join(session.ask(decomposed)) == _greedy(model, ChatMessage("user", "가"))
    session.keep(decomposed, "네")
    assert session.history[0].content == "가"


def test_set_validates_names_and_values(model: LanguageModel) -> None:
    session = ChatSession(model)
    session.set_option("temperature", "0.2")
    session.set_option("seed", "42")
    session.set_option("max_tokens", "64")
    assert session.settings == ChatSettings(temperature=0.2, seed=42, max_tokens=64)
    session.set_option("seed", "none")
    assert session.settings.seed is None
    with pytest.raises(InputError, match="top_p"):
        session.set_option("top_p", "1.5")
    with pytest.raises(InputError, match="allowed: temperature"):
        session.set_option("temprature", "1")
    assert session.settings.top_p == 0.95  # a refused change leaves the settings as they were


def test_save_json_and_append_jsonl(model: LanguageModel, tmp_path: Path) -> None:
    session = ChatSession(model, system="시스템", settings=GREEDY)
    session.keep("질문", "답")
    saved = json.loads(session.save(tmp_path / "chat.json").read_text(encoding="utf-8"))
    assert saved["messages"] == [
        {"role": "user", "content": "질문"},
        {"role": "assistant", "content": "답"},
    ]
    assert saved["model"] == model.name and saved["fingerprint"] == model.fingerprint
    assert saved["settings"] == GREEDY.model_dump() and saved["system"] == "시스템"
    assert saved["model_config"]["backend"] == "hf" and "transformers" in saved["versions"]
    log = tmp_path / "chats.jsonl"
    session.save(log)
    session.reset()
    session.save(log)
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [len(line["messages"]) for line in lines] == [2, 0]


def test_save_without_extension_writes_json_and_says_where(
    model: LanguageModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    session = ChatSession(model, settings=GREEDY)
    session.keep("질문", "답")
    said = run_command(session, "/save notes").message
    assert said == f"saved to {tmp_path.resolve() / 'notes.json'}"
    assert not (tmp_path / "notes").exists()
    assert json.loads((tmp_path / "notes.json").read_text(encoding="utf-8"))["messages"][1] == {
        "role": "assistant",
        "content": "답",
    }
    assert (
        run_command(session, "/save log.jsonl").message
        == f"saved to {tmp_path.resolve() / 'log.jsonl'}"
    )


def test_the_loop_runs_commands_and_answers(model: LanguageModel, tmp_path: Path) -> None:
    session = ChatSession(model, settings=ChatSettings(temperature=0.7, max_tokens=10))
    saved = tmp_path / "out.json"
    terminal = Terminal(
        ["/set temperature 0", "안녕하세요", "/save " + str(saved), "/bogus", None,
         "/set", "/reset", "/help", "/exit", "never read"]
    )  # fmt: skip
    run_repl(session, terminal.read, terminal.write)
    expected = _greedy(model, ChatMessage("user", "안녕하세요"))
    assert terminal.text.startswith(f"temperature = 0.0\n{printable(expected)}\nsaved to ")
    assert terminal.written.index("\n") > 3  # the answer came in pieces
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert record["messages"][1] == {"role": "assistant", "content": expected}
    assert record["settings"]["temperature"] == 0
    assert "error: unknown command /bogus" in terminal.text  # and the loop went on
    assert "temperature=0.0  top_p=0.95  max_tokens=10  seed=None" in terminal.text
    assert "/save [FILE]" in terminal.text and session.history == []
    assert next(terminal.lines) == "never read"  # /exit ended the loop


def test_end_of_input_ends_the_loop(model: LanguageModel) -> None:
    terminal = Terminal([])
    run_repl(ChatSession(model), terminal.read, terminal.write)
    assert terminal.written == ["\n"]


def test_ctrl_c_stops_the_answer_and_keeps_what_was_shown(model: LanguageModel) -> None:
    session = ChatSession(model, settings=ChatSettings(temperature=0, max_tokens=2000))
    shown: list[str] = []

    def write(text: str) -> None:
        shown.append(text)
        if len(shown) == 2:  # Ctrl-C arrives while the second piece is being printed
            raise KeyboardInterrupt

    kept = answer(session, "안녕하세요", write)
    assert shown[-2:] == [" [stopped]", "\n"]
    assert printable(kept) == "".join(shown[:2]) and session.history[-1].content == kept
    # The model is free again at once: the next answer is the greedy one.
    assert run_command(session, "/reset").message == "conversation cleared"
    session.set_option("max_tokens", "10")
    assert "".join(session.ask("안녕하세요")) == _greedy(model, ChatMessage("user", "안녕하세요"))


def test_printable_hides_control_characters() -> None:
    assert printable("a\x1b[31mb\tc\nd\x07") == "a\ufffd[31mb\tc\nd\ufffd"
