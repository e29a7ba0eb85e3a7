"""Expanding a campaign into attempts: every attack through every converter chain."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from haechi.models import LanguageModel
from haechi.redteam.campaign import CampaignSpec
from haechi.redteam.converters import compose
from haechi.redteam.generators import Attack, direct, templated
from haechi.redteam.seed_sets import load_seed_set
from haechi.redteam.types import Converter, Seed


@dataclass(frozen=True)
class PlannedAttempt:
    """An attack and the converters it goes through; ``key`` survives resumes."""

    attack: Attack
    chain: tuple[str, ...]
    text: str  # the prompt as sent, converters applied

    @property
    def key(self) -> str:
        blob = "\x1f".join(
            (self.attack.seed.id, self.attack.generator, self.attack.text, *self.chain)
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def load_seeds(spec: CampaignSpec, base_dir: Path) -> tuple[list[Seed], list[Seed]]:
    """The campaign's harmful seeds and its benign controls (marked ``benign``)."""
    seeds = [
        s
        for i, entry in enumerate(spec.seeds)
        for s in load_seed_set(entry, base_dir=base_dir, where=f"seeds[{i}]")
    ]
    controls = [
        dataclasses.replace(s, benign=True)
        for i, entry in enumerate(spec.controls)
        for s in load_seed_set(entry, base_dir=base_dir, where=f"controls[{i}]")
    ]
    return seeds, controls


def single_turn_attacks(
    spec: CampaignSpec, seeds: Sequence[Seed], extra: Sequence[Attack]
) -> list[Attack]:
    """Attacks of the direct and template generators, plus ``extra`` (red-LM cases)."""
    attacks: list[Attack] = []
    for generator in spec.generators:
        if generator.type == "direct":
            attacks += direct(seeds)
        elif generator.type == "templates":
            attacks += templated(seeds, generator.families)
    return attacks + list(extra)


def expand(
    spec: CampaignSpec, attacks: Sequence[Attack], converter_model: LanguageModel | None
) -> list[PlannedAttempt]:
    """Every attack through every converter chain, within the attempt budget.

    Under a budget, attempts are taken category by category in turn, so a small budget
    still covers every category."""
    chains: list[tuple[tuple[str, ...], Converter | None]] = [
        (tuple(chain), compose(chain, converter_model) if chain else None)
        for chain in spec.converters
    ]
    planned = [
        PlannedAttempt(attack, names, converter(attack.text) if converter else attack.text)
        for attack in attacks
        for names, converter in chains
    ]
    if spec.budget.max_attempts is None or len(planned) <= spec.budget.max_attempts:
        return planned
    by_category: dict[str, list[PlannedAttempt]] = {}
    for p in planned:
        by_category.setdefault(p.attack.seed.category, []).append(p)
    interleaved = [p for group in itertools.zip_longest(*by_category.values()) for p in group if p]
    return interleaved[: spec.budget.max_attempts]


def control_attempts(controls: Sequence[Seed]) -> list[PlannedAttempt]:
    """Controls go as written: over-refusal is measured on plain requests."""
    return [PlannedAttempt(Attack(c, "control", c.text), (), c.text) for c in controls]
