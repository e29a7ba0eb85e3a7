"""Admin pages: dashboard, adjudication, users, exports."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from haechi.arena import RatingOptions, rate
from haechi.errors import InputError
from haechi.review.accounts import PermissionDenied, add_user, list_users, update_user
from haechi.review.arena import campaign_votes
from haechi.review.campaigns import add_members, get_campaign, list_campaigns, members
from haechi.review.exports import FORMATS, export_results
from haechi.review.labels import (
    ItemView,
    correct_label,
    disagreement_previews,
    disagreements,
    set_gold,
    view_item,
)
from haechi.review.results import campaign_results
from haechi.review.summary import agreement_rows, summarize
from haechi.web.app import AdminDep, Viewer, checked_form, redirect, render, state
from haechi.web.routes_review import (
    PostedLabel,
    campaign_url,
    field_error,
    is_field_error,
    posted_label,
)

router = APIRouter()
_MEDIA = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "argilla": "application/x-ndjson",
}


@router.get("/c/{campaign}/dashboard")
def dashboard(campaign: str, request: Request, who: AdminDep) -> Response:
    store = state(request).store
    info = get_campaign(store, campaign, who.account)
    results = campaign_results(store, campaign, who.account)
    summary = summarize(results)
    votes = campaign_votes(results)
    return render(
        request,
        "dashboard.html",
        who,
        info=info,
        summary=summary,
        agreement=agreement_rows(summary, by_category=True),
        formats=FORMATS,
        members=members(store, campaign),
        disputed=len(disagreements(store, campaign, who.account)),
        ratings=rate(votes, RatingOptions(rounds=200)) if votes else None,
        campaign_url=campaign_url,
    )


@router.get("/c/{campaign}/adjudicate")
def adjudication_list(campaign: str, request: Request, who: AdminDep) -> Response:
    items = disagreement_previews(state(request).store, campaign, who.account)
    schema = get_campaign(state(request).store, campaign, who.account).label_schema
    return render(
        request,
        "adjudicate_list.html",
        who,
        campaign=campaign,
        items=items,
        schema=schema,
        campaign_url=campaign_url,
    )


@router.get("/c/{campaign}/adjudicate/{item_id}")
def adjudication_item(campaign: str, item_id: int, request: Request, who: AdminDep) -> Response:
    item = view_item(state(request).store, campaign, item_id, who.account)
    return gold_response(request, who, item)


def gold_response(
    request: Request,
    who: Viewer,
    item: ItemView,
    posted: PostedLabel | None = None,
    error: InputError | None = None,
) -> Response:
    """The adjudication page: every label and the gold form (as posted, after an error)."""
    values = (
        posted.values if posted else item.gold or (item.labels[0].values if item.labels else {})
    )
    return render(
        request,
        "adjudicate_item.html",
        who,
        400 if error else 200,
        item=item,
        schema=item.label_schema,
        values=values,
        error=field_error(item.label_schema, values, error, who),
        campaign_url=campaign_url,
    )


@router.post("/c/{campaign}/adjudicate/{item_id}")
async def save_gold(campaign: str, item_id: int, request: Request, who: AdminDep) -> Response:
    posted = await posted_label(request, who, campaign, item_id)
    try:
        await run_in_threadpool(
            set_gold, state(request).store, campaign, item_id, who.account, posted.values
        )
    except InputError as exc:
        if not is_field_error(posted, exc):
            raise
        return gold_response(request, who, posted.item, posted, exc)
    return redirect(campaign_url(campaign, "adjudicate"))


@router.get("/c/{campaign}/adjudicate/{item_id}/labels/{reviewer}")
def label_correction(
    campaign: str, item_id: int, reviewer: str, request: Request, who: AdminDep
) -> Response:
    item = view_item(state(request).store, campaign, item_id, who.account)
    label = next((x for x in item.labels if x.reviewer == reviewer), None)
    if label is None:
        raise PermissionDenied(f"{reviewer!r} has no label on item {item_id}")
    return correction_response(request, who, item, reviewer, label.values)


def correction_response(
    request: Request,
    who: Viewer,
    item: ItemView,
    reviewer: str,
    values: dict[str, Any],
    error: InputError | None = None,
) -> Response:
    """The form correcting ``reviewer``'s label, showing ``values`` (as posted, after an
    ``error``)."""
    return render(
        request,
        "correct_label.html",
        who,
        400 if error else 200,
        item=item,
        reviewer=reviewer,
        schema=item.label_schema,
        values=values,
        error=field_error(item.label_schema, values, error, who),
        campaign_url=campaign_url,
    )


@router.post("/c/{campaign}/adjudicate/{item_id}/labels/{reviewer}")
async def save_correction(
    campaign: str, item_id: int, reviewer: str, request: Request, who: AdminDep
) -> Response:
    posted = await posted_label(request, who, campaign, item_id)
    try:
        await run_in_threadpool(
            correct_label,
            state(request).store,
            campaign,
            item_id,
            reviewer,
            who.account,
            posted.values,
        )
    except InputError as exc:
        if not is_field_error(posted, exc):
            raise
        return correction_response(request, who, posted.item, reviewer, posted.values, exc)
    return redirect(campaign_url(campaign, "adjudicate", item_id))


@router.get("/c/{campaign}/export")
def export(campaign: str, request: Request, who: AdminDep, fmt: str = "jsonl") -> Response:
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {list(FORMATS)}", field="fmt")
    results = campaign_results(state(request).store, campaign, who.account)
    folder = Path(tempfile.mkdtemp(prefix="haechi-export-"))
    suffix = "argilla.jsonl" if fmt == "argilla" else fmt
    out = export_results(results, fmt, folder / f"{campaign}.{suffix}")

    def cleanup() -> None:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()

    return FileResponse(
        out, media_type=_MEDIA[fmt], filename=out.name, background=BackgroundTask(cleanup)
    )


@router.get("/admin/users")
def users_page(request: Request, who: AdminDep) -> Response:
    store = state(request).store
    campaigns = list_campaigns(store, who.account)
    return render(
        request,
        "users.html",
        who,
        users=list_users(store),
        campaigns=campaigns,
        members={c.name: members(store, c.name) for c in campaigns},
    )


@router.post("/admin/users")
async def create_user(request: Request, who: AdminDep) -> Response:
    form = await checked_form(request, who)
    role = str(form.get("role", "reviewer"))
    await run_in_threadpool(
        add_user,
        state(request).store,
        str(form.get("username", "")),
        role if role in ("admin", "reviewer") else "reviewer",  # type: ignore[arg-type]
        str(form.get("password", "")),
    )
    return redirect("/admin/users")


@router.post("/admin/users/{user_id}")
async def change_user(user_id: int, request: Request, who: AdminDep) -> Response:
    form = await checked_form(request, who)
    role = form.get("role")
    if user_id == who.account.id and (role == "reviewer" or form.get("active") == "no"):
        raise InputError("an admin cannot demote or switch off their own account", field="user")
    await run_in_threadpool(
        update_user,
        state(request).store,
        user_id,
        role=role if role in ("admin", "reviewer") else None,  # type: ignore[arg-type]
        active={"yes": True, "no": False}.get(str(form.get("active"))),
    )
    return redirect("/admin/users")


@router.post("/admin/members")
async def add_campaign_members(request: Request, who: AdminDep) -> Response:
    form = await checked_form(request, who)
    names = [n.strip() for n in str(form.get("usernames", "")).split(",") if n.strip()]
    await run_in_threadpool(add_members, state(request).store, str(form.get("campaign", "")), names)
    return redirect("/admin/users")
