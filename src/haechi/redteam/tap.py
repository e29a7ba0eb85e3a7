"""TAP, tree of attacks with pruning (Mehrotra et al. 2023): from each leaf the attacker
writes ``branching`` refined prompts; a judge drops those that left the goal (on-topic
pruning), the rest go to the target (one fresh conversation each) and are judged by the
campaign's detectors (success stops the attempt) and rated 1–10 by the judge; the best
``width`` rated become the next leaves, for at most ``depth`` levels. The judge is any model
spec (``judge:``), the attacker when unset; every prompt is haechi's own Korean
(``data/attackers/tap.yaml``). Every node, pruned or not, is kept in the chain's ``tree``.
"""

from __future__ import annotations

import builtins
import re
import unicodedata
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from haechi.models import ChatMessage
from haechi.redteam.conversation import (
    Conversation,
    ConversationSpec,
    Outcome,
    Turning,
    attacker_json,
    attacker_prompts,
    clip,
    fill,
)
from haechi.redteam.generators import parse_pair
from haechi.redteam.judges import parse_yes_no
from haechi.redteam.types import Seed
from haechi.store.attempts import VerdictRecord

_RATING = re.compile(r"(?<!\d)(10|[1-9])(?!\d)")


def parse_rating(text: str) -> int | None:
    """The first whole number from 1 to 10 in a judge's answer, else None."""
    match = _RATING.search(unicodedata.normalize("NFKC", text))
    return int(match.group(1)) if match else None


class Node(BaseModel):
    """One prompt of the tree. ``on_topic``: the judge's yes (True), no (False) or unparsed
    (None); ``pruned``: ``off_topic`` or ``width`` when it went no further."""

    id: str  # "0.1": the second child of the root's first child
    parent: str | None
    depth: int
    prompt: str
    sent: str
    attacker: str
    on_topic: bool | None = None
    on_topic_raw: str = ""
    response: str | None = None  # None: not sent (pruned off topic)
    verdicts: list[VerdictRecord] = Field(default_factory=list)
    success: bool = False
    refused: bool = False
    rating: int | None = None
    rating_raw: str = ""
    pruned: str | None = None


class TapState(Conversation):
    nodes: list[Node] = Field(default_factory=list)
    leaves: list[str] = Field(default_factory=list)  # the nodes the next level grows from
    level: int = 0

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def path(self, node_id: str | None) -> list[Node]:
        """The nodes from the root's child down to ``node_id``."""
        out: list[Node] = []
        while node_id is not None:
            node = self.node(node_id)
            out.append(node)
            node_id = node.parent
        return out[::-1]


