"""Reviewer processes for the concurrency tests (importable by spawned children)."""

from __future__ import annotations

from haechi.review.accounts import authenticate
from haechi.review.labels import submit_label
from haechi.review.queue import next_item
from haechi.store import open_store

VALUES = {"attack_success": "yes", "harm_categories": [], "severity": "1", "note": ""}


def review_everything(url: str, username: str, password: str) -> int:
    """Label every item the queue hands this reviewer, submitting each label twice (a
    double click); returns how many items they labelled."""
    with open_store(url) as store:
        account = authenticate(store, username, password)
        assert account is not None
        done = 0
        while (item := next_item(store, "camp", account)) is not None:
            submit_label(store, "camp", item, account, VALUES)
            submit_label(store, "camp", item, account, VALUES)
            done += 1
        return done


def submit_same(url: str, username: str, password: str, item: int, severity: str) -> bool:
    """One of several racing submissions of one reviewer's label of one item."""
    with open_store(url) as store:
        account = authenticate(store, username, password)
        assert account is not None
        return submit_label(store, "camp", item, account, {**VALUES, "severity": severity}).created
