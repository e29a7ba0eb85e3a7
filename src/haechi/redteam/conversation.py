"""Multi-turn generators (Crescendo, TAP): what they share, and the campaign phase that
drives them.

Each generator is one ``ConversationSpec`` subclass (its YAML ``type``, options, state and
``advance``), in its own module. For every harmful seed and converter chain of the campaign
it keeps one attempt's state; attempts of a chunk advance together one turn at a time, so
every model call is batched. After each turn every attempt's state is kept in the store
(``save_progress``), so a killed run resumes mid-conversation; a finished attempt is stored
with its whole chain (every turn, branch and verdict), and its progress is removed.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field

from haechi.models import ChatMessage, Generation, GenerationRequest, LanguageModel
from haechi.progress import progress_bar
from haechi.redteam.converters import compose
from haechi.redteam.types import Converter, DetectionInput, Seed, Verdict
from haechi.store.attempts import (
    AttemptRecord,
    VerdictRecord,
    add_attempts,
    load_progress,
    save_progress,
)

if TYPE_CHECKING:
    from haechi.redteam.runner import Campaign
    from haechi.store import Store

log = logging.getLogger(__name__)


@cache
def attacker_prompts(name: str) -> dict[str, str]:
    """The Korean prompts of attacker ``name`` (``redteam/data/attackers/NAME.yaml``)."""
    path = resources.files("haechi.redteam").joinpath("data", "attackers", f"{name}.yaml")
    data = yaml.safe_load(path.read_text("utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def fill(template: str, **values: object) -> str:
    """``template`` with each ``{name}`` replaced (plain replace: braces in model text or in
    the JSON examples of a prompt are safe)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def clip(text: str, max_chars: int = 2000) -> str:
    """Model text shown to an attacker or judge: at most ``max_chars`` characters."""
    text = text.strip()
    return text if len(text) <= max_chars else text[:max_chars] + " […]"


class Exchange(BaseModel):
    """One prompt sent to the target and what came of it.

    ``prompt``: the attacker's text; ``sent``: after the converter chain; ``attacker``: the
    attacker's whole answer. ``verdicts``: the campaign's detectors on the conversation up
    to this reply; ``success``: their decision; ``refused``: the refusal detector's.
    """

    prompt: str
    sent: str
    attacker: str
    response: str
    verdicts: list[VerdictRecord]
    success: bool
    refused: bool


class Conversation(BaseModel):
    """The state of one multi-turn attempt (a generator's subclass adds its own), kept as
    JSON after every turn."""

    model_config = ConfigDict(extra="forbid")

    key: str
    seed_id: str
    chain: list[str]
    done: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class ConversationSpec(BaseModel):
    """A multi-turn generator's campaign entry: its attacker and how that one generates.
    Subclasses set ``type: Literal[...]``, ``State`` and implement ``advance`` and ``result``."""

    model_config = ConfigDict(extra="forbid")
    State: ClassVar[builtins.type[Conversation]] = Conversation

    type: str
    model: str = Field(description="the attacker's model spec")
    model_args: dict[str, Any] = Field(default_factory=dict)
    temperature: float = Field(1.0, ge=0)
    max_new_tokens: int = Field(256, ge=1)

    @property
    def label(self) -> str:
        return f"{self.type}:{self.model}"

    def models(self) -> list[tuple[str, dict[str, Any]]]:
        """The model specs (with args) the generator calls."""
        return [(self.model, self.model_args)]

    def key(self, seed: Seed, chain: Sequence[str]) -> str:
        """The stable key of the attempt on ``seed`` through ``chain``."""
        blob = "\x1f".join((self.label, seed.id, *chain))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def advance(self, turn: Turning, batch: Sequence[tuple[Seed, Conversation]]) -> None:
        """Take every attempt of ``batch`` (none done) one turn further, in place."""
        raise NotImplementedError

    def result(self, seed: Seed, state: Conversation) -> Outcome:
        """What a finished attempt stores."""
        raise NotImplementedError


class Outcome(BaseModel):
    """A finished attempt: its chain, the verdicts that decided it, the turn it reached."""

    chain: dict[str, Any]
    verdicts: list[VerdictRecord]
    turns: int


