"""An attempt budget samples every seed set, generator and converter chain, seeded and
deterministic, and says what it left out; also on the real Korean sets in shared/data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from tests.redteam.test_seeds import shared
from typer.testing import CliRunner

from haechi.cli.redteam_cmd import app
from haechi.redteam.campaign import CampaignSpec
from haechi.redteam.plan import (
    DIMENSIONS,
    PlannedAttempt,
    coverage,
    expand,
    left_out,
    load_seeds,
    single_turn_attacks,
    within_budget,
)
from haechi.store import open_store
from haechi.store.attempts import load_attempts


def planned(**fields: object) -> list[PlannedAttempt]:
    spec = CampaignSpec.model_validate(
        {
            "name": "plan",
            "target": {"model": "hf/x"},
            "seeds": [{"source": "bundled"}, {"source": "controls", "limit": 6}],
            "generators": [{"type": "direct"}, {"type": "templates", "families": ["grandma"]}],
            "converters": [[], ["jamo"], ["base64", "spacing"]],
        }
        | fields
    )
    seed_sets, _ = load_seeds(spec, Path("."))
    return expand(spec, single_turn_attacks(spec, seed_sets, []), None)


def counts(chosen: list[PlannedAttempt], dimension: str) -> Counter[str]:
    return Counter(getattr(p.stratum, dimension) for p in chosen)


def test_a_budget_samples_every_stratum_evenly() -> None:
    plan = planned()
    assert len(plan) == (76 + 6) * 2 * 3
    chosen = within_budget(plan, 150, seed=0)
    assert len(chosen) == 150 and len({p.key for p in chosen}) == 150
    for dimension in DIMENSIONS:
        every = {getattr(p.stratum, dimension) for p in plan}
        assert set(counts(chosen, dimension)) == every
    # 12 strata: 6 attempts of the small seed set each (all of them), the rest shared evenly
    by_stratum = Counter(p.stratum for p in chosen)
    small = [n for s, n in by_stratum.items() if s.seed_set == "seeds[1]:controls"]
    large = [n for s, n in by_stratum.items() if s.seed_set == "seeds[0]:bundled"]
    assert small == [6] * 6 and sum(large) == 150 - 36 and max(large) - min(large) <= 1
    # categories take turns inside each stratum
    direct_plain = [p for p in chosen if p.stratum.generator == "direct" and not p.chain]
    bundled = [p for p in direct_plain if p.stratum.seed_set == "seeds[0]:bundled"]
    assert len({p.attack.seed.category for p in bundled}) == len(bundled)
    summary = coverage(plan, {p.key for p in chosen})
    assert (summary["planned"], summary["covered"]) == (len(plan), 150)
    assert summary["converters"]["jamo"] == [50, 164] and left_out(summary) == []


def test_the_choice_is_seeded_and_deterministic() -> None:
    plan = planned()
    first = [p.key for p in within_budget(plan, 40, seed=0)]
    assert first == [p.key for p in within_budget(planned(), 40, seed=0)]
    other = [p.key for p in within_budget(plan, 40, seed=1)]
    assert other != first
    assert left_out(coverage(plan, set(other))) == []
    assert {p.key for p in within_budget(plan, None, seed=0)} == {p.key for p in plan}


def test_what_a_too_small_budget_leaves_out_is_named() -> None:
    plan = planned(seeds=[{"source": "bundled"}])
    chosen = within_budget(plan, 2, seed=0)
    for dimension in ("seed_set", "generator"):
        assert len(counts(chosen, dimension)) == (1 if dimension == "seed_set" else 2)
    assert len(counts(chosen, "converters")) == 2
    [missing] = left_out(coverage(plan, {p.key for p in chosen}))
    assert missing.startswith("converters ") and missing.endswith(" (0 of 152)")


def test_a_budget_over_the_real_korean_sets(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    square, kosbi = shared("square"), shared("kosbi")
    path = tmp_path / "real.yaml"
    path.write_text(
        "name: real\n"
        f"target: {{model: hf/{tiny_qwen2_dir}, max_new_tokens: 2}}\n"
        "seeds:\n"
        "  - {source: bundled}\n"
        f"  - {{source: square, path: {square}, limit: 200}}\n"
        f"  - {{source: kosbi, path: {kosbi}, limit: 200}}\n"
        "controls: [{source: controls, limit: 2}]\n"
        "generators: [{type: direct}, {type: templates}]\n"
        "converters: [[], [jamo], [base64]]\n"
        "budget: {max_attempts: 150}\n"
        "concurrency: 16\n",
        encoding="utf-8",
    )
    db = str(tmp_path / "s.db")
    result = CliRunner().invoke(
        app, ["run", str(path), "--db", db], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    planned_attacks = (76 + 200 + 200) * 7 * 3
    assert f"budget: 150 of {planned_attacks} planned attacks; every seed set" in result.output
    with open_store(db) as store:
        [run] = store.list_runs(kind="redteam")
        attacks = [a for a in load_attempts(store, run.id) if not a.benign]
    assert len(attacks) == 150
    sets = Counter(a.chain["stratum"]["seed_set"] for a in attacks)
    assert set(sets) == {"seeds[0]:bundled", "seeds[1]:square", "seeds[2]:kosbi"}
    assert set(Counter(a.generator.partition(":")[0] for a in attacks)) == {"direct", "templates"}
    assert set(Counter(a.converters for a in attacks)) == {"", "jamo", "base64"}
    # 18 strata: 8 or 9 attempts each
    strata = Counter(tuple(sorted(a.chain["stratum"].items())) for a in attacks)
    assert len(strata) == 18 and set(strata.values()) == {8, 9}
    plan = run.config["plan"]
    assert (plan["planned"], plan["covered"]) == (planned_attacks, 150)
    assert plan["seed_set"]["seeds[1]:square"] == [sets["seeds[1]:square"], 200 * 7 * 3]


@pytest.mark.parametrize("limit", [1, 7])
def test_left_out_lists_each_dimension(limit: int) -> None:
    plan = planned()
    missing = left_out(coverage(plan, {p.key for p in within_budget(plan, limit, seed=0)}))
    assert len(missing) == {1: 1 + 1 + 2, 7: 0}[limit]


def test_controls_are_spread_through_the_sending_order() -> None:
    from haechi.redteam.plan import control_attempts, interleave
    from haechi.redteam.seeds import bundled_controls

    attacks = planned()[:12]
    controls = control_attempts(bundled_controls()[:3])
    order = interleave(attacks, controls)
    assert [p for p in order if p in attacks] == attacks
    assert [p for p in order if p in controls] == controls
    assert [order.index(c) for c in controls] == [2, 7, 12]  # one in each third
    assert interleave(attacks, []) == attacks and interleave([], controls) == controls
