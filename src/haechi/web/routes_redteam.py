"""Red-team pages, for admins only: stored runs, one run's ASR and attempts browser, one
attempt's whole chain, the diff of two runs, and sending a selection to review.

Reviewers get the same 404 as a missing page: the browser shows every detector verdict
and every human decision, and a reviewer who saw them would no longer label blind.
(``/c/<campaign>`` is a *review* campaign; a red-team campaign's runs live here.)
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from haechi.charts import Chart, bar_chart, rates_chart, wilson_point
from haechi.errors import InputError
from haechi.redteam.browse import (
    HUMAN_LABELS,
    OUTCOMES,
    AttemptQuery,
    HumanLabel,
    Kind,
    Outcome,
    facets,
    outcome,
    select_attempts,
)
from haechi.redteam.diff import diff_reports
from haechi.redteam.report import CampaignReport, run_report, stored_rates
from haechi.review.campaigns import list_campaigns
from haechi.review.redteam_items import attempt_reviews, send_attempts
from haechi.store import RunNotFoundError
from haechi.store.attempts import AttemptRecord
from haechi.web.app import AdminDep, Viewer, checked_form, redirect, render, state
from haechi.web.routes_review import campaign_url
from haechi.web.routes_runs import page_of, pretty_json

router = APIRouter()


def attempt_query(
    category: str = "",
    generator: str = "",
    converters: str = "",
    turns: str = "",
    outcome: Outcome | Literal[""] = "",
    label: HumanLabel | Literal[""] = "",
    seed: str = "",
    kind: Kind | Literal[""] = "",
) -> AttemptQuery:
    """The browser's filters from the query string (unknown choices are a 422). The form
    sends ``turns=`` for "all", so ``turns`` is read as text."""
    try:
        reached = int(turns) if turns.strip() else None
    except ValueError:
        raise InputError(
            f"turns must be a whole number, not {turns[:20]!r}", field="turns"
        ) from None
    return AttemptQuery(category, generator, converters, reached, outcome, label, seed, kind)


QueryDep = Annotated[AttemptQuery, Depends(attempt_query)]


@router.get("/redteam")
def redteam_runs(request: Request, who: AdminDep) -> Response:
    runs = state(request).store.list_runs(kind="redteam", limit=None)
    rows = [(run, stored_rates(run)) for run in runs]
    return render(request, "redteam_runs.html", who, rows=rows, runs=runs)


@router.get("/redteam/diff")
def redteam_diff(request: Request, who: AdminDep, a: str = "", b: str = "") -> Response:
    store = state(request).store
    runs = store.list_runs(kind="redteam", limit=None)
    if not (a and b):
        return render(request, "redteam_diff.html", who, runs=runs, diff=None, a=a, b=b)
    if a == b:
        raise InputError("choose two different runs", field="b")
    diff = diff_reports(run_report(store, a), run_report(store, b))
    categories = [(label, c) for label, c in diff.rows if label not in ("overall", "over-refusal")]
    chart = bar_chart(
        "ASR (%)",
        [label for label, _ in categories],
        [[wilson_point(c.a) for _, c in categories], [wilson_point(c.b) for _, c in categories]],
        ["A", "B"],
        domain=(0.0, 1.0),
        scale=100,
    )
    return render(request, "redteam_diff.html", who, runs=runs, diff=diff, chart=chart, a=a, b=b)


@router.get("/redteam/{run_id}")
def redteam_run(
    run_id: str, request: Request, who: AdminDep, query: QueryDep, page: int = 1
) -> Response:
    store = state(request).store
    report, labels, chosen = _chosen(request, who, run_id, query)
    shown, page, pages = page_of(chosen, page)
    return render(
        request,
        "redteam_run.html",
        who,
        report=report,
        categories=report.by("category"),
        chart=_category_chart(report),
        query=query,
        facets=facets(report.attempts),
        outcomes=OUTCOMES,
        human_labels=HUMAN_LABELS,
        attempts=shown,
        matched=len(chosen),
        labels=labels,
        outcome=outcome,
        page=page,
        pages=pages,
        review_campaigns=[c.name for c in list_campaigns(store, who.account)],
    )


@router.get("/redteam/{run_id}/attempts/{key}")
def redteam_attempt(run_id: str, key: str, request: Request, who: AdminDep) -> Response:
    store = state(request).store
    report = run_report(store, run_id)
    attempt = next((a for a in report.attempts if a.key == key), None)
    if attempt is None:
        raise RunNotFoundError(key)
    review = attempt_reviews(store, who.account, run_id).get(key)
    shown = ("seed", "turns", "response", "converters", "generator", "attack")
    rest = {k: v for k, v in attempt.chain.items() if k not in shown}
    return render(
        request,
        "redteam_attempt.html",
        who,
        run=report.run,
        attempt=attempt,
        outcome=outcome(attempt),
        review=review,
        rest=rest,
        rest_text=pretty_json(rest),
        campaign_url=campaign_url,
    )


@router.post("/redteam/{run_id}/review")
async def send_to_review(run_id: str, request: Request, who: AdminDep, query: QueryDep) -> Response:
    """The attempts the filters (in the query string) choose go to the named campaign."""
    form = await checked_form(request, who)
    campaign = str(form.get("campaign") or "").strip()
    reviewers = str(form.get("reviewers") or "").replace(",", " ").split()

    def send() -> str:
        _, _, chosen = _chosen(request, who, run_id, query)
        if not chosen:
            raise InputError("the filters choose no attempt", field="campaign")
        keys = [a.key for a in chosen]
        store = state(request).store
        return send_attempts(store, who.account, run_id, keys, campaign, reviewers)[0].name

    return redirect(campaign_url(await run_in_threadpool(send), "dashboard"))


def _chosen(
    request: Request, who: Viewer, run_id: str, query: AttemptQuery
) -> tuple[CampaignReport, dict[str, HumanLabel], list[AttemptRecord]]:
    """The run's report, the human label per attempt key, and the attempts ``query`` keeps."""
    store = state(request).store
    report = run_report(store, run_id)
    reviews = attempt_reviews(store, who.account, run_id)
    labels = {key: review.label for key, review in reviews.items()}
    return report, labels, select_attempts(report.attempts, query, labels)


def _category_chart(report: CampaignReport) -> Chart | None:
    categories = report.by("category")
    return rates_chart("ASR (%)", categories) if categories else None
