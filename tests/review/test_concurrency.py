"""Labels are never lost or doubled: reviewers in separate processes label at once, on
SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from tests.review.conftest import PASSWORD, build_setup
from tests.review.workers import review_everything, submit_same

from haechi.review.accounts import DATABASE_OWNER
from haechi.review.queue import next_item
from haechi.review.results import campaign_results
from haechi.store import open_store

pytestmark = pytest.mark.slow


def test_concurrent_reviewers_store_every_label_exactly_once(db_url: str) -> None:
    reviewers, items, overlap = 5, 40, 3
    with open_store(db_url) as store:
        build_setup(store, items=items, reviewers=reviewers, overlap=overlap)
    context = multiprocessing.get_context("spawn")
    with context.Pool(reviewers) as pool:
        done = pool.starmap(
            review_everything, [(db_url, f"rev{i}", PASSWORD) for i in range(reviewers)]
        )
    with open_store(db_url) as store:
        results = campaign_results(store, "camp", DATABASE_OWNER)
    per_item = Counter(len(item.labels) for item in results.items)
    assert per_item == {overlap: items}  # every item got exactly `overlap` labels
    assert sum(done) == items * overlap
    for item in results.items:
        reviewers_of_item = [label.reviewer for label in item.labels]
        assert len(set(reviewers_of_item)) == len(reviewers_of_item)


def test_racing_double_submits_keep_one_label(db_url: str) -> None:
    with open_store(db_url) as store:
        setup = build_setup(store, items=1, reviewers=1, overlap=1)
        item = next_item(store, "camp", setup.reviewers[0])
    assert item is not None
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        created = pool.starmap(
            submit_same, [(db_url, "rev0", PASSWORD, item, s) for s in ("1", "1", "1", "1")]
        )
    assert created.count(True) == 1
    with open_store(db_url) as store:
        (only,) = campaign_results(store, "camp", DATABASE_OWNER).items
    assert len(only.labels) == 1
