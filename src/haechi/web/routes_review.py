"""Reviewer pages: campaigns, the queue, an item with its label form, skip and flag.

Only POSTs change state: ``GET /c/{c}/next`` shows the open item or a button, and ``POST
/c/{c}/next`` (like submitting, skipping or flagging) claims the next item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from haechi.errors import InputError
from haechi.review.campaigns import list_campaigns
from haechi.review.label_schema import LabelSchema
from haechi.review.labels import ItemView, my_labelled_items, submit_label, view_item
from haechi.review.queue import current_item, has_work, leave_item, next_item
from haechi.web.app import Viewer, ViewerDep, checked_form, redirect, render, state
from haechi.web.i18n import translate

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
    item = view_item(state(request).store, campaign, item_id, who.account)
    return item_response(request, who, item)


def item_response(
    request: Request,
    who: Viewer,
    item: ItemView,
    posted: PostedLabel | None = None,
    error: InputError | None = None,
) -> Response:
    """The item page; after a refused ``posted`` label, the form as it was sent with the
    ``error`` at its field (status 400)."""
    labelled = my_labelled_items(state(request).store, item.campaign, who.account)
    before, after = _neighbours(labelled, item.id)
    values = posted.values if posted else (item.mine.values if item.mine else {})
    return render(
        request,
        "item.html",
        who,
        400 if error else 200,
        item=item,
        schema=item.label_schema,
        values=values,
        flagged=posted.flagged if posted else bool(item.mine and item.mine.flagged),
        error=field_error(item.label_schema, values, error, who),
        previous_url=campaign_url(item.campaign, "items", before) if before else None,
        next_url=campaign_url(item.campaign, "items", after)
        if after
        else campaign_url(item.campaign, "next"),
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


@dataclass(frozen=True)
class PostedLabel:
    """A label form as posted: the item's schema fields (raw) and the flag box."""

    item: ItemView
    values: dict[str, Any]
    flagged: bool


@dataclass(frozen=True)
class FieldError:
    """What to show at a label form's field that was refused."""

    field: str
    message: str


async def posted_label(request: Request, who: Viewer, campaign: str, item_id: int) -> PostedLabel:
    """The label a form posts for an item (CSRF checked; the fields of the item's schema)."""
    form = await checked_form(request, who)
    item = await run_in_threadpool(view_item, state(request).store, campaign, item_id, who.account)
    values = form_values(item.label_schema, form)
    return PostedLabel(item, values, form.get("flagged") == "on")


def is_field_error(posted: PostedLabel, error: InputError) -> bool:
    """Whether ``error`` is about one of the form's fields (shown on the form itself)."""
    return any(f.name == error.field for f in posted.item.label_schema.fields)


def field_error(
    schema: LabelSchema, values: dict[str, Any], error: InputError | None, who: Viewer
) -> FieldError | None:
    """The refused field of a form showing ``values``, and its message: a missing required
    field says so in the viewer's language, other problems (an unknown option) as the
    library words them."""
    if error is None or error.field is None:
        return None
    missing = schema.field(error.field).required and values.get(error.field) in (None, "", [])
    message = translate("required", who.language) if missing else error.message
    return FieldError(error.field, message)


@router.post("/c/{campaign}/items/{item_id}/label")
async def label(campaign: str, item_id: int, request: Request, who: ViewerDep) -> Response:
    posted = await posted_label(request, who, campaign, item_id)
    try:
        await run_in_threadpool(
            submit_label,
            state(request).store,
            campaign,
            item_id,
            who.account,
            posted.values,
            posted.flagged,
        )
    except InputError as exc:
        if not is_field_error(posted, exc):
            raise
        return await run_in_threadpool(item_response, request, who, posted.item, posted, exc)
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
