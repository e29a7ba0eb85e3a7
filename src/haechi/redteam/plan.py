"""Expanding a campaign into attempts: every attack through every converter chain, and
choosing which of them an attempt budget sends.

Each attempt belongs to a stratum: its seed set (``seeds[1]:square``), its generator
(``templates``) and its converter chain (``base64+spacing``). Under ``max_attempts`` the
budget is spread over the strata so that every seed set, generator and chain is sampled
before any is sampled twice, and evenly after that; inside a stratum, categories take
turns in a seeded shuffle. The choice depends only on the campaign (its ``seed``), so a
resumed run sends the same attempts. ``coverage`` says what the budget left out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haechi.models import LanguageModel
from haechi.redteam.campaign import CampaignSpec
from haechi.redteam.converters import compose
from haechi.redteam.generators import Attack, direct, templated
from haechi.redteam.seed_sets import load_seed_set
from haechi.redteam.types import Converter, Seed

DIMENSIONS = ("seed_set", "generator", "converters")
"""What a budget must cover: the fields of ``Stratum``."""


@dataclass(frozen=True)
class Stratum:
    """Where an attempt comes from, for spreading a budget and reporting its coverage."""

    seed_set: str  # "seeds[0]:bundled"; "red_lm" for generated cases, "controls"
    generator: str  # the generator entry's label: "direct", "templates", "red_lm:hf/x"
    converters: str = "(none)"  # the chain's names joined by "+"

    def record(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SeedSet:
    """The seeds of one campaign entry, labelled by position and source."""

    label: str
    seeds: list[Seed]


@dataclass(frozen=True)
class PlannedAttempt:
    """An attack and the converters it goes through; ``key`` survives resumes."""

    attack: Attack
    chain: tuple[str, ...]
    text: str  # the prompt as sent, converters applied
    stratum: Stratum

    @property
    def key(self) -> str:
        blob = "\x1f".join(
            (self.attack.seed.id, self.attack.generator, self.attack.text, *self.chain)
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def load_seeds(spec: CampaignSpec, base_dir: Path) -> tuple[list[SeedSet], list[Seed]]:
    """The campaign's harmful seed sets and its benign controls (marked ``benign``)."""
    sets = [
        SeedSet(
            f"seeds[{i}]:{entry.get('source')}",
            load_seed_set(entry, base_dir=base_dir, where=f"seeds[{i}]"),
        )
        for i, entry in enumerate(spec.seeds)
    ]
    controls = [
        dataclasses.replace(s, benign=True)
        for i, entry in enumerate(spec.controls)
        for s in load_seed_set(entry, base_dir=base_dir, where=f"controls[{i}]")
    ]
    return sets, controls


def single_turn_attacks(
    spec: CampaignSpec, seed_sets: Sequence[SeedSet], extra: Sequence[tuple[Attack, Stratum]]
) -> list[tuple[Attack, Stratum]]:
    """Attacks of the direct and template generators on every seed set, plus ``extra``
    (red-LM cases), each with its stratum (converters still unset)."""
    attacks: list[tuple[Attack, Stratum]] = []
    for generator in spec.generators:
        for seed_set in seed_sets:
            if generator.type == "direct":
                made = direct(seed_set.seeds)
            elif generator.type == "templates":
                made = templated(seed_set.seeds, generator.families)
            else:
                continue
            stratum = Stratum(seed_set.label, generator.label)
            attacks += [(a, stratum) for a in made]
    return attacks + list(extra)


def expand(
    spec: CampaignSpec,
    attacks: Sequence[tuple[Attack, Stratum]],
    converter_model: LanguageModel | None,
) -> list[PlannedAttempt]:
    """Every attack through every converter chain."""
    chains: list[tuple[tuple[str, ...], Converter | None]] = [
        (tuple(chain), compose(chain, converter_model) if chain else None)
        for chain in spec.converters
    ]
    return [
        PlannedAttempt(
            attack,
            names,
            converter(attack.text) if converter else attack.text,
            dataclasses.replace(stratum, converters="+".join(names) or "(none)"),
        )
        for attack, stratum in attacks
        for names, converter in chains
    ]


