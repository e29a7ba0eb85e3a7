"""The red-team pages through FastAPI's TestClient: admins only, the attempts browser's
filters and pages, one attempt's chain, the diff of two runs, and sending a selection to
review (CSRF, permissions, skipped repeats), over runs whose outcomes follow known rules
(``tests/redteam/stored.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.redteam.stored import attempt, fingerprint_of, grid_attempts, store_run
from tests.redteam.test_browse_diff import rule_a, rule_b
from tests.review.conftest import PASSWORD
from tests.web.conftest import csrf_of

from haechi.redteam.metrics import wilson
from haechi.review.accounts import DATABASE_OWNER, add_user
from haechi.review.campaigns import members
from haechi.review.imports import ImportedLabel, import_items, lines_from_attempts
from haechi.review.results import campaign_results
from haechi.store import Store, open_store

PAYLOAD = "<script>window.__xss = 1</script><img src=x onerror=alert(1)>"


@dataclass
class RedteamSite:
    store: Store
    app: object
    a: str
    b: str
    hostile: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedteamSite]:
    """For tests that only read."""
    with build_site(tmp_path_factory.mktemp("redteam")) as built:
        yield built


@pytest.fixture
def fresh_site(tmp_path: Path) -> Iterator[RedteamSite]:
    """For a test that writes."""
    with build_site(tmp_path) as built:
        yield built


@contextmanager
def build_site(folder: Path) -> Iterator[RedteamSite]:
    """Two runs of campaign "safety" (``rule_a`` against ckpt-a, ``rule_b`` against
    ckpt-b), a run of payloads, and three of ckpt-a's attempts in review campaign "rt"."""
    from haechi.web import create_app

    with open_store(f"sqlite:///{folder / 'web.db'}") as store:
        add_user(store, "admin", "admin", PASSWORD)
        add_user(store, "rev0", "reviewer", PASSWORD)
        a = store_run(store, "safety", "hf/ckpt-a", grid_attempts(rule_a))
        b = store_run(store, "safety", "hf/ckpt-b", grid_attempts(rule_b))
        hostile = store_run(
            store,
            PAYLOAD,
            PAYLOAD,
            [attempt("x1", PAYLOAD, PAYLOAD, PAYLOAD, PAYLOAD, 1, True, text=PAYLOAD)],
        )
        votes = {"k0-0-0": "yes", "k1-0-0": "no"}  # k2-0-0 goes in unlabelled
        lines = []
        for line in lines_from_attempts(store, a, keys=["k0-0-0", "k1-0-0", "k2-0-0"]):
            vote = votes.get(str(line.id).partition("-")[2])
            labels = [ImportedLabel(reviewer="ann", values=_label(vote))] if vote else []
            lines.append(line.model_copy(update={"labels": labels}))
        import_items(store, "rt", lines, f"redteam:{a}", reviewers=["rev0"])
        store.finish_run(store.start_run("eval", "hf/ckpt-a", fingerprint_of("hf/ckpt-a"), {}, {}))
        yield RedteamSite(store, create_app(store=store), a, b, hostile)


def _label(success: str) -> dict[str, object]:
    return {"attack_success": success, "harm_categories": [], "severity": "1"}


def client(site: RedteamSite, username: str | None) -> TestClient:
    browser = TestClient(site.app, follow_redirects=False)  # type: ignore[arg-type]
    if username is not None:
        token = csrf_of(browser.get("/login").text)
        form = {"username": username, "password": PASSWORD, "csrf_token": token}
        assert browser.post("/login", data=form).status_code == 303
    return browser


def rows(html: str) -> int:
    return html.count('<tr class="outcome-')


def matched(html: str) -> str:
    found = re.search(r'id="matched">([^<]*)<', html)
    assert found
    return found.group(1)


