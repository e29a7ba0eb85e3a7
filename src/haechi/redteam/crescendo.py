"""Crescendo (Russinovich et al. 2024): an attacker model starts from a harmless question near
the goal and escalates turn by turn, building on the target's own answers, until the
campaign's detectors call the conversation a success or ``turns`` run out. A refused turn
is taken back (the target never sees it again) and asked differently, up to ``backtracks``
times; after that refusals stay in the conversation. The attacker's prompts are haechi's
own Korean (``data/attackers/crescendo.yaml``).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

from haechi.models import ChatMessage
from haechi.redteam.conversation import (
    Conversation,
    ConversationSpec,
    Exchange,
    Outcome,
    Turning,
    attacker_json,
    attacker_prompts,
    clip,
    fill,
    target_messages,
    turns_json,
)
from haechi.redteam.generators import parse_pair
from haechi.redteam.types import Seed


class CrescendoEvent(Exchange):
    """A turn of a Crescendo attempt; ``backtracked``: refused and taken back."""

    backtracked: bool = False


class CrescendoState(Conversation):
    events: list[CrescendoEvent] = Field(default_factory=list)

    @property
    def kept(self) -> list[CrescendoEvent]:
        """The turns the target saw (in its conversation)."""
        return [e for e in self.events if not e.backtracked]


class CrescendoSpec(ConversationSpec):
    """``crescendo``: escalate over at most ``turns`` turns, taking back up to
    ``backtracks`` refused ones."""

    State: ClassVar[builtins.type[Conversation]] = CrescendoState

    type: Literal["crescendo"] = "crescendo"
    turns: int = Field(5, ge=1, description="crescendo: most turns of the conversation")
    backtracks: int = Field(3, ge=0, description="crescendo: refused turns taken back")

    def attacker_messages(self, seed: Seed, state: CrescendoState) -> tuple[ChatMessage, ...]:
        """The attacker's conversation: its goal, then every earlier turn with the outcome."""
        text = attacker_prompts("crescendo")
        messages = [ChatMessage("system", fill(text["system"], goal=seed.text, turns=self.turns))]
        if not state.events:
            messages.append(ChatMessage("user", fill(text["first"], turns=self.turns)))
        kept = 0
        for event in state.events:
            kept += not event.backtracked
            feedback = text["refused"] if event.backtracked else text["feedback"]
            messages += [
                ChatMessage("assistant", attacker_json(event.prompt)),
                ChatMessage(
                    "user",
                    fill(feedback, response=clip(event.response), next=kept + 1, turns=self.turns),
                ),
            ]
        return tuple(messages)

    def advance(self, turn: Turning, batch: Sequence[tuple[Seed, Conversation]]) -> None:
        states = [(seed, _crescendo(state)) for seed, state in batch]
        asks = turn.ask(
            turn.attacker,
            [
                (state, self.attacker_messages(seed, state), f"turn{len(state.events)}")
                for seed, state in states
            ],
        )
        prompts = [parse_pair(a.text, seed.text) for a, (seed, _) in zip(asks, states, strict=True)]
        sent = [turn.convert(state, p) for p, (_, state) in zip(prompts, states, strict=True)]
        replies = turn.send(
            [
                (seed, state, target_messages(turn.campaign, state.kept, text))
                for text, (seed, state) in zip(sent, states, strict=True)
            ]
        )
        for (_, state), ask, prompt, text, (reply, verdicts, success, refused) in zip(
            states, asks, prompts, sent, replies, strict=True
        ):
            taken_back = sum(e.backtracked for e in state.events)
            back = refused and not success and taken_back < self.backtracks
            state.events.append(
                CrescendoEvent(
                    prompt=prompt, sent=text, attacker=ask.text, response=reply,
                    verdicts=verdicts, success=success, refused=refused, backtracked=back,
                )
            )  # fmt: skip
            state.done = success or len(state.kept) >= self.turns

    def result(self, seed: Seed, state: Conversation) -> Outcome:
        state = _crescendo(state)
        kept = state.kept
        chain = {
            "seed": seed.record(),
            "generator": self.label,
            "attack": seed.text,
            "converters": state.chain,
            "turns": turns_json(kept),
            "response": kept[-1].response,
            "events": [e.model_dump(mode="json") for e in state.events],
            "backtracked": sum(e.backtracked for e in state.events),
        }
        return Outcome(chain=chain, verdicts=kept[-1].verdicts, turns=len(kept))


def _crescendo(state: Conversation) -> CrescendoState:
    assert isinstance(state, CrescendoState)
    return state