class Turning:
    """What a generator's ``advance`` calls: the attacker, the target, the converters and the
    campaign's detectors, with token counts added to each attempt and to the campaign."""

    def __init__(self, campaign: Campaign, spec: ConversationSpec) -> None:
        self.campaign = campaign
        self.spec = spec
        self.attacker = campaign.attackers[spec.model]
        self._converters: dict[tuple[str, ...], Converter | None] = {}

    def model(self, spec: str) -> LanguageModel:
        return self.campaign.attackers[spec]

    def ask(
        self,
        model: LanguageModel,
        asks: Sequence[tuple[Conversation, tuple[ChatMessage, ...], str]],
        *,
        temperature: float | None = None,
        max_new_tokens: int | None = None,
    ) -> list[Generation]:
        """One generation per (attempt, messages, name), batched. Each is seeded by its
        attempt and its name (unique within the attempt: ``turn3``, ``rating:0.1``), so a
        resumed run asks the same whatever else is in its batch."""
        requests = [
            GenerationRequest(
                messages=messages,
                max_new_tokens=max_new_tokens or self.spec.max_new_tokens,
                temperature=self.spec.temperature if temperature is None else temperature,
                seed=_seed(self.campaign.spec.seed, state.key, name),
            )
            for state, messages, name in asks
        ]
        answers = model.generate(requests) if requests else []
        for (state, _, _), answer in zip(asks, answers, strict=True):
            self._count(state, answer)
        return answers

    def convert(self, state: Conversation, text: str) -> str:
        """``text`` through the attempt's converter chain (the campaign's converters, per turn)."""
        chain = tuple(state.chain)
        if chain not in self._converters:
            self._converters[chain] = (
                compose(list(chain), self.campaign.converter_model) if chain else None
            )
        converter = self._converters[chain]
        return converter(text) if converter else text

    def send(
        self, sends: Sequence[tuple[Seed, Conversation, tuple[ChatMessage, ...]]]
    ) -> list[tuple[str, list[VerdictRecord], bool, bool]]:
        """Each conversation to the target, batched, and the replies judged by the
        campaign's detectors: (reply, verdicts, success, refused) per conversation."""
        campaign = self.campaign
        requests = [campaign.request(campaign.spec.target, m) for _, _, m in sends]
        replies = campaign.target.generate(requests) if requests else []
        items = [
            DetectionInput(seed, messages, reply.text)
            for (seed, _, messages), reply in zip(sends, replies, strict=True)
        ]
        judged = campaign.judge(items) if items else []
        refusals = [
            next((v for v in verdicts if v.detector == campaign.refusal.name), None)
            for verdicts in judged
        ]
        missing = [i for i, v in enumerate(refusals) if v is None]
        for i, v in zip(missing, campaign.refusal.detect([items[i] for i in missing]), strict=True):
            refusals[i] = v
            judged[i].append(v)  # kept with the turn's verdicts; decide() leaves it out
        out = []
        for (_, state, _), reply, item, verdicts, refusal in zip(
            sends, replies, items, judged, refusals, strict=True
        ):
            self._count(state, reply)
            records = [record_verdict(v, item.turn) for v in verdicts]
            refused = refusal is not None and not refusal.success
            out.append((reply.text, records, campaign.decide(verdicts), refused))
        return out

    def _count(self, state: Conversation, generation: Generation) -> None:
        state.prompt_tokens += generation.prompt_tokens
        state.completion_tokens += generation.completion_tokens
        self.campaign.tokens_used += generation.prompt_tokens + generation.completion_tokens


def target_messages(
    campaign: Campaign, history: Sequence[Exchange], sent: str
) -> tuple[ChatMessage, ...]:
    """The target's conversation: its system prompt, the exchanges it saw, then ``sent``."""
    *head, last = campaign.conversation(sent)
    earlier = [
        m
        for e in history
        for m in (ChatMessage("user", e.sent), ChatMessage("assistant", e.response))
    ]
    return (*head, *earlier, last)


