"""Model outputs are adversarial: XSS payloads in prompts, responses, categories, ids and
attack chains must show as plain text in a real browser, execute nothing, and leave the
page working."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.review.conftest import PASSWORD
from tests.web.browser import browser_login, chromium, keys_ready
from tests.web.conftest import LiveServer, Site, artifacts_dir

from haechi.review.accounts import add_user
from haechi.review.campaigns import add_members, create_campaign
from haechi.review.imports import ImportLine, Turn, import_lines
from haechi.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Every payload tries to set window.__xss or open a dialog.
PAYLOADS = {
    "script": "<script>window.__xss = 1; alert('script')</script>",
    "img-onerror": '<img src=x onerror="window.__xss = 2; alert(2)">',
    "javascript-url": '<a id="evil" href="javascript:window.__xss = 3">눌러 보세요</a>',
    "svg-onload": '<svg onload="window.__xss = 4"><circle r="5"/></svg>',
    "attribute-breakout": '"><script>window.__xss = 5</script><input value="',
    "textarea-breakout": "</textarea><script>window.__xss = 6</script>",
    "broken-html": "<div><b><i>안 닫힌 태그 <table><tr><td>칸",
    "template": "{{ 7 * 7 }} {% if true %}jinja{% endif %} ${7*7}",
    "iframe": '<iframe src="javascript:parent.__xss = 7"></iframe>',
    "style": "<style>body { display: none }</style>",
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=8">',
    "rtl-override": "\u202eevil.exe\u202c 다음 줄은 정상 ‎שלום עולם مرحبا",
    "zero-width": "해\u200b로\u200c운\u200d 내\ufeff용",
    "very-long": "가나다라마바사 " * 30000,
}


@pytest.fixture
def xss_site(site_db: str) -> Iterator[Site]:
    from haechi.web import create_app

    with open_store(site_db) as store:
        admin = add_user(store, "admin", "admin", PASSWORD)
        add_user(store, "rev0", "reviewer", PASSWORD)
        campaign = create_campaign(store, "xss", overlap=1)
        add_members(store, "xss", ["rev0"])
        lines = [
            ImportLine(
                id=f"{name}-<b>id</b>",
                prompt=f"prompt {payload}",
                response=payload,
                category=f"<i>{name}</i>",
                turns=[Turn(role="user", content=payload), Turn(role="assistant", content=payload)]
                if name == "script"
                else [],
                chain={"attack": payload, "converters": [payload]},
                verdicts=[{"detector": payload, "success": True, "score": 0.5}],
                detector_success=True,
            )
            for name, payload in PAYLOADS.items()
        ]
        import_lines(store, campaign, lines, source=PAYLOADS["script"])
        with LiveServer(create_app(store=store)) as server:
            from tests.review.conftest import ReviewSetup

            yield Site(server.url, ReviewSetup(store, admin, [], campaign), site_db)


def test_payloads_render_as_text_and_never_run(xss_site: Site) -> None:
    shots = artifacts_dir()
    dialogs: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        browser_login(page, xss_site.url, "rev0", PASSWORD)
        for name, payload in PAYLOADS.items():
            page.goto(f"{xss_site.url}/c/xss/next")
            keys_ready(page)
            shown = page.locator(".conversation .turn.assistant .text")
            assert shown.text_content() == payload, name
            # nothing the payload wrote became an element, and no script ran
            assert (
                page.locator(
                    ".conversation script, .conversation img, .conversation svg, .conversation iframe, .conversation a, .conversation meta, .conversation style"
                ).count()
                == 0
            )
            assert page.evaluate("window.__xss") is None, name
            assert page.is_visible("#submit"), name  # the page still works
            if name in ("script", "rtl-override", "very-long"):
                page.screenshot(path=str(shots / f"xss-{name}.png"))
            # label it (verdicts, whose detector name is a payload, show after this)
            for key in ("2", "ArrowDown", "1"):
                page.keyboard.press(key)
            with page.expect_navigation():
                page.keyboard.press("Enter")
        assert page.is_visible("#done")
        # the labelled items' verdicts and chains (payloads too) are inert as well
        page.goto(f"{xss_site.url}/c/xss/items/1")
        page.click("details.chain summary")
        assert page.locator("#verdicts li b").first.text_content() == PAYLOADS["script"]
        assert page.evaluate("window.__xss") is None
        # the admin's pages show categories, ids and labels of these items
        browser_login(page, xss_site.url, "admin", PASSWORD)
        for path in ("/c/xss/dashboard", "/c/xss/adjudicate/1", "/"):
            page.goto(f"{xss_site.url}{path}")
            assert page.evaluate("window.__xss") is None, path
        page.goto(f"{xss_site.url}/c/xss/dashboard")
        assert "<i>script</i>" in page.inner_text("#asr")
    assert dialogs == []


def test_inline_script_is_blocked_by_the_content_security_policy(xss_site: Site) -> None:
    """Even if escaping ever failed, the policy forbids inline script: injecting a
    script element into the live page does not run it."""
    with chromium() as browser:
        page = browser.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        browser_login(page, xss_site.url, "rev0", PASSWORD)
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__xss = 99'; document.body.appendChild(s); }"
        )
        assert page.evaluate("window.__xss") is None
        assert violations
