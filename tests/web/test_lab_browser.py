"""The evaluation and model pages in real chromium, over a store of real runs (see
``tests/web/lab.py``): each page at 1280 px and on a phone, screenshots in
test-artifacts/, no console error or CSP violation, no page wider than the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.review.conftest import PASSWORD
from tests.web.browser import browser_login, chromium
from tests.web.conftest import artifacts_dir
from tests.web.lab import Lab

from haechi.model_summary import model_summary
from haechi.review.accounts import DATABASE_OWNER
from haechi.store import Store
from haechi.web.report import render_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


class Watched:
    """A page whose console errors, page errors and CSP reports are collected."""

    def __init__(self, browser: Any, size: tuple[int, int]) -> None:
        self.page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        self.problems: list[str] = []
        self.page.on(
            "console", lambda m: self.problems.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))

    def visit(self, url: str, shot: str | None = None) -> Any:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        width = self.page.evaluate("document.documentElement.scrollWidth")
        viewport = self.page.viewport_size["width"]
        assert width <= viewport, f"{url}: page {width}px wide in a {viewport}px window"
        if shot:
            self.page.screenshot(path=str(artifacts_dir() / shot), full_page=True)
        assert self.problems == [], url
        return self.page


def _pages(lab: Lab) -> dict[str, str]:
    return {
        "leaderboard": "/leaderboard",
        "leaderboard-all": "/leaderboard?group=all&partial=1",
        "runs": "/runs",
        "run": f"/runs/{lab.a}",
        "samples": f"/runs/{lab.a}/samples/ko_arc",
        "compare": f"/compare?a={lab.a}&b={lab.b}",
        "models": "/models",
        "model": f"/models/{lab.fp_a}",
        "redteam": "/redteam",
        "redteam-run": f"/redteam/{lab.redteam}",
        "redteam-attempt": f"/redteam/{lab.redteam}/attempts/{lab.attempt_key}",
        "redteam-diff": f"/redteam/diff?a={lab.redteam}&b={lab.redteam_b}",
    }


def test_every_page_at_desktop_and_phone_width(lab_site: tuple[str, Lab]) -> None:
    url, lab = lab_site
    with chromium() as browser:
        for size_name, size in SIZES.items():
            watched = Watched(browser, size)
            browser_login(watched.page, url, "admin", PASSWORD)
            for name, path in _pages(lab).items():
                watched.visit(f"{url}{path}", f"lab-{name}-{size_name}.png")
            page = watched.visit(f"{url}/leaderboard")
            # model names wrap at spaces at worst: a name cell is a few lines, not a column
            # of single characters (the old page drew one character per line)
            height = page.evaluate(
                "Math.max(...[...document.querySelectorAll('#leaderboard td.name')]"
                ".map(e => e.getBoundingClientRect().height))"
            )
            assert height < 120, size_name


def test_leaderboard_sorts_switches_groups_and_links_to_runs(lab_site: tuple[str, Lab]) -> None:
    url, _ = lab_site
    with chromium() as browser:
        watched = Watched(browser, SIZES["desktop"])
        browser_login(watched.page, url, "rev0", PASSWORD)
        page = watched.visit(f"{url}/leaderboard?group=kobest")
        headers = page.locator("#leaderboard thead th").all_inner_texts()
        assert headers[5].startswith("kobest") and "kobest_copa" in " ".join(headers)
        assert "ko_arc" not in " ".join(headers)  # the group's tasks only
        cells = page.locator("#leaderboard tbody tr td:nth-child(6)").all_inner_texts()
        assert all("±" not in c and "." in c for c in cells)  # a group: percent, no stderr
        values = [float(c) for c in cells]
        assert values == sorted(values, reverse=True)  # ranked by the group
        for order in ("desc", "asc"):  # the first click sorts best first, the next reverses
            with page.expect_navigation():
                page.click("#leaderboard thead th:nth-child(6) a")
            values = [
                float(c)
                for c in page.locator("#leaderboard tbody tr td:nth-child(6)").all_inner_texts()
            ]
            assert values == sorted(values, reverse=order == "desc"), order
        with page.expect_navigation():
            page.click("#groups a:text-is('전체')")
        assert "ko_arc" in " ".join(page.locator("#leaderboard thead th").all_inner_texts())
        stderr_cell = page.locator("#leaderboard tbody td.num", has_text="±").first
        assert "±" in stderr_cell.inner_text()
        assert page.locator("#leaderboard tr.partial").count() == 0
        with page.expect_navigation():
            page.click("#partial-toggle")
        assert page.locator("#leaderboard tr.partial").inner_text().count("--limit 2") == 1
        with page.expect_navigation():
            page.locator("#leaderboard tbody td.num a").first.click()
        assert "/runs/" in page.url
        assert page.locator("#config").inner_text().count('"num_fewshot": 1') == 1
        assert watched.problems == []


def test_sample_browser_filters_and_searches(lab_site: tuple[str, Lab]) -> None:
    url, lab = lab_site
    with chromium() as browser:
        watched = Watched(browser, SIZES["desktop"])
        browser_login(watched.page, url, "rev0", PASSWORD)
        page = watched.visit(f"{url}/runs/{lab.a}/samples/ko_arc")
        total = page.locator("article.sample").count()
        assert total == 15  # 5 documents, 3 copies each
        first = page.locator("article.sample").first
        assert first.locator("table.choices tbody tr").count() >= 2
        assert first.locator("tr.target").count() == 1 and first.locator("tr.picked").count() == 1
        counts = {}
        for show in ("right", "wrong"):
            page.check(f"#filters input[value={show}]")
            with page.expect_navigation():
                page.click("#filters button")
            counts[show] = page.locator("article.sample").count()
            assert page.locator(f"article.sample:not(.{show})").count() == 0
        assert counts["right"] + counts["wrong"] == total
        page.check("#filters input[value=all]")
        word = first.locator("table.choices td.cell-text").first.inner_text()
        page.fill("#filters input[name=q]", word)
        with page.expect_navigation():
            page.click("#filters button")
        assert 1 <= page.locator("article.sample").count() <= total
        assert watched.problems == []


def test_compare_shows_differences_intervals_and_flips(lab_site: tuple[str, Lab]) -> None:
    url, lab = lab_site
    with chromium() as browser:
        watched = Watched(browser, SIZES["desktop"])
        browser_login(watched.page, url, "rev0", PASSWORD)
        page = watched.visit(f"{url}/compare")
        page.select_option("#pick-runs select[name=a]", lab.a)
        page.select_option("#pick-runs select[name=b]", lab.b)
        with page.expect_navigation():
            page.click("#pick-runs button")
        row = page.locator("#comparison tbody tr", has_text="ko_arc").first
        assert row.locator("td:nth-child(6)").inner_text().startswith("[")
        assert page.locator("#difference-chart svg rect").count() >= 3
        flips = page.locator("ul.flips li a")
        if flips.count():
            with page.expect_navigation():
                flips.first.click()
            assert page.locator("article.sample").count() == 1
        assert watched.problems == []


def test_model_page_for_admin_and_reviewer(lab_site: tuple[str, Lab]) -> None:
    url, lab = lab_site
    with chromium() as browser:
        admin = Watched(browser, SIZES["desktop"])
        browser_login(admin.page, url, "admin", PASSWORD)
        page = admin.visit(f"{url}/models/{lab.fp_a}")
        assert page.locator("#scores-chart svg rect").count() >= 2
        assert page.locator("#asr-chart-0 svg").count() == 1
        assert page.locator("#arena-chart-0 svg rect").count() == 2
        assert page.locator("table.human").count() == 1
        assert "fluency" in page.locator("#judge").inner_text()
        reviewer = Watched(browser, SIZES["desktop"])
        browser_login(reviewer.page, url, "rev0", PASSWORD)
        page = reviewer.visit(f"{url}/models/{lab.fp_a}")
        assert page.locator("#labels-hidden").count() == 1
        assert page.locator("table.human").count() == 0
        assert admin.problems == [] and reviewer.problems == []


def test_redteam_pages_filter_open_attempts_and_diff(lab_site: tuple[str, Lab]) -> None:
    url, lab = lab_site
    with chromium() as browser:
        watched = Watched(browser, SIZES["desktop"])
        browser_login(watched.page, url, "admin", PASSWORD)
        page = watched.visit(f"{url}/models/{lab.fp_a}")
        with page.expect_navigation():  # the model page links its red-team runs
            page.click(f"a[href='/redteam/{lab.redteam}']")
        assert page.locator("#asr-chart svg rect").count() >= 1
        total = page.locator("#attempts tbody tr").count()
        assert page.inner_text("#matched") == f"{total} / {total}"
        page.select_option("#filters select[name=kind]", "control")
        page.select_option("#filters select[name=label]", "success")  # the lab labels all "yes"
        with page.expect_navigation():
            page.click("#filters button")
        assert page.inner_text("#matched") == f"3 / {total}"  # the three controls
        assert page.locator("#attempts tbody tr.control").count() == 3
        with page.expect_navigation():
            page.locator("#attempts tbody a").first.click()
        assert "refusal" in page.inner_text("#verdicts")
        assert page.locator("#turns .turn.assistant").count() == 1
        page = watched.visit(f"{url}/redteam/diff?b={lab.redteam_b}")
        page.select_option("#pick-runs select[name=a]", lab.redteam)
        with page.expect_navigation():
            page.click("#pick-runs button")
        assert page.locator("#diff tbody tr").count() >= 3  # overall, categories, over-refusal
        assert page.locator("#diff-chart svg rect").count() >= 2
        assert watched.problems == []


def test_report_file_opens_offline_without_violations(
    lab_store: tuple[Store, Lab], tmp_path: Path
) -> None:
    store, lab = lab_store
    out = tmp_path / "report.html"
    out.write_text(render_report(model_summary(store, lab.fp_a, DATABASE_OWNER)), "utf-8")
    with chromium() as browser:
        watched = Watched(browser, SIZES["desktop"])
        requests: list[str] = []
        watched.page.on("request", lambda r: requests.append(r.url))
        page = watched.visit(out.as_uri(), "lab-report.png")
        assert page.locator("#scores-chart svg rect").count() >= 2
        assert (
            page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "1400px"
        )
        assert requests == [out.as_uri()]  # nothing fetched beyond the file itself
        assert watched.problems == []
