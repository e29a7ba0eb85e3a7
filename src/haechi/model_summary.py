"""One model's release view: everything the store knows about one model fingerprint.

Its leaderboard scores (full and partial runs), the judge runs that graded its outputs
(``haechi judge geval --subject``), its red-team campaigns' ASR and over-refusal, the
human labels on the attempts imported from those campaigns, and its rating in side-by-side
votes. Human labels and votes are read as ``account``: only admins read every label, so
a reviewer's summary leaves them out (``labels_hidden``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from haechi.arena import ModelRating, RatingOptions, Ratings, rate
from haechi.errors import InputError
from haechi.evaluate.leaderboard import Leaderboard, LeaderboardRow, leaderboard
from haechi.redteam.metrics import Rate
from haechi.redteam.report import CampaignReport
from haechi.review.accounts import Account
from haechi.review.arena import campaign_votes
from haechi.review.campaigns import list_campaigns
from haechi.review.imports import redteam_source
from haechi.review.results import campaign_results
from haechi.review.summary import CategoryRates, summarize
from haechi.store import RunNotFoundError, RunRecord, Store
from haechi.store.attempts import load_attempts

ARENA_ROUNDS = 200


@dataclass(frozen=True)
class ModelEntry:
    """A model seen in the store: its fingerprint, the specs it ran under, its runs."""

    fingerprint: str
    specs: list[str]
    runs: int
    kinds: list[str]


@dataclass(frozen=True)
class RedteamResult:
    """One red-team run against the model: ASR over attacks and per category (Wilson)."""

    run: RunRecord
    asr: Rate
    over_refusal: Rate
    by_category: dict[str, Rate]


@dataclass(frozen=True)
class HumanResult:
    """Human labels on this model's attempts in one review campaign."""

    campaign: str
    items: int
    overall: CategoryRates | None
    rates: list[CategoryRates]


@dataclass(frozen=True)
class ArenaResult:
    """This model's rating in one side-by-side campaign, and every model's there."""

    campaign: str
    rating: ModelRating
    ratings: Ratings


@dataclass(frozen=True)
class ModelSummary:
    fingerprint: str
    specs: list[str]
    board: Leaderboard
    row: LeaderboardRow | None
    partial_rows: list[LeaderboardRow]
    against: LeaderboardRow | None
    eval_runs: list[RunRecord]
    judge_runs: list[RunRecord]
    redteam: list[RedteamResult]
    human: list[HumanResult] = field(default_factory=list)
    arena: list[ArenaResult] = field(default_factory=list)
    labels_hidden: bool = False


def list_models(store: Store) -> list[ModelEntry]:
    """Every fingerprint with evaluation or red-team runs, newest run first."""
    entries: dict[str, tuple[list[str], int, list[str]]] = {}
    for run in store.list_runs(limit=None):
        if run.kind not in ("eval", "redteam"):
            continue
        specs, count, kinds = entries.setdefault(run.model_fingerprint, ([], 0, []))
        if run.model_spec not in specs:
            specs.append(run.model_spec)
        if run.kind not in kinds:
            kinds.append(run.kind)
        entries[run.model_fingerprint] = (specs, count + 1, kinds)
    return [ModelEntry(fp, s, n, sorted(k)) for fp, (s, n, k) in entries.items()]


def model_summary(
    store: Store, fingerprint: str, account: Account, *, against: str | None = None
) -> ModelSummary:
    """The release view of ``fingerprint`` (``RunNotFoundError`` when no run has it);
    ``against``: the fingerprint to chart its scores against (default: the best other
    ranked model)."""
    runs = [r for r in store.list_runs(limit=None) if r.model_fingerprint == fingerprint]
    if not runs:
        raise RunNotFoundError(fingerprint)
    specs = list(dict.fromkeys(r.model_spec for r in runs))
    board = leaderboard(store, include_partial=True)
    mine = [r for r in board.rows if r.model_fingerprint == fingerprint]
    row = next((r for r in mine if r.partial is None), None)
    others = [r for r in board.rows if r.model_fingerprint != fingerprint and r.partial is None]
    chosen = next((r for r in others if r.model_fingerprint == against), None)
    redteam = [_redteam(store, r) for r in runs if r.kind == "redteam"]
    judged = [
        r
        for r in store.list_runs(kind="judge", limit=None)
        if r.config.get("subject") in (fingerprint, *specs)
    ]
    summary = ModelSummary(
        fingerprint=fingerprint,
        specs=specs,
        board=board,
        row=row,
        partial_rows=[r for r in mine if r.partial is not None],
        against=chosen if against else (others[0] if others else None),
        eval_runs=[r for r in runs if r.kind == "eval"],
        judge_runs=judged,
        redteam=redteam,
    )
    if not account.is_admin:
        return replace(summary, labels_hidden=True)
    sources = {redteam_source(r.run.id) for r in redteam}
    return replace(
        summary,
        human=_human(store, account, sources),
        arena=_arena(store, account, set(specs)),
    )


def _redteam(store: Store, run: RunRecord) -> RedteamResult:
    report = CampaignReport(run, load_attempts(store, run.id))
    return RedteamResult(run, report.asr, report.over_refusal, report.by("category"))


def _human(store: Store, account: Account, sources: set[str]) -> list[HumanResult]:
    found = []
    for info in list_campaigns(store, account):
        results = campaign_results(store, info.name, account)
        items = [i for i in results.items if i.source in sources]
        if not items:
            continue
        summary = summarize(replace(results, items=items))
        found.append(HumanResult(info.name, len(items), summary.overall, summary.rates))
    return found


def _arena(store: Store, account: Account, specs: set[str]) -> list[ArenaResult]:
    found = []
    for info in list_campaigns(store, account):
        votes = campaign_votes(campaign_results(store, info.name, account))
        if not any(v.model_a in specs or v.model_b in specs for v in votes):
            continue
        ratings = rate(votes, RatingOptions(rounds=ARENA_ROUNDS))
        mine = next(r for r in ratings.ratings if r.model in specs)
        found.append(ArenaResult(info.name, mine, ratings))
    return found


def find_model(store: Store, name: str) -> str:
    """The fingerprint ``name`` means: a fingerprint, a unique prefix of one, or a model
    spec (its newest run's fingerprint); ``InputError`` naming the stored models
    otherwise."""
    models = list_models(store)
    exact = [m.fingerprint for m in models if m.fingerprint == name or name in m.specs[:1]]
    if not exact:
        exact = [m.fingerprint for m in models if name in m.specs]
    prefixed = [m.fingerprint for m in models if m.fingerprint.startswith(name)]
    found = exact or prefixed
    if len(found) == 1 or (exact and found):
        return found[0]
    known = ", ".join(f"{m.specs[0]} ({m.fingerprint[:12]})" for m in models[:10])
    raise InputError(
        f"{'several' if found else 'no'} stored models match {name!r}",
        field="model",
        hint=f"stored models: {known or 'none yet (haechi eval ...)'}",
    )
