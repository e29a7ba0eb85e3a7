"""Red-team attempts in review: the human decision on each attempt imported from a run,
and sending a chosen set of a run's attempts to a review campaign. Both are for admins
only (``PermissionDenied`` otherwise): decisions are other reviewers' labels, and a
reviewer must not pick what goes into a queue."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select

from haechi.redteam.browse import HumanLabel
from haechi.review.accounts import Account, PermissionDenied
from haechi.review.campaigns import CampaignInfo
from haechi.review.imports import (
    ImportSummary,
    attempt_item_id,
    import_items,
    lines_from_attempts,
    redteam_source,
)
from haechi.review.results import campaign_results
from haechi.review.summary import human_success
from haechi.store import Store
from haechi.store.review_schema import ReviewCampaign, ReviewItem


@dataclass(frozen=True)
class AttemptReview:
    """Where an attempt is reviewed and what the people decided: ``label`` is
    ``success`` / ``no_success`` (gold, else the reviewers' majority on
    ``attack_success``) or ``pending`` (no decision yet)."""

    campaign: str
    item_id: int
    labels: int
    label: HumanLabel


def attempt_reviews(store: Store, account: Account, run_id: str) -> dict[str, AttemptReview]:
    """Attempt key → its review, for every attempt of the run imported into a review
    campaign (the first campaign with a decision wins, else the first by name)."""
    _admin(account)
    source = redteam_source(run_id)
    names = store.transact(
        lambda s: list(
            s.scalars(
                select(ReviewCampaign.name)
                .join(ReviewItem, ReviewItem.campaign_id == ReviewCampaign.id)
                .where(ReviewItem.source == source)
                .distinct()
                .order_by(ReviewCampaign.name)
            )
        )
    )
    prefix = attempt_item_id(run_id, "")
    found: dict[str, AttemptReview] = {}
    for name in names:
        for item in campaign_results(store, name, account).items:
            if item.source != source or not item.external_id.startswith(prefix):
                continue
            decided = human_success(item)
            label: HumanLabel = (
                "pending" if decided is None else "success" if decided else "no_success"
            )
            key = item.external_id[len(prefix) :]
            seen = found.get(key)
            if seen is None or (seen.label == "pending" and label != "pending"):
                found[key] = AttemptReview(name, item.id, len(item.labels), label)
    return found


def send_attempts(
    store: Store,
    account: Account,
    run_id: str,
    keys: Collection[str],
    campaign: str,
    reviewers: Sequence[str] = (),
) -> tuple[CampaignInfo, ImportSummary]:
    """Put the run's attempts ``keys`` (those with a response) into review campaign
    ``campaign``, created with the default schema when new, ``reviewers`` made its
    members. Attempts already there, and those without a response, are ``skipped``
    (``review.imports.import_items``)."""
    _admin(account)
    lines = lines_from_attempts(store, run_id, keys=keys)
    info, summary = import_items(
        store, campaign, lines, redteam_source(run_id), reviewers=reviewers
    )
    return info, replace(summary, skipped=summary.skipped + len(keys) - len(lines))


def _admin(account: Account) -> None:
    if not account.is_admin:
        raise PermissionDenied("only an admin may see or send red-team attempts in review")