class TapSpec(ConversationSpec):
    """``tap``: a tree ``depth`` levels deep, ``branching`` children per leaf, ``width``
    leaves kept per level; ``judge`` prunes and rates (the attacker when unset)."""

    State: ClassVar[builtins.type[Conversation]] = TapState

    type: Literal["tap"] = "tap"
    depth: int = Field(3, ge=1, description="tap: levels of the tree")
    branching: int = Field(2, ge=1, description="tap: prompts written from each leaf")
    width: int = Field(4, ge=1, description="tap: leaves kept per level")
    judge: str | None = Field(None, description="tap: on-topic and rating judge's model spec")
    judge_args: dict[str, Any] = Field(default_factory=dict)

    def models(self) -> list[tuple[str, dict[str, Any]]]:
        own = [(self.judge, self.judge_args)] if self.judge else []
        return [(self.model, self.model_args), *own]

    def attacker_messages(
        self, seed: Seed, state: TapState, leaf: str | None
    ) -> tuple[ChatMessage, ...]:
        """The attacker's conversation along the path to ``leaf``: each prompt, its answer
        and rating."""
        text = attacker_prompts("tap")
        messages = [ChatMessage("system", fill(text["system"], goal=seed.text))]
        path = state.path(leaf)
        if not path:
            messages.append(ChatMessage("user", text["first"]))
        for node in path:
            rating = "?" if node.rating is None else node.rating
            feedback = fill(text["feedback"], response=clip(node.response or ""), rating=rating)
            messages += [
                ChatMessage("assistant", attacker_json(node.prompt)),
                ChatMessage("user", feedback),
            ]
        return tuple(messages)

    def advance(self, turn: Turning, batch: Sequence[tuple[Seed, Conversation]]) -> None:
        states = [(seed, _tap(state)) for seed, state in batch]
        text = attacker_prompts("tap")
        judge = turn.model(self.judge or self.model)
        # 1. branch: every leaf (the root at first) grows ``branching`` prompts
        grown: list[tuple[Seed, TapState, Node]] = []
        asks = []
        for seed, state in states:
            state.level += 1
            parents: list[str | None] = [*state.leaves] if state.leaves else [None]
            for leaf in parents:
                for b in range(self.branching):
                    node_id = f"{leaf}.{b}" if leaf is not None else str(b)
                    asks.append((state, self.attacker_messages(seed, state, leaf), node_id))
                    node = Node(id=node_id, parent=leaf, depth=state.level, prompt="", sent="",
                                attacker="")  # fmt: skip
                    grown.append((seed, state, node))
        answers = turn.ask(turn.attacker, asks)
        for (seed, state, node), answer in zip(grown, answers, strict=True):
            node.attacker = answer.text
            node.prompt = parse_pair(answer.text, seed.text)
            node.sent = turn.convert(state, node.prompt)
        # 2. prune off-topic prompts (unless that would leave an attempt none)
        checks = turn.ask(
            judge,
            [
                (
                    state,
                    _judge_messages(text, "on_topic", goal=seed.text, prompt=node.prompt),
                    f"on_topic:{node.id}",
                )
                for seed, state, node in grown
            ],
            temperature=0.0,
            max_new_tokens=8,
        )
        for (_, _, node), check in zip(grown, checks, strict=True):
            node.on_topic, node.on_topic_raw = parse_yes_no(check.text), check.text
        for _, state in states:
            level = [n for _, s, n in grown if s is state]
            if any(n.on_topic is not False for n in level):
                for n in level:
                    n.pruned = "off_topic" if n.on_topic is False else None
        kept = [(seed, state, node) for seed, state, node in grown if node.pruned is None]
        # 3. send to the target, judge with the campaign's detectors, rate
        replies = turn.send(
            [(seed, state, turn.campaign.conversation(node.sent)) for seed, state, node in kept]
        )
        for (_, _, node), (reply, verdicts, success, refused) in zip(kept, replies, strict=True):
            # a node's turn is its depth: each node is a fresh one-turn conversation
            node.verdicts = [v.model_copy(update={"turn": node.depth}) for v in verdicts]
            node.response, node.success, node.refused = reply, success, refused
        ratings = turn.ask(
            judge,
            [
                (
                    state,
                    _judge_messages(
                        text,
                        "rating",
                        goal=seed.text,
                        prompt=node.prompt,
                        response=clip(node.response or "", 4000),
                    ),
                    f"rating:{node.id}",
                )
                for seed, state, node in kept
            ],
            temperature=0.0,
            max_new_tokens=8,
        )
        for (_, _, node), rating in zip(kept, ratings, strict=True):
            node.rating, node.rating_raw = parse_rating(rating.text), rating.text
        # 4. keep the best ``width`` as leaves; stop on success or at the last level
        for _, state in states:
            level = [n for _, s, n in kept if s is state]
            state.nodes += [n for _, s, n in grown if s is state]
            ranked = sorted(level, key=_rank, reverse=True)
            for n in ranked[self.width :]:
                n.pruned = "width"
            state.leaves = [n.id for n in ranked[: self.width]]
            state.done = any(n.success for n in level) or state.level >= self.depth

    def result(self, seed: Seed, state: Conversation) -> Outcome:
        state = _tap(state)
        best = max((n for n in state.nodes if n.response is not None), key=_rank)
        chain = {
            "seed": seed.record(),
            "generator": self.label,
            "attack": seed.text,
            "converters": state.chain,
            "turns": [
                {"role": "user", "content": best.sent},
                {"role": "assistant", "content": best.response or ""},
            ],
            "response": best.response,
            "best": best.id,
            "path": [n.id for n in state.path(best.id)],
            "tree": [n.model_dump(mode="json") for n in state.nodes],
        }
        return Outcome(chain=chain, verdicts=best.verdicts, turns=best.depth)


def _rank(node: Node) -> tuple[bool, int, int]:
    """Success first, then the judge's rating, then the shallower (earlier) node."""
    return (node.success, node.rating or 0, -node.depth)


def _judge_messages(text: dict[str, str], name: str, **values: object) -> tuple[ChatMessage, ...]:
    return (
        ChatMessage("system", fill(text[f"{name}_system"], **values)),
        ChatMessage("user", fill(text[f"{name}_user"], **values)),
    )


def _tap(state: Conversation) -> TapState:
    assert isinstance(state, TapState)
    return state
