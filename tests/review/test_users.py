"""Login accounts and imported annotators: annotators own labels but cannot log in and stay
off the users list; removing a user keeps their labels; resetting a password ends sessions."""

from __future__ import annotations

import pytest
from tests.review.conftest import PASSWORD, ReviewSetup
from tests.review.test_workflow import LABEL, label_all

from haechi.errors import InputError
from haechi.review.accounts import (
    add_user,
    authenticate,
    create_session,
    list_users,
    remove_user,
    reset_password,
    session_for,
)
from haechi.review.campaigns import members
from haechi.review.imports import ImportedLabel, ImportLine, import_items
from haechi.review.queue import next_item
from haechi.review.results import campaign_results


def test_imported_annotators_are_not_login_accounts(review: ReviewSetup) -> None:
    labels = [
        ImportedLabel(reviewer=f"crowd-{k}", values={"attack_success": "no", "severity": "0"})
        for k in range(3)
    ]
    lines = [ImportLine(id=f"x{i}", prompt="p", response="r", labels=labels) for i in range(4)]
    _, summary = import_items(review.store, "camp", lines, "crowd")
    assert summary.labels == 12
    logins = [a.username for a in list_users(review.store)]
    assert logins == ["admin", "rev0", "rev1", "rev2"]
    everyone = {a.username: a for a in list_users(review.store, annotators=True)}
    assert {"crowd-0", "crowd-1", "crowd-2"} <= set(everyone)
    assert everyone["crowd-0"].role == "annotator" and not everyone["crowd-0"].can_login
    assert authenticate(review.store, "crowd-0", "") is None
    with pytest.raises(InputError, match="annotator"):
        reset_password(review.store, "crowd-0", PASSWORD)
    results = campaign_results(review.store, "camp", review.admin)
    assert {x.reviewer for i in results.items for x in i.labels} == {f"crowd-{k}" for k in range(3)}


def test_removing_a_user_keeps_their_labels(review: ReviewSetup) -> None:
    done = label_all(review, 0, LABEL)
    token, _ = create_session(review.store, review.reviewers[0])
    open_item = next_item(review.store, "camp", review.reviewers[1])  # rev1 holds a slot
    assert open_item is not None

    assert remove_user(review.store, "rev0") == len(done) > 0
    assert session_for(review.store, token) is None
    assert authenticate(review.store, "rev0", PASSWORD) is None
    assert "rev0" not in [a.username for a in list_users(review.store)]
    assert "rev0" not in members(review.store, "camp")
    results = campaign_results(review.store, "camp", review.admin)
    assert sum(x.reviewer == "rev0" for i in results.items for x in i.labels) == len(done)

    assert remove_user(review.store, "rev1") == 0  # no labels: the user is gone
    assert "rev1" not in [a.username for a in list_users(review.store, annotators=True)]
    # rev1's open slot went with them: rev2 can take that item
    seen = label_all(review, 2, LABEL)
    assert open_item in seen
    with pytest.raises(InputError, match="no such user"):
        remove_user(review.store, "rev1")


def test_the_last_admin_cannot_be_removed(review: ReviewSetup) -> None:
    with pytest.raises(InputError, match="last admin"):
        remove_user(review.store, "admin")
    add_user(review.store, "second", "admin", PASSWORD)
    assert remove_user(review.store, "admin") == 0


def test_reset_password_ends_sessions(review: ReviewSetup) -> None:
    token, _ = create_session(review.store, review.reviewers[0])
    reset_password(review.store, "rev0", "a brand new secret")
    assert session_for(review.store, token) is None
    assert authenticate(review.store, "rev0", PASSWORD) is None
    assert authenticate(review.store, "rev0", "a brand new secret") is not None
    with pytest.raises(InputError, match="at least 8"):
        reset_password(review.store, "rev0", "short")
    with pytest.raises(InputError, match="no such user"):
        reset_password(review.store, "nobody", "a brand new secret")


def test_reset_password_lifts_a_lock_out(review: ReviewSetup) -> None:
    from haechi.review.logins import LoginLimit, TooManyAttempts, attempt_login

    limit = LoginLimit(attempts=2)
    for address in ("10.0.0.1", "10.0.0.2"):
        assert attempt_login(review.store, "rev0", "wrong guess", address, limit) is None
    with pytest.raises(TooManyAttempts):
        attempt_login(review.store, "rev0", PASSWORD, "10.0.0.3", limit)
    reset_password(review.store, "rev0", "a brand new secret")
    assert attempt_login(review.store, "rev0", "a brand new secret", "10.0.0.3", limit)
