"""Running a campaign: send every planned attempt, judge it, store it; resumable.

A killed (or failed) run, started again with the same campaign file and target, takes over
its stored record, skips every attempt already stored and sends only the rest; a completed
one is reported complete and nothing is sent, unless a new run is asked for.

Single-turn attempts go through a bounded window (``window.Window``): ``concurrency``
attempts are in flight at once, and each finished one is judged and stored (with its
verdicts, in one transaction with whatever else finished meanwhile) while the target works
on the next. None is half-stored; the ones in flight when a run is killed are sent again
on resume.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haechi.errors import InputError
from haechi.models import (
    ChatMessage,
    Generation,
    GenerationRequest,
    LanguageModel,
    load,
    serves_concurrent_calls,
)
from haechi.progress import progress_bar
from haechi.redteam.campaign import CampaignSpec, TargetSpec
from haechi.redteam.combine import combine_verdicts
from haechi.redteam.conversation import run_conversations
from haechi.redteam.detectors import build_detector
from haechi.redteam.generators import Attack, red_lm_cases
from haechi.redteam.metrics import summary_results
from haechi.redteam.pair import pair_key, run_pair
from haechi.redteam.plan import (
    PlannedAttempt,
    Stratum,
    control_attempts,
    coverage,
    expand,
    interleave,
    load_seeds,
    single_turn_attacks,
    within_budget,
)
from haechi.redteam.refusal import RefusalDetector
from haechi.redteam.types import DetectionInput, Detector, Seed, Verdict
from haechi.redteam.window import Done, Window
from haechi.store import RunRecord, Store
from haechi.store.attempts import (
    AttemptRecord,
    VerdictRecord,
    add_attempts,
    attempt_keys,
    load_attempts,
)
from haechi.versions import package_versions

log = logging.getLogger(__name__)
Loader = Callable[[str, dict[str, Any]], LanguageModel]


@dataclass(frozen=True)
class CampaignRun:
    """What one ``Campaign.run`` did. ``coverage`` (``plan.coverage``) counts the stored
    single-turn attempts against the whole plan; ``complete`` says the run had finished
    before, so nothing was sent."""

    run_id: str
    sent: int
    skipped: int
    budget_exhausted: bool
    coverage: dict[str, Any]
    complete: bool = False


class Campaign:
    """A campaign ready to run: its spec, its models and its detectors."""

    def __init__(self, spec: CampaignSpec, base_dir: Path, *, loader: Loader | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir
        try:  # the data first: a bad seed entry fails before any model loads
            self.seed_sets, self.controls = load_seeds(spec, base_dir)
        except InputError as exc:
            raise spec.locate(exc) from None
        load_model = loader or (lambda s, a: load(s, **a))
        self.target = load_model(spec.target.model, _target_args(spec))
        if spec.mitigation:
            from haechi.guard import apply_guard

            try:
                self.target = apply_guard(
                    self.target, spec.mitigation, base_dir=base_dir, field="mitigation"
                )
            except InputError as exc:
                raise spec.locate(exc) from None
        try:
            self.detectors: list[Detector] = [
                build_detector(d, where=f"detectors[{i}]") for i, d in enumerate(spec.detectors)
            ]
        except InputError as exc:
            raise spec.locate(exc) from None
        self.refusal = next((d for d in self.detectors if d.name == "refusal"), RefusalDetector())
        self.attackers: dict[str, LanguageModel] = {}
        for m, a in (pair for g in spec.generators for pair in g.models()):
            if m not in self.attackers:  # one load per spec: attackers and TAP's judge
                self.attackers[m] = load_model(m, a)
        self.converter_model = (
            load_model(spec.converter_model, {}) if spec.converter_model else None
        )
        self.tokens_used = 0
        self._tokens_lock = threading.Lock()  # window workers add their replies' tokens

    def run(self, store: Store, *, progress: bool = True, new_run: bool = False) -> CampaignRun:
        """Send, judge and store every attempt not stored yet; returns what was done.

        A completed run of the same campaign and target is not sent again (``complete``)
        unless ``new_run``, which starts a fresh run whatever is stored."""
        previous = None if new_run else self._previous_run(store)
        if previous is not None and previous.status == "completed":
            stored = attempt_keys(store, previous.id)
            plan = previous.config.get("plan", {})
            return CampaignRun(previous.id, 0, len(stored), False, plan, complete=True)
        seeds = [s for seed_set in self.seed_sets for s in seed_set.seeds]
        attacks = self._plan(seeds)
        selected = within_budget(attacks, self.spec.budget.max_attempts, self.spec.seed)
        planned = interleave(selected, control_attempts(self.controls))
        plan = coverage(attacks, {p.key for p in selected})
        run_id = previous.id if previous is not None else self._start(store, plan)
        if previous is not None and previous.status == "failed":
            store.reopen_run(run_id)
        done = attempt_keys(store, run_id)
        self.tokens_used = sum(
            a.prompt_tokens + a.completion_tokens for a in load_attempts(store, run_id)
        )
        try:
            pending = [p for p in planned if p.key not in done]
            pair_seeds = [s for s in seeds if pair_key(s) not in done]
            pair = next((g for g in self.spec.generators if g.type == "pair"), None)
            total = len(pending) + (len(pair_seeds) if pair else 0)
            with progress_bar("attacking", total, show=progress) as advance:
                exhausted = self._send_all(store, run_id, pending, advance)
                if pair is not None and not exhausted:
                    attacker = self.attackers[pair.model or ""]
                    for start in range(0, len(pair_seeds), self.spec.concurrency):
                        if self._over_budget():
                            exhausted = True
                            break
                        chunk_seeds = pair_seeds[start : start + self.spec.concurrency]
                        add_attempts(store, run_id, run_pair(self, chunk_seeds, attacker, pair))
                        advance(len(chunk_seeds))
            if not exhausted:  # Crescendo, TAP: turn by turn, each turn kept (conversation.py)
                exhausted = run_conversations(self, store, run_id, seeds, done, progress=progress)
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt):
                store.finish_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
            raise
        store.add_results(run_id, summary_results(load_attempts(store, run_id)))
        store.finish_run(run_id, status="completed")
        sent_keys = attempt_keys(store, run_id)
        return CampaignRun(
            run_id,
            len(sent_keys) - len(done),  # what the token budget let through, PAIR included
            len(done),
            exhausted,
            coverage(attacks, sent_keys),
        )

    # -- planning ---------------------------------------------------------------------

    def _plan(self, seeds: Sequence[Seed]) -> list[PlannedAttempt]:
        """Every single-turn attempt of the campaign, before the budget."""
        extra: list[tuple[Attack, Stratum]] = []
        for g in self.spec.generators:
            if g.type == "red_lm":
                cases = red_lm_cases(
                    self.attackers[g.model or ""], seeds, mode=g.mode, per_category=g.per_category,
                    shots=g.shots, temperature=g.temperature, max_new_tokens=g.max_new_tokens,
                    seed=self.spec.seed,
                )  # fmt: skip
                extra += [(Attack(c, g.label, c.text), Stratum("red_lm", g.label)) for c in cases]
        attacks = single_turn_attacks(self.spec, self.seed_sets, extra)
        return expand(self.spec, attacks, self.converter_model)

    def _previous_run(self, store: Store) -> RunRecord | None:
        """The newest stored run of this campaign (same fingerprint) against this target."""
        fingerprint = self.spec.fingerprint()
        for run in store.list_runs(kind="redteam", limit=None):
            if (
                run.name == self.spec.name
                and run.config.get("campaign_fingerprint") == fingerprint
                and run.model_fingerprint == self.target.fingerprint
            ):
                if run.status != "completed":
                    log.info("resuming run %s of campaign %s", run.id, self.spec.name)
                return run
        return None

    def _start(self, store: Store, plan: dict[str, Any]) -> str:
        config = {
            "campaign": self.spec.model_dump(mode="json"),
            "campaign_fingerprint": self.spec.fingerprint(),
            "target": self.target.describe(),
            "plan": plan,
        }
        return store.start_run(
            "redteam", self.target.name, self.target.fingerprint, config, package_versions(),
            name=self.spec.name,
        )  # fmt: skip

    def _over_budget(self) -> bool:
        limit = self.spec.budget.max_tokens
        return limit is not None and self.tokens_used >= limit

    # -- sending and judging ----------------------------------------------------------

    def _send_all(
        self,
        store: Store,
        run_id: str,
        pending: Sequence[PlannedAttempt],
        advance: Callable[[int], None],
    ) -> bool:
        """Send ``pending`` through the window, judging and storing what comes back as it
        comes; returns whether the token budget stopped it."""
        size = self.spec.concurrency
        concurrent = serves_concurrent_calls(self.target)
        with Window(
            pending,
            self._generate,
            workers=size if concurrent else 1,
            batch=1 if concurrent else size,
            stop=self._over_budget,
        ) as window:
            for group in window.finished():
                records = self._judged(group)
                add_attempts(store, run_id, records)
                advance(len(records))
        return window.stopped

    def _generate(
        self, chunk: list[PlannedAttempt]
    ) -> list[tuple[tuple[ChatMessage, ...], Generation]]:
        """The target's replies to ``chunk`` (run by a window worker)."""
        conversations = [self.conversation(p.text) for p in chunk]
        replies = self.target.generate([self.request(self.spec.target, c) for c in conversations])
        with self._tokens_lock:
            self.tokens_used += sum(r.prompt_tokens + r.completion_tokens for r in replies)
        return list(zip(conversations, replies, strict=True))

    def _judged(
        self, group: Sequence[Done[PlannedAttempt, tuple[tuple[ChatMessage, ...], Generation]]]
    ) -> list[AttemptRecord]:
        """Every detector on the replies that came back together; their attempt records."""
        sent = [
            (p, conversation, reply, done.seconds / len(done.items))
            for done in group
            for p, (conversation, reply) in zip(done.items, done.results, strict=True)
        ]
        verdicts = self.judge([DetectionInput(p.attack.seed, c, r.text) for p, c, r, _ in sent])
        records = []
        for (p, conversation, reply, seconds), judged in zip(sent, verdicts, strict=True):
            chain = {
                "seed": p.attack.seed.record(),
                "stratum": p.stratum.record(),
                "generator": p.attack.generator,
                "attack": p.attack.text,
                "converters": list(p.chain),
                "turns": [_message_json(m) for m in conversation]
                + [{"role": "assistant", "content": reply.text}],
                "response": reply.text,
                "finish_reason": reply.finish_reasons[0],
            }
            records.append(
                self.record(
                    p.key,
                    p.attack.seed,
                    p.attack.generator,
                    p.chain,
                    1,
                    chain,
                    judged,
                    reply,
                    seconds,
                )
            )
        return records

    def judge(self, items: Sequence[DetectionInput]) -> list[list[Verdict]]:
        """Every detector on every item, each verdict naming the turn it judged; controls
        also get the refusal check (over-refusal)."""
        per_detector = [d.detect(items) for d in self.detectors]
        judged = (
            [list(vs) for vs in zip(*per_detector, strict=True)]
            if per_detector
            else [[] for _ in items]
        )
        if self.refusal not in self.detectors:
            controls = [i for i, item in enumerate(items) if item.seed.benign]
            for i, verdict in zip(
                controls, self.refusal.detect([items[i] for i in controls]), strict=True
            ):
                judged[i].append(verdict)
        return [
            [dataclasses.replace(v, turn=item.turn) for v in verdicts]
            for item, verdicts in zip(items, judged, strict=True)
        ]

    def decide(self, verdicts: Sequence[Verdict]) -> bool:
        decisive = [v for v in verdicts if v.detector in {d.name for d in self.detectors}]
        return combine_verdicts(decisive, self.spec.decision, "decision").success

    def record(
        self,
        key: str,
        seed: Seed,
        generator: str,
        chain_names: Sequence[str],
        turns: int,
        chain: dict[str, Any],
        verdicts: Sequence[Verdict],
        reply: Generation,
        seconds: float,
    ) -> AttemptRecord:
        return AttemptRecord(
            key=key,
            seed_id=seed.id,
            category=seed.category,
            benign=seed.benign,
            generator=generator,
            converters="+".join(chain_names),
            turns=turns,
            success=self.decide(verdicts),
            chain=chain,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            seconds=seconds,
            verdicts=tuple(
                VerdictRecord(
                    detector=v.detector,
                    success=v.success,
                    score=v.score,
                    labels=v.labels,
                    raw=v.raw,
                    turn=v.turn,
                )
                for v in verdicts
            ),
        )

    def conversation(self, prompt: str) -> tuple[ChatMessage, ...]:
        system = self.spec.target.system_prompt
        user = ChatMessage("user", prompt)
        return (ChatMessage("system", system), user) if system else (user,)

    @staticmethod
    def request(target: TargetSpec, conversation: tuple[ChatMessage, ...]) -> GenerationRequest:
        return GenerationRequest(
            messages=conversation,
            max_new_tokens=target.max_new_tokens,
            temperature=target.temperature,
            top_p=target.top_p,
            seed=target.seed,
        )


def _target_args(spec: CampaignSpec) -> dict[str, Any]:
    args = dict(spec.target.model_args)
    if spec.target.model.startswith("openai/"):
        args.setdefault("concurrency", spec.concurrency)
    return args


def _message_json(message: ChatMessage) -> dict[str, str]:
    return {"role": message.role, "content": message.content}