def test_pages_are_for_admins_only(site: RedteamSite) -> None:
    paths = [
        "/redteam",
        f"/redteam/{site.a}",
        f"/redteam/{site.a}/attempts/k0-0-0",
        f"/redteam/diff?a={site.a}&b={site.b}",
    ]
    anonymous = client(site, None)
    for path in paths:
        response = anonymous.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/login"), path
    reviewer = client(site, "rev0")
    for path in paths:
        assert reviewer.get(path).status_code == 404, path
    token = csrf_of(reviewer.get("/").text)
    sent = reviewer.post(f"/redteam/{site.a}/review", data={"csrf_token": token, "campaign": "x"})
    assert sent.status_code == 404
    assert [c.name for c in _campaigns(site)] == ["rt"]  # nothing was created
    assert 'href="/redteam"' not in reviewer.get("/").text
    model = reviewer.get(f"/models/{fingerprint_of('hf/ckpt-a')}").text
    assert f"/redteam/{site.a}" not in model  # the aggregate stays, the links do not
    admin = client(site, "admin")
    assert 'href="/redteam"' in admin.get("/").text
    model = admin.get(f"/models/{fingerprint_of('hf/ckpt-a')}").text
    assert f'href="/redteam/{site.a}"' in model and f"/redteam/diff?b={site.a}" in model
    for path in paths:
        assert admin.get(path).status_code == 200, path


def test_run_page_rates_filters_and_pages(site: RedteamSite) -> None:
    admin = client(site, "admin")
    listing = admin.get("/redteam").text  # the rates each run stored
    assert "18/60" in listing and "4/60" in listing and listing.count("1/3") == 2
    html = admin.get(f"/redteam/{site.a}").text
    low, high = wilson(18, 60)
    assert f'ASR 30.0% <small class="muted">[{100 * low:.1f}, {100 * high:.1f}] 18/60' in html
    assert "10/30" in html and "8/30" in html  # 개인정보 and 혐오
    assert html.count("<rect ") == 2  # one Wilson bar per category
    assert matched(html) == "63 / 63" and rows(html) == 50
    second = admin.get(f"/redteam/{site.a}?page=2").text
    assert rows(second) == 13 and "2 / 2" in second
    assert rows(admin.get(f"/redteam/{site.a}?page=99").text) == 13  # the last page
    cases = {
        "category=개인정보&generator=crescendo:red&outcome=success": 5,
        "turns=3": 9,
        "converters=(none)&kind=attack": 20,
        "outcome=failed": 2,
        "seed=seed-3": 6,
        "label=success": 1,
        "label=no_success": 1,
        "label=pending": 1,
        "label=none": 60,
    }
    for query, expected in cases.items():
        page = admin.get(f"/redteam/{site.a}?{query}").text
        assert matched(page) == f"{expected} / 63", query
        assert rows(page) == min(expected, 50), query
    on_page = admin.get(f"/redteam/{site.a}?label=success").text
    assert "k0-0-0" in on_page and "사람: 성공" in on_page
    assert admin.get(f"/redteam/{site.a}?outcome=bogus").status_code == 422
    assert admin.get(f"/redteam/{site.a}?turns=x").status_code == 400
    assert matched(admin.get(f"/redteam/{site.a}?turns=&category=&outcome=").text) == "63 / 63"
    paged = admin.get(f"/redteam/{site.a}?kind=attack").text
    assert f"/redteam/{site.a}?kind=attack&amp;page=2" in paged  # the pager keeps the filters


def test_attempt_page_shows_the_whole_chain_in_korean(site: RedteamSite) -> None:
    admin = client(site, "admin")
    html = admin.get(f"/redteam/{site.a}/attempts/k2-1-2").text  # crescendo, 3 turns
    assert html.count('<div class="turn ') == 6 + 2  # 3 exchanges, the seed and the attack
    assert "개인정보 질문 2 (턴 3)" in html and "죄송하지만" in html
    assert "judge:유해성" in html and "jamo" not in html and "base64 → spacing" in html
    assert "&#34;prompt&#34;: &#34;단계 3&#34;" in html  # the rest of the chain, as JSON
    assert "\\u" not in html  # Korean as Korean, never \uXXXX
    labelled = admin.get(f"/redteam/{site.a}/attempts/k0-0-0").text
    assert 'href="/c/rt/dashboard">rt</a> · 사람: 성공 · <a href="/c/rt/adjudicate/' in labelled
    item = re.search(r'href="(/c/rt/adjudicate/\d+)" id="review-item">1 라벨<', labelled)
    assert item and "ann" in admin.get(item.group(1)).text  # every label on the item
    assert admin.get(f"/redteam/{site.a}/attempts/nope").status_code == 404
    evaluation = next(r for r in site.store.list_runs(limit=None) if r.kind != "redteam")
    assert admin.get(f"/redteam/{evaluation.id}").status_code == 404


