"""What the queue promises, kept when reviewers skip, flag and come back: an item gets at
most ``overlap`` labels, a flag stays until an admin adjudicates, and looking at the
queue claims nothing — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from tests.review.conftest import ReviewSetup, build_setup
from tests.review.test_workflow import LABEL, label_all

from haechi.errors import InputError
from haechi.review.labels import disagreements, set_gold, submit_label, view_item
from haechi.review.queue import current_item, has_work, leave_item, next_item
from haechi.review.results import campaign_results
from haechi.store import open_store
from haechi.store.review_schema import ReviewAssignment


def labels_on(setup: ReviewSetup, item: int) -> list[str]:
    results = campaign_results(setup.store, "camp", setup.admin)
    return [label.reviewer for i in results.items if i.id == item for label in i.labels]


def test_a_skipped_item_takes_no_label_from_who_skipped_it(review: ReviewSetup) -> None:
    a = review.reviewers[0]
    item = next_item(review.store, "camp", a)
    assert item is not None
    leave_item(review.store, "camp", item, a, "skipped")
    label_all(review, 1, LABEL)
    label_all(review, 2, LABEL)  # the slot a gave back went to these two (overlap 2)
    with pytest.raises(InputError, match="skipped"):
        submit_label(review.store, "camp", item, a, LABEL)
    assert view_item(review.store, "camp", item, a).given_back
    assert sorted(labels_on(review, item)) == ["rev1", "rev2"]


def test_a_flag_stays_until_an_admin_adjudicates(review: ReviewSetup) -> None:
    a = review.reviewers[0]
    item = next_item(review.store, "camp", a)
    assert item is not None
    leave_item(review.store, "camp", item, a, "flagged")
    leave_item(review.store, "camp", item, a, "skipped")  # a later skip keeps the flag
    with pytest.raises(InputError, match="flagged"):
        submit_label(review.store, "camp", item, a, LABEL)
    label_all(review, 1, LABEL)
    label_all(review, 2, LABEL)  # two labels that agree: only the flag keeps it disputed
    assert sorted(labels_on(review, item)) == ["rev1", "rev2"]
    assert item in disagreements(review.store, "camp", review.admin)
    set_gold(review.store, "camp", item, review.admin, LABEL)
    assert item not in disagreements(review.store, "camp", review.admin)


def test_looking_at_the_queue_claims_nothing(review: ReviewSetup) -> None:
    a = review.reviewers[0]

    def assignments() -> int:
        return int(
            review.store.transact(lambda s: s.scalar(select(func.count(ReviewAssignment.id))))
        )

    for _ in range(2):
        assert has_work(review.store, "camp", a) and current_item(review.store, "camp", a) is None
    assert assignments() == 0
    item = next_item(review.store, "camp", a)
    assert current_item(review.store, "camp", a) == item and assignments() == 1


def test_work_left_counts_abandoned_slots_as_free(db_url: str) -> None:
    with open_store(db_url) as store:
        setup = build_setup(store, items=1, reviewers=2, overlap=1)
        a, b = setup.reviewers
        item = next_item(store, "camp", a)
        assert not has_work(store, "camp", b)  # the one slot is a's
        old = datetime.now(UTC) - timedelta(hours=3)
        store.transact(
            lambda s: s.execute(update(ReviewAssignment).values(assigned_at=old)), write=True
        )
        assert has_work(store, "camp", b) and next_item(store, "camp", b) == item
