"""The side-by-side voting page in chromium: A and B shown, models hidden until the vote,
votes by keyboard, Bradley–Terry ratings on the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.review.conftest import PASSWORD, ReviewSetup
from tests.review.test_arena_votes import write_answers
from tests.web.browser import browser_login, chromium, open_queue
from tests.web.conftest import LiveServer, Site, artifacts_dir

from haechi.review.accounts import add_user
from haechi.review.arena import arena_schema, pair_lines
from haechi.review.campaigns import add_members, create_campaign
from haechi.review.imports import import_lines
from haechi.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def arena_site(site_db: str, tmp_path: Path) -> Iterator[Site]:
    from haechi.web import create_app

    lines = pair_lines(
        write_answers(tmp_path / "a.jsonl", "hf/good", 4),
        write_answers(tmp_path / "b.jsonl", "hf/bad", 4),
    )
    with open_store(site_db) as store:
        admin = add_user(store, "admin", "admin", PASSWORD)
        add_user(store, "voter", "reviewer", PASSWORD)
        campaign = create_campaign(store, "duel", arena_schema(), overlap=1)
        add_members(store, "duel", ["voter"])
        import_lines(store, campaign, lines, "arena")
        with LiveServer(create_app(store=store)) as server:
            yield Site(server.url, ReviewSetup(store, admin, [], campaign), site_db)


def test_vote_side_by_side_then_see_ratings(arena_site: Site) -> None:
    shots = artifacts_dir()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        browser_login(page, arena_site.url, "voter", PASSWORD)
        for n in range(4):
            open_queue(page, arena_site.url, "duel")
            a, b = page.inner_text("#answer-a"), page.inner_text("#answer-b")
            assert {a.split("의")[0], b.split("의")[0]} == {"good", "bad"}
            assert page.is_visible("#verdicts-hidden") and "hf/" not in page.content()
            if n == 0:
                page.screenshot(path=str(shots / "arena-vote.png"), full_page=True)
            page.keyboard.press("1" if a.startswith("good") else "2")  # prefer "good"
            with page.expect_navigation():
                page.keyboard.press("Enter")
        page.keyboard.press("k")  # back to the last vote: the models are revealed
        page.wait_for_selector(".model")
        assert sorted(page.locator(".model").all_inner_texts()) == ["hf/bad", "hf/good"]
        browser_login(page, arena_site.url, "admin", PASSWORD)
        page.goto(f"{arena_site.url}/c/duel/dashboard")
        rows = page.locator("#ratings tbody tr").all_inner_texts()
        page.screenshot(path=str(shots / "arena-ratings.png"), full_page=True)
    assert rows[0].split("\t")[1] == "hf/good" and "4–0–0" in rows[0]
