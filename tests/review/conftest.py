"""Review fixtures: a store with an admin, reviewers and a campaign of imported items."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from haechi.review.accounts import Account, add_user
from haechi.review.campaigns import CampaignInfo, add_members, create_campaign
from haechi.review.imports import ImportLine, import_lines
from haechi.store import Store, open_store

PASSWORD = "correct horse battery"


@dataclass
class ReviewSetup:
    store: Store
    admin: Account
    reviewers: list[Account]
    campaign: CampaignInfo


def make_lines(n: int) -> list[ImportLine]:
    return [
        ImportLine(
            id=f"item-{i:04d}",
            prompt=f"질문 {i}",
            response=f"답변 {i}",
            category=["privacy", "hate", "weapons"][i % 3],
            verdicts=[{"detector": "refusal", "success": i % 2 == 0}],
            detector_success=i % 2 == 0,
        )
        for i in range(n)
    ]


def build_setup(store: Store, items: int = 6, reviewers: int = 3, overlap: int = 2) -> ReviewSetup:
    admin = add_user(store, "admin", "admin", PASSWORD)
    people = [add_user(store, f"rev{i}", "reviewer", PASSWORD) for i in range(reviewers)]
    campaign = create_campaign(store, "camp", overlap=overlap)
    add_members(store, "camp", [p.username for p in people])
    import_lines(store, campaign, make_lines(items), source="test")
    return ReviewSetup(store, admin, people, campaign)


@pytest.fixture
def review(db_url: str) -> Iterator[ReviewSetup]:
    with open_store(db_url) as store:
        yield build_setup(store)