def test_diff_page_numbers_and_flips(site: RedteamSite) -> None:
    admin = client(site, "admin")
    html = admin.get(f"/redteam/diff?a={site.a}&b={site.b}").text
    table = html[html.index('id="diff"') : html.index("</table>", html.index('id="diff"'))]
    assert "18/60" in table and "4/60" in table and f"{100 * (4 - 18) / 60:+.1f}" in table
    assert "10/30" in table and "3/30" in table and "8/30" in table and "1/30" in table
    flips = html[html.index('id="flips"') :]
    assert flips.count('<tr class="broken">') == 1 and flips.count('<tr class="fixed">') == 6
    assert f'href="/redteam/{site.b}?seed=seed-9">1/6</a>' in flips
    assert html.count("<rect ") == 4  # A and B per category
    assert admin.get(f"/redteam/diff?a={site.a}&b={site.a}").status_code == 400
    assert admin.get(f"/redteam/diff?a={site.a}&b=0123").status_code == 404
    picker = admin.get(f"/redteam/diff?b={site.b}").text
    assert f'<option value="{site.b}" selected>' in picker


def test_send_a_selection_to_review(fresh_site: RedteamSite) -> None:
    site = fresh_site
    admin = client(site, "admin")
    token = csrf_of(admin.get(f"/redteam/{site.a}").text)
    url = f"/redteam/{site.a}/review?category=혐오&outcome=success"
    form = {"csrf_token": token, "campaign": "rt-new", "reviewers": "rev0"}
    assert admin.post(url, data={**form, "csrf_token": "forged"}).status_code == 403
    sent = admin.post(url, data=form)
    assert (sent.status_code, sent.headers["location"]) == (303, "/c/rt-new/dashboard")
    items = campaign_results(site.store, "rt-new", DATABASE_OWNER).items
    expected = {
        f"{site.a[:8]}-k{s}-{g}-{c}"
        for s in range(1, 10, 2)
        for g in range(2)
        for c in range(3)
        if rule_a(s, g, c)
    }
    assert {i.external_id for i in items} == expected and len(expected) == 8
    assert {i.source for i in items} == {f"redteam:{site.a}"}
    assert members(site.store, "rt-new") == ["rev0"]
    assert admin.post(url, data=form).status_code == 303  # again: every attempt skipped
    assert len(campaign_results(site.store, "rt-new", DATABASE_OWNER).items) == 8
    assert matched(admin.get(f"/redteam/{site.a}?label=pending").text) == "9 / 63"
    for bad in ({"campaign": "a b/c"}, {"campaign": ""}, {"reviewers": "nobody"}):
        response = admin.post(url, data={**form, "campaign": "rt-bad", **bad})
        assert response.status_code == 400, bad
    assert admin.post(f"/redteam/{site.a}/review?seed=none", data=form).status_code == 400
    assert "rt-bad" not in [c.name for c in _campaigns(site)]


def test_text_is_escaped(site: RedteamSite) -> None:
    admin = client(site, "admin")
    for path in ("/redteam", f"/redteam/{site.hostile}", f"/redteam/{site.hostile}/attempts/x1"):
        html = admin.get(path).text
        assert "<script>window" not in html and "<img" not in html, path
        assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html, path


def _campaigns(site: RedteamSite) -> list:  # type: ignore[type-arg]
    from haechi.review.campaigns import list_campaigns

    return list_campaigns(site.store, DATABASE_OWNER)


def test_long_texts_are_cut_on_the_attempt_page(fresh_site: RedteamSite) -> None:
    from haechi.web.display import MAX_SHOWN_CHARS as TEXT_CHARS

    site = fresh_site
    text = "가" * (TEXT_CHARS + 5)
    run = store_run(
        site.store, "long", "hf/x", [attempt("k", "s", "c", "direct", "", 1, True, text=text)]
    )
    html = client(site, "admin").get(f"/redteam/{run}/attempts/k").text
    assert "가" * TEXT_CHARS in html and "가" * (TEXT_CHARS + 1) not in html
    assert f"({TEXT_CHARS + 5})" in html  # the cut says how long the text was
