"""``haechi chat`` as a person uses it: a real process on a pseudo-terminal (pexpect)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from haechi.chat.repl import PROMPT, printable
from haechi.models import ChatMessage, GenerationRequest, load

HAECHI = Path(sys.executable).parent / "haechi"


@pytest.mark.slow
def test_chat_in_a_terminal(tiny_llama_dir: Path, tmp_path: Path) -> None:
    message = "안녕하세요"
    model = load(f"hf/{tiny_llama_dir}")
    request = GenerationRequest(messages=(ChatMessage("user", message),), max_new_tokens=10)
    expected = model.generate([request])[0].text

    child = pexpect.spawn(
        str(HAECHI),
        ["chat", "--model", f"hf/{tiny_llama_dir}", "--temperature", "0", "--max-tokens", "10"],
        env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"},  # HAECHI_HOME: the test's own
        encoding="utf-8",
        dimensions=(40, 200),
        timeout=120,
    )
    try:
        child.expect_exact(PROMPT)
        assert "chatting with" in child.before

        # The answer streams onto the terminal and the prompt comes back.
        child.sendline(message)
        child.expect_exact(PROMPT)
        assert printable(expected) in child.before.replace("\r\n", "\n")

        first = tmp_path / "first.json"
        child.sendline(f"/save {first}")
        child.expect_exact(PROMPT)
        assert f"saved to {first}" in child.before

        # Ctrl-C while an answer is being written stops that answer, not the program.
        child.sendline("/set max_tokens 2000")  # ~15 s to write in full
        child.expect_exact(PROMPT)
        child.sendline(message)
        child.expect_exact(printable(expected)[:2])
        child.sendintr()
        child.expect_exact("[stopped]")
        child.expect_exact(PROMPT)

        child.sendline("/reset")
        child.expect_exact("conversation cleared")
        child.expect_exact(PROMPT)
        second = tmp_path / "second.json"
        child.sendline(f"/save {second}")
        child.expect_exact(PROMPT)
        child.sendline("/exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0

    saved = json.loads(first.read_text(encoding="utf-8"))
    assert saved["messages"] == [
        {"role": "user", "content": message},
        {"role": "assistant", "content": expected},
    ]
    assert saved["model"] == f"hf/{tiny_llama_dir}" and saved["fingerprint"] == model.fingerprint
    assert saved["settings"] == {"temperature": 0.0, "top_p": 0.95, "max_tokens": 10, "seed": None}
    after_reset = json.loads(second.read_text(encoding="utf-8"))
    assert after_reset["messages"] == [] and after_reset["settings"]["max_tokens"] == 2000
