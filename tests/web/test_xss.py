"""Model outputs are adversarial: every XSS payload, in every place model text reaches
(prompts, responses, turns, categories, ids, attack chains, detector names, arena answers
and model names, reviewers' notes, leaderboard, run and model pages' model specs and tasks,
red-team runs' seeds, categories, generators, converters and detectors), must show as plain
text on every page that shows it, in a real browser, execute nothing, and leave the page
working."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.redteam.stored import attempt, store_run
from tests.review.conftest import PASSWORD, ReviewSetup
from tests.web.browser import browser_login, chromium, keys_ready, open_queue
from tests.web.conftest import LiveServer, Site, artifacts_dir

from haechi.review.accounts import DATABASE_OWNER, add_user, list_users
from haechi.review.arena import arena_schema
from haechi.review.campaigns import add_members, create_campaign
from haechi.review.imports import ImportLine, Turn, import_lines
from haechi.review.labels import submit_label
from haechi.review.queue import next_item
from haechi.review.results import campaign_results
from haechi.store import ResultRecord, Store, open_store
from haechi.store.attempts import VerdictRecord
from haechi.web.display import MAX_SHOWN_CHARS

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
NOTE_CHARS = 4000  # a note holds at most 5000 characters
# Elements and attributes no page of ours has (our charts are the only SVG, each the one
# child of a figure.chart): any of them is a payload become markup.
INJECTED = (
    "script:not([src='/static/review.js']), img, svg:not(figure.chart > svg), circle, "
    "iframe, object, embed, style, "
    "meta[http-equiv], [onerror], [onload], a[href^='javascript']"
)


def cut_name(name: str) -> str:
    """A name as the pages show it (80 characters at most, as Jinja's truncate cuts)."""
    return name if len(name) <= 80 else name[:79] + "…"


def assert_inert(page: Any, where: str) -> None:
    assert page.locator(INJECTED).count() == 0, where
    assert page.evaluate("window.__xss") is None, where


def payload_lines() -> list[ImportLine]:
    return [
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


def arena_lines() -> list[ImportLine]:
    return [
        ImportLine(
            id=f"duel-{name}",
            prompt=f"prompt {name}",
            response="",
            category=f"<i>{name}</i>",
            chain={"arena": {"a": payload, "b": payload}},
            verdicts=[
                {"detector": "A", "model": payload},
                {"detector": "B", "model": f"baseline {PAYLOADS['script']}"},
            ],
        )
        for name, payload in PAYLOADS.items()
    ]


def store_eval_runs(store: Store) -> None:
    """Leaderboard rows whose model specs and task names are payloads."""
    for name, payload in PAYLOADS.items():
        run = store.start_run("eval", payload, f"fingerprint-{name}", {}, {})
        result = ResultRecord(
            task=payload[:200], metric="acc", value=0.5, stderr=None, n=1, is_primary=True
        )
        store.add_results(run, [result])
        store.finish_run(run)


def store_redteam_runs(store: Store) -> list[str]:
    """Two red-team runs whose seeds, categories, generators, converters, attacks, answers
    and detector names are payloads (the second flips every seed of the first)."""
    runs = []
    for flip in (False, True):
        attempts = [
            attempt(
                f"x-{name}", f"seed {payload}", f"<i>{name}</i>", payload, payload, 2,
                (i % 2 == 0) != flip, text=payload,
            ).model_copy(update={"verdicts": (VerdictRecord(detector=payload, success=True),)})
            for i, (name, payload) in enumerate(PAYLOADS.items())
        ]  # fmt: skip
        runs.append(store_run(store, PAYLOADS["script"], PAYLOADS["svg-onload"], attempts))
    return runs


@pytest.fixture
def xss_site(site_db: str) -> Iterator[Site]:
    from haechi.web import create_app

    with open_store(site_db) as store:
        admin = add_user(store, "admin", "admin", PASSWORD)
        add_user(store, "rev0", "reviewer", PASSWORD)
        campaign = create_campaign(store, "xss", overlap=1)
        add_members(store, "xss", ["rev0"])
        import_lines(store, campaign, payload_lines(), source=PAYLOADS["script"])
        duel = create_campaign(store, "duel", arena_schema(), overlap=1)
        add_members(store, "duel", ["rev0"])
        import_lines(store, duel, arena_lines(), source="arena")
        store_eval_runs(store)
        store_redteam_runs(store)
        with LiveServer(create_app(store=store)) as server:
            yield Site(server.url, ReviewSetup(store, admin, [], campaign), site_db)


def item_ids(site: Site, campaign: str) -> list[int]:
    return [i.id for i in campaign_results(site.setup.store, campaign, DATABASE_OWNER).items]


def test_reviewer_pages_show_every_payload_as_text(xss_site: Site) -> None:
    shots = artifacts_dir()
    dialogs: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        browser_login(page, xss_site.url, "rev0", PASSWORD)
        assert_inert(page, "/")
        for name, payload in PAYLOADS.items():
            open_queue(page, xss_site.url, "xss")
            shown = page.locator(".conversation .turn.assistant .text")
            assert shown.text_content() == payload[:MAX_SHOWN_CHARS], name
            cuts = page.locator(".conversation .cut").count()
            assert cuts == 2 * (len(payload) > MAX_SHOWN_CHARS), name  # prompt, response
            assert_inert(page, f"item {name}")
            assert page.is_visible("#submit"), name  # the page still works
            if name in ("script", "rtl-override", "very-long"):
                page.screenshot(path=str(shots / f"xss-{name}.png"))
            # label it (the note is a payload too), then see its verdicts and chain
            for key in ("2", "ArrowDown", "1"):
                page.keyboard.press(key)
            page.fill("#field-note textarea", payload[:NOTE_CHARS])
            with page.expect_navigation():
                page.click("#submit")
        assert page.is_visible("#done")
        for item in item_ids(xss_site, "xss"):
            page.goto(f"{xss_site.url}/c/xss/items/{item}")
            page.click("details.chain summary")
            detector = page.locator("#verdicts li b").first.text_content() or ""
            assert any(cut_name(p) == detector for p in PAYLOADS.values()), item
            assert_inert(page, f"labelled item {item}")
        for name, payload in PAYLOADS.items():  # side-by-side votes: answers are payloads
            open_queue(page, xss_site.url, "duel")
            assert page.inner_text("#answer-a") == page.inner_text("#answer-b")
            assert page.locator("#answer-a").text_content() == payload[:MAX_SHOWN_CHARS], name
            assert_inert(page, f"arena {name}")
            page.keyboard.press("1")
            with page.expect_navigation():
                page.keyboard.press("Enter")
        for item in item_ids(xss_site, "duel"):  # after the vote the model names show
            page.goto(f"{xss_site.url}/c/duel/items/{item}")
            assert page.locator(".model").count() == 2
            assert_inert(page, f"voted item {item}")
    assert dialogs == []


def test_admin_pages_show_every_payload_as_text(xss_site: Site) -> None:
    store = xss_site.setup.store
    (reviewer,) = [a for a in list_users(store) if a.username == "rev0"]
    notes = iter(list(PAYLOADS.values()) * 2)
    for campaign, values in (
        ("xss", {"attack_success": "yes", "harm_categories": [], "severity": "1"}),
        ("duel", {"vote": "a"}),
    ):
        while (item := next_item(store, campaign, reviewer)) is not None:
            note = next(notes)[:NOTE_CHARS]
            submit_label(store, campaign, item, reviewer, {**values, "note": note})
    # The old leaderboard drew the 240,000-character model spec in a table cell that
    # wrapped anywhere: a 500,000 px tall page whose layout took chromium 45 s and more,
    # so its load event often missed the timeout. Names are cut on every page now. The
    # arena adjudication pages took 54-108 s: two 240,000-character answers in a font
    # without Hangul (every word fell back to another font); Korean fonts come first now
    # and model text is cut at MAX_SHOWN_CHARS (web/display.py), so no page needs more
    # than the default timeout.
    runs = store.list_runs(kind="eval", limit=None)
    pages = [
        "/",
        "/c/xss/dashboard",
        "/c/duel/dashboard",
        "/c/xss/adjudicate",
        "/c/duel/adjudicate",
    ]
    pages += ["/leaderboard", "/leaderboard?group=all&partial=1&sort=model", "/runs", "/models"]
    pages += [f"/runs/{run.id}" for run in runs]
    pages += [
        f"/models/fingerprint-{name}"
        for name in ("script", "svg-onload", "rtl-override", "very-long")
    ]
    pages += [f"/compare?a={runs[0].id}&b={runs[1].id}"]
    red = [r.id for r in store.list_runs(kind="redteam", limit=None)]
    pages += ["/redteam", f"/redteam/{red[0]}", f"/redteam/diff?a={red[0]}&b={red[1]}"]
    # the run page shows every payload; attempt pages, one per kind of breakout
    shown = ("script", "attribute-breakout", "textarea-breakout", "svg-onload", "very-long")
    pages += [f"/redteam/{red[0]}/attempts/x-{name}" for name in shown]
    for campaign in ("xss", "duel"):
        for item in item_ids(xss_site, campaign):
            pages += [
                f"/c/{campaign}/adjudicate/{item}",
                f"/c/{campaign}/adjudicate/{item}/labels/rev0",
            ]
    dialogs: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        browser_login(page, xss_site.url, "admin", PASSWORD)
        for path in pages:
            response = page.goto(f"{xss_site.url}{path}")
            assert response is not None and response.status == 200, path
            keys_ready(page)
            assert_inert(page, path)
        page.goto(f"{xss_site.url}/c/xss/dashboard")
        assert "<i>script</i>" in page.inner_text("#asr")
        page.goto(f"{xss_site.url}/c/duel/dashboard")
        assert PAYLOADS["script"] in page.inner_text("#ratings")
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