def within_budget(
    planned: Sequence[PlannedAttempt], limit: int | None, seed: int
) -> list[PlannedAttempt]:
    """The attempts to send, in sending order: all of them without a ``limit``.

    Each next attempt comes from the stratum with most of its seed set, generator and chain
    not sampled yet, then the stratum sampled least, then the one whose three were sampled
    least, ties broken by a seeded order; so a token budget that stops the run early also
    leaves the strata balanced.
    """
    rng = random.Random(seed)
    queues: dict[Stratum, list[PlannedAttempt]] = {}
    for p in planned:
        queues.setdefault(p.stratum, []).append(p)
    for stratum, items in queues.items():
        queues[stratum] = _categories_in_turn(items, rng)
    order = list(queues)
    rng.shuffle(order)
    used: dict[str, Counter[str]] = {d: Counter() for d in DIMENSIONS}
    positions = dict.fromkeys(order, 0)
    chosen: list[PlannedAttempt] = []
    total = len(planned) if limit is None else min(limit, len(planned))
    while len(chosen) < total:

        def need(s: Stratum) -> tuple[int, int, int]:
            counts = [used[d][getattr(s, d)] for d in DIMENSIONS]
            return (-counts.count(0), positions[s], sum(counts))

        stratum = min((s for s in order if positions[s] < len(queues[s])), key=need)
        chosen.append(queues[stratum][positions[stratum]])
        positions[stratum] += 1
        for d in DIMENSIONS:
            used[d][getattr(stratum, d)] += 1
    return chosen


def _categories_in_turn(items: list[PlannedAttempt], rng: random.Random) -> list[PlannedAttempt]:
    """Categories take turns (in order of appearance), each in a seeded shuffle."""
    by_category: dict[str, list[PlannedAttempt]] = {}
    for p in items:
        by_category.setdefault(p.attack.seed.category, []).append(p)
    for group in by_category.values():
        rng.shuffle(group)
    return [p for row in itertools.zip_longest(*by_category.values()) for p in row if p]


def coverage(planned: Sequence[PlannedAttempt], covered: Collection[str]) -> dict[str, Any]:
    """How much of the plan the attempt keys ``covered`` hold, per dimension:
    ``{"planned": N, "covered": M, "seed_set": {label: [covered, planned]}, ...}``."""
    out: dict[str, Any] = {"planned": len(planned), "covered": 0}
    cells: dict[str, dict[str, list[int]]] = {d: {} for d in DIMENSIONS}
    for p in planned:
        hit = p.key in covered
        out["covered"] += hit
        for d in DIMENSIONS:
            cell = cells[d].setdefault(getattr(p.stratum, d), [0, 0])
            cell[0] += hit
            cell[1] += 1
    return out | cells


def left_out(summary: dict[str, Any]) -> list[str]:
    """The seed sets, generators and chains of a ``coverage`` summary that got nothing."""
    names = {"seed_set": "seed set", "generator": "generator", "converters": "converters"}
    return [
        f"{names[d]} {label} (0 of {planned})"
        for d in DIMENSIONS
        for label, (covered, planned) in summary.get(d, {}).items()
        if covered == 0
    ]


def control_attempts(controls: Sequence[Seed]) -> list[PlannedAttempt]:
    """Controls go as written: over-refusal is measured on plain requests."""
    stratum = Stratum("controls", "control")
    return [PlannedAttempt(Attack(c, "control", c.text), (), c.text, stratum) for c in controls]


def interleave(
    attacks: Sequence[PlannedAttempt], controls: Sequence[PlannedAttempt]
) -> list[PlannedAttempt]:
    """The sending order: the controls spread evenly through the attacks (each keeps its
    order), so a run that its token budget stops early still has over-refusal beside its
    attack-success rate."""
    position = [((i + 0.5) / len(attacks), 0, a) for i, a in enumerate(attacks)] + [
        ((j + 0.5) / len(controls), 1, c) for j, c in enumerate(controls)
    ]
    return [p for _, _, p in sorted(position, key=lambda x: (x[0], x[1]))]
