"""Driving Debian's chromium through Playwright (no browser download).

Without Playwright or chromium the browser tests skip, unless ``HAECHI_REQUIRE_BROWSER=1``
(CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = os.environ.get("HAECHI_CHROMIUM", "/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    if os.environ.get("HAECHI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"HAECHI_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium browser."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    # chromium's sandbox refuses to run as root (CI containers)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


def browser_login(page: Any, url: str, username: str, password: str) -> None:
    """Log in through the form, as a person would."""
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def keys_ready(page: Any) -> None:
    """Wait until the page's keyboard shortcuts are attached."""
    page.wait_for_selector("body[data-keys=ready]", state="attached")


def open_queue(page: Any, url: str, campaign: str) -> None:
    """Open the campaign's queue: the item open there, else claim one (the queue page's
    button, a POST), as a reviewer does."""
    page.goto(f"{url}/c/{campaign}/next")
    if page.locator("#claim").count():
        with page.expect_navigation():
            page.click("#claim")
    keys_ready(page)


def console_problems(page: Any) -> list[str]:
    """A list that fills with the page's console errors (CSP violations among them) and
    uncaught exceptions, for the test to assert empty."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems
