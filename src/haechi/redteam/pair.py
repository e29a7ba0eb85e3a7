"""PAIR (Chao et al. 2023): an attacker model revises its prompt round by round from the
target's answers and the detectors' decision, until the attack succeeds or the rounds run
out. Seeds of a chunk move through the rounds together, so every model call is batched."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from haechi.models import Generation, GenerationRequest, LanguageModel
from haechi.redteam.campaign import GeneratorSpec
from haechi.redteam.generators import pair_messages, parse_pair
from haechi.redteam.types import DetectionInput, Seed, Verdict
from haechi.store.attempts import AttemptRecord

if TYPE_CHECKING:
    from haechi.redteam.runner import Campaign


def pair_key(seed: Seed) -> str:
    """The stable key of a seed's PAIR attempt (one per seed)."""
    return hashlib.sha256(f"pair\x1f{seed.id}".encode()).hexdigest()[:32]


def run_pair(
    campaign: Campaign, seeds: Sequence[Seed], attacker: LanguageModel, spec: GeneratorSpec
) -> list[AttemptRecord]:
    """PAIR for a chunk of seeds, round by round in batches; stops per seed on success."""
    history: dict[str, list[tuple[str, str, bool]]] = {s.id: [] for s in seeds}
    costs = {s.id: [0, 0] for s in seeds}
    finals: dict[str, tuple[list[Verdict], Generation]] = {}
    started = time.perf_counter()
    active = list(seeds)
    for _ in range(spec.rounds):
        if not active:
            break
        asks = attacker.generate(
            [
                GenerationRequest(
                    messages=pair_messages(s.text, history[s.id]),
                    max_new_tokens=spec.max_new_tokens,
                    temperature=spec.temperature,
                    seed=campaign.spec.seed,
                )
                for s in active
            ]
        )
        prompts = [parse_pair(a.text, s.text) for a, s in zip(asks, active, strict=True)]
        conversations = [campaign.conversation(p) for p in prompts]
        replies = campaign.target.generate(
            [campaign.request(campaign.spec.target, c) for c in conversations]
        )
        judged = campaign.judge(
            [
                DetectionInput(s, c, r.text)
                for s, c, r in zip(active, conversations, replies, strict=True)
            ]
        )
        still = []
        for s, a, p, r, v in zip(active, asks, prompts, replies, judged, strict=True):
            success = campaign.decide(v)
            history[s.id].append((p, r.text, success))
            costs[s.id][0] += a.prompt_tokens + r.prompt_tokens
            costs[s.id][1] += a.completion_tokens + r.completion_tokens
            campaign.tokens_used += (
                a.prompt_tokens + a.completion_tokens + r.prompt_tokens + r.completion_tokens
            )
            finals[s.id] = (v, r)
            if not success:
                still.append(s)
        active = still
    seconds = (time.perf_counter() - started) / max(len(seeds), 1)
    records = []
    for s in seeds:
        final_verdicts, reply = finals[s.id]
        turns = [
            {"role": role, "content": text, "round": i + 1}
            for i, (prompt, answer, _) in enumerate(history[s.id])
            for role, text in (("user", prompt), ("assistant", answer))
        ]
        chain = {
            "seed": s.record(),
            "generator": f"pair:{attacker.name}",
            "attack": s.text,
            "converters": [],
            "turns": turns,
            "response": reply.text,
            "rounds": [{"prompt": p, "response": r, "success": ok} for p, r, ok in history[s.id]],
        }
        cost = Generation((), (), prompt_tokens=costs[s.id][0], completion_tokens=costs[s.id][1])
        records.append(
            campaign.record(
                pair_key(s),
                s,
                f"pair:{attacker.name}",
                (),
                len(history[s.id]),
                chain,
                final_verdicts,
                cost,
                seconds,
            )
        )
    return records
