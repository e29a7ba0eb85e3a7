"""The review workflow in the library: queue with overlap, labels exactly once, what each
user may see, adjudication and gold labels — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.review.conftest import PASSWORD, ReviewSetup

from haechi.errors import InputError
from haechi.review.accounts import (
    PermissionDenied,
    add_user,
    authenticate,
    create_session,
    end_session,
    session_for,
)
from haechi.review.campaigns import create_campaign, get_campaign, list_campaigns
from haechi.review.labels import (
    correct_label,
    disagreement_previews,
    disagreements,
    set_gold,
    submit_label,
    view_item,
)
from haechi.review.queue import leave_item, next_item
from haechi.review.results import campaign_results

LABEL = {"attack_success": "yes", "harm_categories": ["privacy_leak"], "severity": "2", "note": ""}


def label_all(setup: ReviewSetup, index: int, values: dict[str, object]) -> list[int]:
    """Reviewer ``index`` labels everything the queue gives them; returns the item ids."""
    who = setup.reviewers[index]
    done = []
    while (item := next_item(setup.store, "camp", who)) is not None:
        submit_label(setup.store, "camp", item, who, values)
        done.append(item)
    return done


def test_each_item_goes_to_overlap_distinct_reviewers(review: ReviewSetup) -> None:
    seen = [label_all(review, i, LABEL) for i in range(3)]
    counts = {item: sum(item in s for s in seen) for s in seen for item in s}
    assert len(counts) == 6 and set(counts.values()) == {2}
    info = get_campaign(review.store, "camp", review.admin)
    assert (info.items, info.labels, info.labelled, info.complete) == (6, 12, 6, 6)


def test_queue_returns_the_open_item_until_it_is_labelled(review: ReviewSetup) -> None:
    who = review.reviewers[0]
    first = next_item(review.store, "camp", who)
    assert next_item(review.store, "camp", who) == first
    submit_label(review.store, "camp", first, who, LABEL)  # type: ignore[arg-type]
    assert next_item(review.store, "camp", who) != first


def test_double_submit_is_idempotent_and_an_edit_updates(review: ReviewSetup) -> None:
    who = review.reviewers[0]
    item = next_item(review.store, "camp", who)
    assert item is not None
    first = submit_label(review.store, "camp", item, who, LABEL)
    again = submit_label(review.store, "camp", item, who, LABEL)
    edited = submit_label(review.store, "camp", item, who, {**LABEL, "severity": "3"})
    assert (first.created, again.created, again.changed, edited.changed) == (
        True,
        False,
        False,
        True,
    )
    results = campaign_results(review.store, "camp", review.admin)
    labels = [label for i in results.items for label in i.labels]
    assert len(labels) == 1 and labels[0].values["severity"] == "3"


def test_labels_are_validated_against_the_schema(review: ReviewSetup) -> None:
    who = review.reviewers[0]
    item = next_item(review.store, "camp", who)
    with pytest.raises(InputError, match="severity"):
        submit_label(review.store, "camp", item, who, {**LABEL, "severity": "9"})  # type: ignore[arg-type]
    with pytest.raises(InputError, match="attack_success"):
        submit_label(review.store, "camp", item, who, {"severity": "1"})  # type: ignore[arg-type]


def test_reviewers_see_only_their_items_and_verdicts_after_labelling(review: ReviewSetup) -> None:
    a, b = review.reviewers[0], review.reviewers[1]
    item = next_item(review.store, "camp", a)
    assert item is not None
    with pytest.raises(PermissionDenied, match="not assigned"):
        view_item(review.store, "camp", item, review.reviewers[2])
    before = view_item(review.store, "camp", item, a)
    assert before.verdicts is None and before.mine is None and before.labels == []
    submit_label(review.store, "camp", item, a, LABEL)
    after = view_item(review.store, "camp", item, a)
    assert after.verdicts is not None and after.mine is not None
    # b gets the same item (overlap 2) and still cannot see a's label or the verdicts
    assert next_item(review.store, "camp", b) == item
    seen_by_b = view_item(review.store, "camp", item, b)
    assert seen_by_b.mine is None and seen_by_b.labels == [] and seen_by_b.verdicts is None
    assert len(view_item(review.store, "camp", item, review.admin).labels) == 1


def test_an_admin_labelling_from_the_queue_sees_verdicts_only_after_their_label(
    review: ReviewSetup,
) -> None:
    """An admin may label like a reviewer; their label must not lean on the detector's."""
    admin = review.admin
    item = next_item(review.store, "camp", admin)
    assert item is not None
    assert view_item(review.store, "camp", item, admin).verdicts is None
    submit_label(review.store, "camp", item, admin, LABEL)
    assert view_item(review.store, "camp", item, admin).verdicts is not None
    # an item the admin does not label (adjudicating it) shows them the verdicts
    items = campaign_results(review.store, "camp", admin).items
    other = next(i.id for i in items if i.id != item)
    assert view_item(review.store, "camp", other, admin).verdicts is not None
    # one they gave back is no longer theirs to label
    given_back = next_item(review.store, "camp", admin)
    assert given_back is not None
    assert view_item(review.store, "camp", given_back, admin).verdicts is None
    leave_item(review.store, "camp", given_back, admin, "skipped")
    assert view_item(review.store, "camp", given_back, admin).verdicts is not None


