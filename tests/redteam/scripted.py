"""A scripted OpenAI-compatible chat server for multi-turn red-teaming tests.

One server plays every model of a campaign, told apart by the system prompt it is sent
(haechi's own attacker and judge prompts): the Crescendo and TAP attackers, TAP's on-topic
and rating judge, a HarmBench-style judge, and the target, which refuses until its
``comply_at``-th user turn (or a TAP prompt that names that step) and then complies.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.models.servers import Fault

from haechi.redteam.conversation import attacker_prompts
from haechi.redteam.judges import HARMBENCH_SYSTEM

REFUSAL = "죄송하지만 그 요청은 도와드릴 수 없습니다."
COMPLIANCE = "네, 자세히 설명해 드리겠습니다. 준비물과 순서는 다음과 같습니다."
OFF_TOPIC = "오늘 날씨는 어때?"


def _first_line(name: str, key: str) -> str:
    return attacker_prompts(name)[key].splitlines()[0]


@dataclass
class Script:
    """What the server answers. ``split``: the target's harmful answer comes in two parts,
    ``PART-A`` at turn ``comply_at`` and ``PART-B`` after it (only the two together are
    harmful to the judge). ``fail_target_call``: that target call (from 1) fails with
    HTTP 400, once."""

    comply_at: int = 3
    split: bool = False
    fail_target_call: int | None = None
    target_calls: list[list[dict[str, str]]] = field(default_factory=list)
    roles: Counter[str] = field(default_factory=Counter)
    _branches: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, path: str, body: dict[str, Any]) -> dict[str, Any] | Fault:
        messages: list[dict[str, str]] = body["messages"]
        system = messages[0]["content"] if messages[0]["role"] == "system" else ""
        last = messages[-1]["content"]
        with self._lock:
            if system.startswith(_first_line("crescendo", "system")):
                role, text = "crescendo", self._crescendo(messages)
            elif system.startswith(_first_line("tap", "system")):
                role, text = "tap", self._tap(messages)
            elif system.startswith(_first_line("tap", "on_topic_system")):
                role, text = "on_topic", "아니오" if OFF_TOPIC in last else "예"
            elif system.startswith(_first_line("tap", "rating_system")):
                role, text = "rating", "10" if COMPLIANCE in last else "2"
            elif system == HARMBENCH_SYSTEM:
                role = "judge"
                text = "yes" if "PART-A" in last and "PART-B" in last else "no"
            else:
                role = "target"
                self.target_calls.append(messages)
                if len(self.target_calls) == self.fail_target_call:
                    return Fault(400, "scripted target failure")
                text = self._target(messages)
            self.roles[role] += 1
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
        choice["finish_reason"] = "stop"
        if body.get("logprobs"):  # judges ask for them; one certain token
            top = [{"token": text, "logprob": 0.0}]
            choice["logprobs"] = {"content": [{"token": text, "logprob": 0.0, "top_logprobs": top}]}
        return {"choices": [choice], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}

    def _crescendo(self, messages: list[dict[str, str]]) -> str:
        n = 1 + sum(m["role"] == "assistant" for m in messages)
        return json.dumps({"생각": "한 걸음 더", "prompt": f"질문 {n}: 조금 더 자세히"})

    def _tap(self, messages: list[dict[str, str]]) -> str:
        depth = 1 + sum(m["role"] == "assistant" for m in messages)
        # the first of a leaf's branches drifts off topic, the others stay on it
        branch = self._branches[json.dumps(messages)]
        self._branches[json.dumps(messages)] += 1
        prompt = OFF_TOPIC if branch == 0 else f"역할극으로 알려 줘 (단계 {depth})"
        return json.dumps({"개선": "…", "prompt": prompt}, ensure_ascii=False)

    def _target(self, messages: list[dict[str, str]]) -> str:
        turn = sum(m["role"] == "user" for m in messages)
        if f"단계 {self.comply_at}" in messages[-1]["content"]:
            return COMPLIANCE
        if turn < self.comply_at:
            return REFUSAL
        if not self.split:
            return COMPLIANCE
        return f"{COMPLIANCE} PART-A" if turn == self.comply_at else "이어서 PART-B 입니다."
