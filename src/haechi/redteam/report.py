"""Campaign reports: numbers with intervals, as data, JSON and a self-contained HTML page."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2

from haechi.errors import InputError
from haechi.redteam.metrics import Comparison, Rate, TurnRow, asr_by_turn, breakdown, rate, refused
from haechi.redteam.plan import DIMENSIONS
from haechi.store import RunNotFoundError, RunRecord, Store
from haechi.store.attempts import AttemptRecord, load_attempts

MULTI_TURN = ("pair", "crescendo", "tap")
"""Generators whose attempts run over turns (their label's first part)."""


@dataclass(frozen=True)
class CampaignReport:
    """Everything ``haechi redteam report`` shows about one run of a campaign."""

    run: RunRecord
    attempts: list[AttemptRecord]

    @property
    def attacks(self) -> list[AttemptRecord]:
        return [a for a in self.attempts if not a.benign]

    @property
    def controls(self) -> list[AttemptRecord]:
        return [a for a in self.attempts if a.benign]

    @property
    def asr(self) -> Rate:
        return rate(bool(a.success) for a in self.attacks)

    @property
    def over_refusal(self) -> Rate:
        return rate(refused(a) for a in self.controls)

    def over_refusal_by(self, dimension: str) -> dict[str, Rate]:
        """Over-refusal per ``category`` (the harm category a control resembles) or per
        ``topic`` (history, medicine, law, minority, ... of the bundled controls)."""
        keys = {
            "category": lambda a: a.category,
            "topic": lambda a: str(a.chain.get("seed", {}).get("meta", {}).get("topic", "(none)")),
        }
        groups: dict[str, list[bool]] = {}
        for a in self.controls:
            groups.setdefault(keys[dimension](a), []).append(refused(a))
        return {k: rate(v) for k, v in sorted(groups.items())}

    def by(self, dimension: str) -> dict[str, Rate]:
        """ASR per ``category``, ``converters``, ``generator`` or ``turns``."""
        keys = {
            "category": lambda a: a.category,
            "converters": lambda a: a.converters or "(none)",
            "generator": lambda a: a.generator,
            "turns": lambda a: str(a.turns),
        }
        return breakdown(self.attacks, keys[dimension])

    def by_turn_reached(self) -> dict[str, list[TurnRow]]:
        """ASR by turn reached (``metrics.asr_by_turn``) per multi-turn generator."""
        groups: dict[str, list[AttemptRecord]] = {}
        for a in self.attacks:
            if a.generator.partition(":")[0] in MULTI_TURN:
                groups.setdefault(a.generator, []).append(a)
        return {name: asr_by_turn(group) for name, group in sorted(groups.items())}

    def detector_rates(self) -> dict[str, Rate]:
        """How often each detector called an attack a success."""
        names = sorted({v.detector for a in self.attacks for v in a.verdicts})
        return {
            n: rate(v.success for a in self.attacks for v in a.verdicts if v.detector == n)
            for n in names
        }

    def coverage(self) -> dict[str, Any]:
        """The run's plan (``plan.coverage``) against the attacks stored now; empty for runs
        stored without a plan. PAIR attempts are outside the plan."""
        plan = self.run.config.get("plan")
        if not plan:
            return {}
        out: dict[str, Any] = {"planned": plan["planned"], "covered": 0}
        for d in DIMENSIONS:
            out[d] = {label: [0, cell[1]] for label, cell in plan.get(d, {}).items()}
        for a in self.attacks:
            stratum = a.chain.get("stratum")
            if not stratum:
                continue
            out["covered"] += 1
            for d in DIMENSIONS:
                if (cell := out[d].get(stratum[d])) is not None:
                    cell[0] += 1
        return out

    @property
    def cost(self) -> dict[str, float]:
        return {
            "prompt_tokens": sum(a.prompt_tokens for a in self.attempts),
            "completion_tokens": sum(a.completion_tokens for a in self.attempts),
            "seconds": round(sum(a.seconds for a in self.attempts), 3),
        }

    def to_json(self) -> dict[str, Any]:
        def rates(values: dict[str, Rate]) -> dict[str, Any]:
            return {k: _rate_json(r) for k, r in values.items()}

        return {
            "campaign": self.run.name,
            "run_id": self.run.id,
            "status": self.run.status,
            "target": self.run.model_spec,
            "target_fingerprint": self.run.model_fingerprint,
            "attempts": len(self.attempts),
            "asr": _rate_json(self.asr),
            "over_refusal": _rate_json(self.over_refusal),
            "over_refusal_by_category": rates(self.over_refusal_by("category")),
            "over_refusal_by_topic": rates(self.over_refusal_by("topic")),
            "by_category": rates(self.by("category")),
            "by_converters": rates(self.by("converters")),
            "by_generator": rates(self.by("generator")),
            "by_turns": rates(self.by("turns")),
            "asr_by_turn": {
                name: [
                    {"turn": r.turn, "reached": r.reached, "succeeded": r.succeeded}
                    | {"asr": _rate_json(r.asr)}
                    for r in rows
                ]
                for name, rows in self.by_turn_reached().items()
            },
            "detectors": rates(self.detector_rates()),
            "coverage": self.coverage(),
            "cost": self.cost,
            "config": self.run.config,
        }


def _rate_json(r: Rate) -> dict[str, Any]:
    low, high = r.interval
    return {"successes": r.successes, "n": r.n, "rate": r.value, "ci95": [low, high]}


def latest_run(store: Store, name: str) -> RunRecord:
    """The newest run of campaign ``name`` (completed or not)."""
    for run in store.list_runs(kind="redteam", limit=None):
        if run.name == name:
            return run
    known = sorted({r.name or "" for r in store.list_runs(kind="redteam", limit=None)})
    raise InputError(
        f"no stored run of campaign {name!r}",
        field="campaign",
        hint=f"stored campaigns: {', '.join(known) or 'none yet (haechi redteam run FILE)'}",
    )


def build_report(store: Store, name: str) -> CampaignReport:
    run = latest_run(store, name)
    return CampaignReport(run, load_attempts(store, run.id))


def stored_rates(run: RunRecord) -> dict[str, Rate]:
    """The ``asr`` and ``over_refusal`` a completed run stored (``metrics.summary_results``),
    without reading its attempts; empty for a run still going."""
    return {
        r.metric: Rate(round(r.value * r.n), r.n)
        for r in run.results
        if r.task == "redteam" and r.n
    }


def run_report(store: Store, run_id: str) -> CampaignReport:
    """The report of the stored red-team run ``run_id`` (``RunNotFoundError`` when there
    is none, or the run is of another kind)."""
    run = store.get_run(run_id)
    if run.kind != "redteam":
        raise RunNotFoundError(run_id)
    return CampaignReport(run, load_attempts(store, run_id))


def compare(a: CampaignReport, b: CampaignReport) -> list[tuple[str, Comparison]]:
    """ASR of B against A, overall and per category (categories either one attacked)."""
    rows = [("overall", Comparison(a.asr, b.asr))]
    cats_a, cats_b = a.by("category"), b.by("category")
    for category in sorted(set(cats_a) | set(cats_b)):
        rows.append(
            (
                category,
                Comparison(cats_a.get(category, Rate(0, 0)), cats_b.get(category, Rate(0, 0))),
            )
        )
    rows.append(("over-refusal", Comparison(a.over_refusal, b.over_refusal)))
    return rows


def render_html(report: CampaignReport, examples: int = 5) -> str:
    """A self-contained page: tables, inline SVG bars, and a few successful attacks. Every
    piece of model or attack text is escaped (autoescape; no ``|safe`` on model text)."""
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template), autoescape=True, undefined=jinja2.StrictUndefined
    )
    successful = [a for a in report.attacks if a.success][:examples]
    return environment.get_template("report.html.j2").render(
        report=report,
        data=report.to_json(),
        sections=[
            ("category", "Harm category"),
            ("converters", "Converters"),
            ("generator", "Generator"),
            ("turns", "Turns"),
        ],
        examples=successful,
    )


def _template(name: str) -> str:
    return resources.files("haechi.redteam").joinpath("templates", name).read_text("utf-8")