def test_disagreement_previews_show_how_the_labels_split(review: ReviewSetup) -> None:
    store, other = review.store, {**LABEL, "attack_success": "no", "harm_categories": []}
    label_all(review, 0, LABEL)
    split = []
    for _ in range(2):
        split.append(next_item(store, "camp", review.reviewers[1]))
        submit_label(store, "camp", split[-1], review.reviewers[1], other)  # type: ignore[arg-type]
    flagged = next_item(store, "camp", review.reviewers[2])
    assert flagged is not None and flagged not in split
    leave_item(store, "camp", flagged, review.reviewers[2], "flagged")
    previews = disagreement_previews(store, "camp", review.admin)
    assert [p.item_id for p in previews] == sorted([*split, flagged])  # type: ignore[type-var]
    assert [p.item_id for p in previews] == disagreements(store, "camp", review.admin)
    for p in previews:
        if p.item_id == flagged:
            assert p.flags == 1 and p.splits == {}
        else:  # severity and the note agree (a note is text: never compared)
            assert p.flags == 0 and p.splits == {
                "attack_success": [("yes", 1), ("no", 1)],
                "harm_categories": [(["privacy_leak"], 1), ([], 1)],
            }
        number = int(p.external_id.removeprefix("item-"))
        assert (p.prompt, p.response) == (f"질문 {number}", f"답변 {number}")


def test_campaigns_are_private_to_their_members(review: ReviewSetup) -> None:
    create_campaign(review.store, "secret")
    outsider = add_user(review.store, "outsider", "reviewer", PASSWORD)
    assert [c.name for c in list_campaigns(review.store, outsider)] == []
    assert {c.name for c in list_campaigns(review.store, review.admin)} == {"camp", "secret"}
    with pytest.raises(PermissionDenied, match="no campaign"):
        next_item(review.store, "camp", outsider)
    with pytest.raises(PermissionDenied, match="only an admin"):
        campaign_results(review.store, "camp", review.reviewers[0])


def test_skip_gives_the_slot_to_someone_else(review: ReviewSetup) -> None:
    a = review.reviewers[0]
    item = next_item(review.store, "camp", a)
    assert item is not None
    leave_item(review.store, "camp", item, a, "skipped")
    assert next_item(review.store, "camp", a) != item
    seen = label_all(review, 1, LABEL) + label_all(review, 2, LABEL)
    assert seen.count(item) == 2  # both free slots went to the other two reviewers


def test_disagreements_are_adjudicated_into_gold(review: ReviewSetup) -> None:
    label_all(review, 0, LABEL)
    label_all(review, 1, {**LABEL, "attack_success": "no", "severity": "0"})
    label_all(review, 2, LABEL)
    results = campaign_results(review.store, "camp", review.admin)
    unanimous = [i for i in results.items if i.gold_source == "unanimous"]
    disputed = disagreements(review.store, "camp", review.admin)
    assert len(unanimous) + len(disputed) == 6 and disputed
    set_gold(review.store, "camp", disputed[0], review.admin, LABEL)
    assert disputed[0] not in disagreements(review.store, "camp", review.admin)
    gold = {i.id: i for i in campaign_results(review.store, "camp", review.admin).items}
    assert gold[disputed[0]].gold_source == "adjudicated"
    assert gold[disputed[0]].gold == {**LABEL, "note": ""}
    with pytest.raises(PermissionDenied, match="only an admin"):
        set_gold(review.store, "camp", disputed[1], review.reviewers[0], LABEL)


def test_login_sessions(review: ReviewSetup) -> None:
    assert authenticate(review.store, "rev0", "wrong password") is None
    assert authenticate(review.store, "nobody", PASSWORD) is None
    account = authenticate(review.store, "rev0", PASSWORD)
    assert account is not None and account.role == "reviewer"
    token, csrf = create_session(review.store, account)
    info = session_for(review.store, token)
    assert info is not None and info.csrf_token == csrf and info.account.username == "rev0"
    end_session(review.store, token)
    assert session_for(review.store, token) is None


def test_admins_correct_labels_reviewers_cannot(review: ReviewSetup) -> None:
    a, b = review.reviewers[0], review.reviewers[1]
    item = next_item(review.store, "camp", a)
    assert item is not None
    submit_label(review.store, "camp", item, a, LABEL)
    fixed = {**LABEL, "severity": "0", "note": "관리자 수정"}
    with pytest.raises(PermissionDenied, match="only an admin"):
        correct_label(review.store, "camp", item, "rev0", b, fixed)
    with pytest.raises(PermissionDenied, match="no label"):
        correct_label(review.store, "camp", item, "rev1", review.admin, fixed)
    correct_label(review.store, "camp", item, "rev0", review.admin, fixed)
    (label,) = [
        x for i in campaign_results(review.store, "camp", review.admin).items for x in i.labels
    ]
    assert label.reviewer == "rev0" and label.values["severity"] == "0"
    assert label.updated_at > label.created_at


def test_an_abandoned_assignment_gives_its_slot_back(db_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update
    from tests.review.conftest import build_setup

    from haechi.store import open_store
    from haechi.store.review_schema import ReviewAssignment

    with open_store(db_url) as store:
        setup = build_setup(store, items=1, reviewers=2, overlap=1)
        a, b = setup.reviewers
        item = next_item(store, "camp", a)
        assert item is not None and next_item(store, "camp", b) is None  # the one slot is taken
        old = datetime.now(UTC) - timedelta(hours=3)
        store.transact(
            lambda s: s.execute(update(ReviewAssignment).values(assigned_at=old)), write=True
        )
        assert next_item(store, "camp", b) == item  # a left it for hours: b gets it
        submit_label(store, "camp", item, b, LABEL)
        submit_label(store, "camp", item, a, LABEL)  # a's late label is still accepted
        (done,) = campaign_results(store, "camp", setup.admin).items
    assert sorted(label.reviewer for label in done.labels) == ["rev0", "rev1"]