def turns_json(history: Sequence[Exchange]) -> list[dict[str, str]]:
    """The conversation the target saw, as the chain's ``turns``."""
    return [
        {"role": role, "content": text}
        for e in history
        for role, text in (("user", e.sent), ("assistant", e.response))
    ]


def record_verdict(v: Verdict, turn: int | None) -> VerdictRecord:
    return VerdictRecord(
        detector=v.detector, success=v.success, score=v.score, labels=v.labels, raw=v.raw, turn=turn
    )


def as_verdict(v: VerdictRecord) -> Verdict:
    return Verdict(v.detector, v.success, v.score, v.labels, v.raw, v.turn)


def attacker_json(prompt: str) -> str:
    """The attacker's earlier turn as it is shown back to it."""
    return json.dumps({"prompt": prompt}, ensure_ascii=False)


def run_conversations(
    campaign: Campaign,
    store: Store,
    run_id: str,
    seeds: Sequence[Seed],
    done: set[str],
    *,
    progress: bool = True,
) -> bool:
    """Every multi-turn generator of the campaign on every seed and converter chain not
    stored yet, resuming attempts kept mid-conversation. Returns whether the token budget
    stopped it."""
    specs = [g for g in campaign.spec.generators if isinstance(g, ConversationSpec)]
    if not specs:
        return False
    kept = load_progress(store, run_id)
    jobs: list[tuple[ConversationSpec, Seed, Conversation]] = []
    for spec in specs:
        for chain in campaign.spec.converters:
            for seed in seeds:
                key = spec.key(seed, chain)
                if key in done:
                    continue
                state = (
                    spec.State.model_validate(kept[key])
                    if key in kept
                    else spec.State(key=key, seed_id=seed.id, chain=list(chain))
                )
                jobs.append((spec, seed, state))
    resumed = sum(state.key in kept for _, _, state in jobs)
    if resumed:
        log.info("resuming %d multi-turn attempts mid-conversation", resumed)
    size = campaign.spec.concurrency
    with progress_bar("conversations", len(jobs), show=progress) as advance:
        for spec in specs:
            mine = [(seed, state) for s, seed, state in jobs if s is spec]
            turning = Turning(campaign, spec)
            for start in range(0, len(mine), size):
                chunk = mine[start : start + size]
                if not _run_chunk(campaign, store, run_id, spec, turning, chunk):
                    return True
                advance(len(chunk))
    return False


def _run_chunk(
    campaign: Campaign,
    store: Store,
    run_id: str,
    spec: ConversationSpec,
    turning: Turning,
    chunk: Sequence[tuple[Seed, Conversation]],
) -> bool:
    """Advance a chunk turn by turn until every attempt is done and stored; False when the
    token budget ran out first (what is done so far is kept)."""
    stored: set[str] = set()
    while True:
        finished = [(seed, s) for seed, s in chunk if s.done and s.key not in stored]
        if finished:
            add_attempts(store, run_id, [_attempt(campaign, spec, *f) for f in finished])
            stored.update(s.key for _, s in finished)
        active = [(seed, s) for seed, s in chunk if not s.done]
        if not active:
            return True
        if campaign._over_budget():
            return False
        started = time.perf_counter()
        spec.advance(turning, active)
        share = (time.perf_counter() - started) / len(active)
        for _, s in active:
            s.seconds += share
        # finished ones too: a run killed before they are stored stores them on resume
        save_progress(store, run_id, {s.key: s.model_dump(mode="json") for _, s in active})


def _attempt(
    campaign: Campaign, spec: ConversationSpec, seed: Seed, state: Conversation
) -> AttemptRecord:
    outcome = spec.result(seed, state)
    cost = Generation(
        (), (), prompt_tokens=state.prompt_tokens, completion_tokens=state.completion_tokens
    )
    return campaign.record(
        state.key,
        seed,
        spec.label,
        state.chain,
        outcome.turns,
        outcome.chain,
        [as_verdict(v) for v in outcome.verdicts],
        cost,
        state.seconds,
    )


def _seed(base: int, key: str, name: str) -> int:
    blob = f"{base}\x1f{key}\x1f{name}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big")
