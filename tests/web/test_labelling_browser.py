"""Labelling in chromium: the focus follows the active field and never lands in the note
box by itself, a refused label comes back with the field marked and active, the header
holds together on a phone. No console errors or CSP violations on any page."""

from __future__ import annotations

from typing import Any

import pytest
from tests.review.conftest import PASSWORD
from tests.web.browser import browser_login, chromium, console_problems, keys_ready, open_queue
from tests.web.conftest import Site, artifacts_dir
from tests.web.test_browser import labels_of

from haechi.review.accounts import add_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FOCUSED = "() => document.activeElement.id || document.activeElement.tagName"


def test_the_focus_follows_the_active_field_and_stays_out_of_the_note(site: Site) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        problems = console_problems(page)
        browser_login(page, site.url, "rev0", PASSWORD)
        open_queue(page, site.url, "camp")
        first = page.url
        page.keyboard.press("1")  # attack succeeded: yes, on to the very next field
        assert page.evaluate(FOCUSED) == "field-harm_categories"
        page.keyboard.press("2")  # a checkbox toggles and stays
        assert page.evaluate(FOCUSED) == "field-harm_categories"
        page.keyboard.press("ArrowDown")
        assert page.evaluate(FOCUSED) == "field-severity"
        page.keyboard.press("3")  # severity 2, on to the note field: not into its box
        assert page.evaluate(FOCUSED) == "field-note"
        page.keyboard.press("ArrowDown")  # the last field: it stays there
        page.keyboard.press("4")
        assert page.evaluate(FOCUSED) == "field-note"
        assert page.input_value("#field-note textarea") == ""
        page.keyboard.press("Tab")  # Tab writes a note, Escape leaves it
        assert page.evaluate("() => document.activeElement.tagName") == "TEXTAREA"
        page.keyboard.type("1 메모")
        page.keyboard.press("Escape")
        assert page.evaluate(FOCUSED) == "field-note"
        page.screenshot(path=str(artifacts_dir() / "review-focus.png"), full_page=True)
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: url != first)
    (values,) = labels_of(site, "rev0").values()
    assert values == {
        "attack_success": "yes",
        "harm_categories": ["misinformation"],
        "severity": "2",
        "note": "1 메모",
    }
    assert problems == []


def header_lines(page: Any) -> list[tuple[str, float]]:
    """Each header link, name and button with its height in lines of its own text."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll(
            'header.top a, header.top .who, header.top button')).map((e) => [
            e.textContent.trim(),
            e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)])"""
    )


def test_a_refused_label_comes_back_marked_and_the_header_fits_a_phone(site: Site) -> None:
    shots = artifacts_dir()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        problems = console_problems(page)
        # a longer name took the old header's flex items down to a syllable a line
        add_user(site.setup.store, "김해치_annotator", "reviewer", PASSWORD)
        for name in ("김해치_annotator", "admin"):
            browser_login(page, site.url, name, PASSWORD)
            lines = header_lines(page)
            assert len(lines) >= 8 and all(height < 1.5 for _, height in lines), lines
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "header-phone.png"))
        open_queue(page, site.url, "camp")
        assert page.is_visible("#verdicts-hidden")  # an admin labelling is a reviewer here
        page.keyboard.press("2")  # no; severity left out
        page.keyboard.press("Enter")
        page.wait_for_selector("#form-error")
        keys_ready(page)
        assert page.evaluate(FOCUSED) == "field-severity"
        assert page.is_checked("#field-attack_success input[value=no]")
        assert page.is_visible("#error-severity")
        page.screenshot(path=str(shots / "review-required-phone.png"), full_page=True)
        page.keyboard.press("1")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.split("/items/")[0].endswith("/c/camp")
    (values,) = labels_of(site, "admin").values()
    assert values["attack_success"] == "no" and values["severity"] == "0"
    # chromium reports the refused submit's answer (400, the form again) and nothing else
    assert problems == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
