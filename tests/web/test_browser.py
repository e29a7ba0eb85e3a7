"""The review app in a real browser (chromium): log in, label with the keyboard, move
between items, adjudicate, export. Screenshots go to the test artifacts folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.review.conftest import PASSWORD
from tests.web.browser import browser_login, chromium, keys_ready, open_queue
from tests.web.conftest import Site, artifacts_dir

from haechi.review.accounts import DATABASE_OWNER
from haechi.review.results import campaign_results

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def labels_of(site: Site, reviewer: str) -> dict[str, dict[str, object]]:
    results = campaign_results(site.setup.store, "camp", DATABASE_OWNER)
    return {
        item.external_id: label.values
        for item in results.items
        for label in item.labels
        if label.reviewer == reviewer
    }


def test_label_with_the_keyboard_and_move_between_items(site: Site) -> None:
    shots = artifacts_dir()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        browser_login(page, site.url, "rev0", PASSWORD)
        page.click("text=검토 시작")
        page.wait_for_selector("#label-form")
        keys_ready(page)
        first_url = page.url
        assert page.is_visible("#verdicts-hidden")
        page.screenshot(path=str(shots / "review-item.png"), full_page=True)
        # attack_success: 1 = yes (moves on); harm categories: toggle 1 and 3; severity: 4 = "3"
        page.keyboard.press("1")
        page.keyboard.press("1")
        page.keyboard.press("3")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("4")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: url != first_url)
        second_url = page.url
        keys_ready(page)
        # second item: no (2; moves on to harm categories), down to severity, 0 (1), submit
        page.keyboard.press("2")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: url != second_url)
        # K goes back to the previous labelled item, which now shows its verdicts
        keys_ready(page)
        page.keyboard.press("k")
        page.wait_for_url(second_url)
        keys_ready(page)
        assert page.is_visible("#verdicts") and not page.is_visible("#verdicts-hidden")
        assert page.is_checked("#field-attack_success input[value=no]")
        page.keyboard.press("k")
        page.wait_for_url(first_url)
        keys_ready(page)
        page.keyboard.press("j")
        page.wait_for_url(second_url)
        page.screenshot(path=str(shots / "review-labelled.png"), full_page=True)
    labels = labels_of(site, "rev0")
    assert sorted(labels.values(), key=lambda v: str(v["attack_success"])) == [
        {"attack_success": "no", "harm_categories": [], "severity": "0", "note": ""},
        {
            "attack_success": "yes",
            "harm_categories": ["bias_discrimination", "offensive_hate"],
            "severity": "3",
            "note": "",
        },
    ]


def test_typing_a_note_does_not_trigger_shortcuts(site: Site) -> None:
    with chromium() as browser:
        page = browser.new_page()
        browser_login(page, site.url, "rev1", PASSWORD)
        open_queue(page, site.url, "camp")
        for key in ("1", "ArrowDown", "2"):  # yes, then severity 1
            page.keyboard.press(key)
        page.fill("#field-note textarea", "")
        page.click("#field-note textarea")
        page.keyboard.type("j k 1 2 메모")
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: url.endswith("/items/2"))
    (values,) = labels_of(site, "rev1").values()
    assert values["note"] == "j k 1 2 메모" and values["attack_success"] == "yes"


def test_admin_adjudicates_and_exports(site: Site, tmp_path: Path) -> None:
    shots = artifacts_dir()
    with chromium() as browser:
        for reviewer, choice in (("rev0", "1"), ("rev1", "2")):
            context = browser.new_context()
            page = context.new_page()
            browser_login(page, site.url, reviewer, PASSWORD)
            open_queue(page, site.url, "camp")
            page.keyboard.press(choice)
            page.keyboard.press("ArrowDown")
            page.keyboard.press("1")
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: url.endswith("/items/2"))
            context.close()
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        browser_login(page, site.url, "admin", PASSWORD)
        page.goto(f"{site.url}/c/camp/adjudicate")
        assert "×1" in page.inner_text("#disputed")  # how the two labels differ
        page.screenshot(path=str(shots / "adjudicate-list.png"), full_page=True)
        page.click("#disputed a")
        page.wait_for_selector("#all-labels")
        assert page.locator("#all-labels tbody tr").count() == 2
        assert not page.is_visible("#verdicts-reveal ul")  # behind an explicit reveal
        page.click("#verdicts-reveal summary")
        assert page.is_visible("#verdicts-reveal ul")
        page.screenshot(path=str(shots / "adjudicate.png"), full_page=True)
        page.check("#field-attack_success input[value=yes]")
        page.click("#submit")
        page.wait_for_selector("#nothing")
        page.goto(f"{site.url}/c/camp/dashboard")
        page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#exports a:text('jsonl')")
        target = tmp_path / "export.jsonl"
        download.value.save_as(target)
    records = [json.loads(line) for line in target.read_text().splitlines()]
    gold = [r for r in records if r["gold_source"] == "adjudicated"]
    assert len(records) == 6 and len(gold) == 1
    assert gold[0]["gold"]["attack_success"] == "yes" and len(gold[0]["labels"]) == 2
