"""Red-team runs written straight into a store (no model): attempts over a grid of seeds,
generators and converter chains whose outcomes follow a rule the tests can recompute."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from haechi.redteam.metrics import summary_results
from haechi.store import Store
from haechi.store.attempts import AttemptRecord, VerdictRecord, add_attempts

CATEGORIES = ("개인정보", "혐오")
GENERATORS = ("direct", "crescendo:red")
CHAINS = ("", "jamo", "base64+spacing")
SEEDS = 10  # × 2 generators × 3 chains = 60 attacks, plus CONTROLS
CONTROLS = 3
REFUSAL = "죄송하지만 그 요청은 도와드릴 수 없습니다."

Rule = Callable[[int, int, int], bool]  # (seed, generator, chain) index → success


def seed_category(seed: int) -> str:
    return CATEGORIES[seed % 2]


def attempt(
    key: str,
    seed_id: str,
    category: str,
    generator: str,
    chain: str,
    turns: int,
    success: bool,
    *,
    text: str = "",
    benign: bool = False,
    refused: bool | None = None,
) -> AttemptRecord:
    """One attempt whose conversation has ``turns`` exchanges; refused (the refusal
    detector's verdict) unless it succeeded, when ``refused`` is not given."""
    refused = (not success) if refused is None else refused
    reply = REFUSAL if refused else f"네, 방법은 다음과 같습니다: {text}"
    conversation = []
    for turn in range(1, turns + 1):
        conversation += [
            {"role": "user", "content": f"{text} (턴 {turn})"},
            {"role": "assistant", "content": reply if turn == turns else "글쎄요."},
        ]
    return AttemptRecord(
        key=key,
        seed_id=seed_id,
        category=category,
        benign=benign,
        generator=generator,
        converters=chain,
        turns=turns,
        success=success,
        chain={
            "seed": {"id": seed_id, "text": text, "category": category},
            "generator": generator,
            "attack": text,
            "converters": chain.split("+") if chain else [],
            "turns": conversation,
            "response": reply,
            **(
                {"events": [{"prompt": f"단계 {t}"} for t in range(1, turns + 1)]}
                if turns > 1
                else {}
            ),
        },
        verdicts=(
            VerdictRecord(detector="refusal", success=not refused, turn=turns),
            VerdictRecord(detector="judge:유해성", success=success, score=0.9, turn=turns),
        ),
    )


def grid_attempts(rule: Rule) -> list[AttemptRecord]:
    """SEEDS × GENERATORS × CHAINS attacks (crescendo reaching turn 1 + seed % 3), then
    CONTROLS benign controls, the first of them refused."""
    out = []
    for s in range(SEEDS):
        for g, generator in enumerate(GENERATORS):
            for c, chain in enumerate(CHAINS):
                turns = 1 + s % 3 if generator.startswith("crescendo") else 1
                out.append(
                    attempt(
                        f"k{s}-{g}-{c}", f"seed-{s}", seed_category(s), generator, chain, turns,
                        rule(s, g, c), text=f"{seed_category(s)} 질문 {s}",
                    )
                )  # fmt: skip
    for i in range(CONTROLS):
        out.append(
            attempt(
                f"control-{i}", f"control-{i}", "역사", "direct", "", 1, False,
                text=f"조선 시대 질문 {i}", benign=True, refused=i == 0,
            )
        )  # fmt: skip
    return out


def fingerprint_of(target: str) -> str:
    return "fp-" + hashlib.sha256(target.encode()).hexdigest()[:12]


def store_run(store: Store, name: str, target: str, attempts: Sequence[AttemptRecord]) -> str:
    """A completed red-team run of campaign ``name`` against ``target`` holding ``attempts``."""
    config = {"campaign": name}
    run = store.start_run("redteam", target, fingerprint_of(target), config, {}, name=name)
    add_attempts(store, run, attempts)
    store.add_results(run, summary_results(attempts))
    store.finish_run(run)
    return run
