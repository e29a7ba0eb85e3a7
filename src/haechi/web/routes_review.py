"""Reviewer pages: campaigns, the queue, an item with its label form, skip and flag.

Only POSTs change state: ``GET /c/{c}/next`` shows the open item or a button, and ``POST
/c/{c}/next`` (like submitting, skipping or flagging) claims the next item.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from haechi.review.campaigns import list_campaigns
from haechi.review.label_schema import LabelSchema
from haechi.review.labels import my_labelled_items, submit_label, view_item
from haechi.review.queue import current_item, has_work, leave_item, next_item
from haechi.web.app import Viewer, ViewerDep, checked_form, redirect, render, state

router = APIRouter()


def campaign_url(name: str, *parts: object) -> str:
    """A campaign page's path; every part is percent-encoded (names come from imports)."""
    return "/".join(["/c", *(quote(str(p), safe="") for p in (name, *parts))])


@router.get("/")
def home(request: Request, who: ViewerDep) -> Response:
    campaigns = list_campaigns(state(request).store, who.account)
    return render(request, "campaigns.html", who, campaigns=campaigns, campaign_url=campaign_url)


@router.get("/c/{campaign}/next")
def next_page(campaign: str, request: Request, who: ViewerDep) -> Response:
    """The item this reviewer has open, else a button that claims one, else "done"."""
    store = state(request).store
    item = current_item(store, campaign, who.account)
    if item is not None:
        return redirect(campaign_url(campaign, "items", item))
    if has_work(store, campaign, who.account):
        return render(request, "next.html", who, campaign=campaign, campaign_url=campaign_url)
    labelled = my_labelled_items(store, campaign, who.account)
    previous = campaign_url(campaign, "items", labelled[-1]) if labelled else None
    return render(request, "done.html", who, campaign=campaign, previous=previous)


@router.post("/c/{campaign}/next")
async def claim_next(campaign: str, request: Request, who: ViewerDep) -> Response:
    await checked_form(request, who)
    return await run_in_threadpool(_go_next, request, campaign, who)


def _go_next(request: Request, campaign: str, who: Viewer) -> Response:
    """Claim the next item and go to it (the queue page says when nothing is left)."""
    item = next_item(state(request).store, campaign, who.account)
    if item is None:
        return redirect(campaign_url(campaign, "next"))
    return redirect(campaign_url(campaign, "items", item))


def _neighbours(labelled: list[int], item_id: int) -> tuple[int | None, int | None]:
    """The labelled items before and after this one (after: ``None`` → the queue)."""
    if item_id in labelled:
        at = labelled.index(item_id)
        before = labelled[at - 1] if at > 0 else None
        after = labelled[at + 1] if at + 1 < len(labelled) else None
        return before, after
    return (labelled[-1] if labelled else None), None


@router.get("/c/{campaign}/items/{item_id}")
def item_page(campaign: str, item_id: int, request: Request, who: ViewerDep) -> Response:
    store = state(request).store
    item = view_item(store, campaign, item_id, who.account)
    before, after = _neighbours(my_labelled_items(store, campaign, who.account), item_id)
    return render(
        request,
        "item.html",
        who,
        item=item,
        schema=item.label_schema,
        values=item.mine.values if item.mine else {},
        previous_url=campaign_url(campaign, "items", before) if before else None,
        next_url=campaign_url(campaign, "items", after)
        if after
        else campaign_url(campaign, "next"),
        campaign_url=campaign_url,
    )


def form_values(schema: LabelSchema, form: Any) -> dict[str, Any]:
    """The schema's fields from a submitted form (checkbox groups give lists)."""
    values: dict[str, Any] = {}
    for field in schema.fields:
        if field.kind == "multi":
            values[field.name] = [str(v) for v in form.getlist(field.name)]
        else:
            values[field.name] = form.get(field.name)
    return values


async def posted_label(
    request: Request, who: Viewer, campaign: str, item_id: int
) -> tuple[dict[str, Any], FormData]:
    """The label a form posts for an item (CSRF checked; the fields of the item's schema)."""
    form = await checked_form(request, who)
    item = await run_in_threadpool(view_item, state(request).store, campaign, item_id, who.account)
    return form_values(item.label_schema, form), form


@router.post("/c/{campaign}/items/{item_id}/label")
async def label(campaign: str, item_id: int, request: Request, who: ViewerDep) -> Response:
    values, form = await posted_label(request, who, campaign, item_id)
    flagged = form.get("flagged") == "on"
    await run_in_threadpool(
        submit_label, state(request).store, campaign, item_id, who.account, values, flagged
    )
    return await run_in_threadpool(_go_next, request, campaign, who)


@router.post("/c/{campaign}/items/{item_id}/{how}")
async def leave(
    campaign: str, item_id: int, how: str, request: Request, who: ViewerDep
) -> Response:
    if how not in ("skip", "flag"):
        return render(request, "error.html", who, 404, message="")
    await checked_form(request, who)
    status: Literal["skipped", "flagged"] = "skipped" if how == "skip" else "flagged"
    await run_in_threadpool(
        leave_item, state(request).store, campaign, item_id, who.account, status
    )
    return await run_in_threadpool(_go_next, request, campaign, who)
