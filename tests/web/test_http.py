"""The web app over real HTTP on loopback: sessions, CSRF, authorization on every route,
security headers, the labelling flow and exports."""

from __future__ import annotations

import io
import json

import httpx
import pyarrow.parquet as pq
import pytest
from tests.web.conftest import Site, csrf_of, login

from haechi.review.accounts import DATABASE_OWNER
from haechi.review.queue import current_item
from haechi.review.results import campaign_results


def label_form(token: str, **values: object) -> dict[str, object]:
    return {"csrf_token": token, "attack_success": "yes", "severity": "1", **values}


def open_next(client: httpx.Client) -> tuple[str, str]:
    """Claim work from the queue; returns (item path, CSRF token of its page)."""
    response = client.post("/c/camp/next", data={"csrf_token": csrf_of(client.get("/").text)})
    assert response.status_code == 303
    path = response.headers["location"]
    return path, csrf_of(client.get(path).text)


def test_login_sets_a_hardened_session_cookie(site: Site) -> None:
    client = httpx.Client(base_url=site.url)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "rev0", "password": "correct horse battery", "csrf_token": token},
    )
    assert response.status_code == 303
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "haechi_session" in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("samesite", "SameSite")


def test_wrong_password_and_rate_limit(site: Site) -> None:
    client = httpx.Client(base_url=site.url)
    token = csrf_of(client.get("/login").text)
    codes = [
        client.post(
            "/login", data={"username": "rev1", "password": f"guess{i}", "csrf_token": token}
        ).status_code
        for i in range(11)
    ]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    # the right password is refused too while the limit lasts
    right = client.post(
        "/login",
        data={"username": "rev1", "password": "correct horse battery", "csrf_token": token},
    )
    assert right.status_code == 429


def test_login_without_csrf_token_is_refused(site: Site) -> None:
    response = httpx.post(
        f"{site.url}/login", data={"username": "rev0", "password": "correct horse battery"}
    )
    assert response.status_code == 403


def test_every_page_sends_security_headers(site: Site) -> None:
    client = login(site.url, "admin")
    for path in ["/", "/login", "/c/camp/dashboard", "/leaderboard", "/admin/users", "/nope"]:
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_pages_need_a_session(site: Site) -> None:
    client = httpx.Client(base_url=site.url)
    for path in ["/", "/c/camp/next", "/c/camp/items/1", "/c/camp/dashboard", "/admin/users"]:
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.post("/c/camp/items/1/label", data={}).status_code == 401
    assert client.post("/c/camp/next", data={}).status_code == 401


def test_reviewers_cannot_reach_admin_routes_or_other_items(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    token = csrf_of(reviewer.get("/").text)
    for path in [
        "/c/camp/dashboard",
        "/c/camp/adjudicate",
        "/c/camp/adjudicate/1",
        "/admin/users",
        "/c/camp/export?fmt=jsonl",
    ]:
        assert reviewer.get(path).status_code == 404, path
    assert (
        reviewer.post(
            "/admin/users", data={"csrf_token": token, "username": "x", "password": "12345678"}
        ).status_code
        == 404
    )
    assert reviewer.post("/c/camp/adjudicate/1", data={"csrf_token": token}).status_code == 404
    assert reviewer.get("/c/camp/adjudicate/1/labels/rev1").status_code == 404
    assert (
        reviewer.post("/c/camp/adjudicate/1/labels/rev1", data=label_form(token)).status_code == 404
    )
    # items not assigned to this reviewer, and campaigns they are not a member of
    assert reviewer.get("/c/camp/items/3").status_code == 404
    assert reviewer.post("/c/camp/items/3/label", data=label_form(token)).status_code == 404
    assert reviewer.get("/c/other/next").status_code == 404


def test_state_changes_need_the_session_csrf_token(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    path, token = open_next(reviewer)
    assert reviewer.post(f"{path}/label", data=label_form("forged")).status_code == 403
    assert reviewer.post(f"{path}/label", data=label_form("")).status_code == 403
    # another user's token does not work either
    other_token = csrf_of(login(site.url, "rev1").get("/").text)
    assert reviewer.post(f"{path}/label", data=label_form(other_token)).status_code == 403
    assert reviewer.post(f"{path}/label", data=label_form(token)).status_code == 303


def test_the_queue_claims_only_on_post(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    for _ in range(2):  # looking at the queue (a link, a prefetch) claims nothing
        page = reviewer.get("/c/camp/next")
        assert page.status_code == 200 and 'id="claim"' in page.text
    assert current_item(site.setup.store, "camp", site.setup.reviewers[0]) is None
    assert reviewer.post("/c/camp/next", data={"csrf_token": "forged"}).status_code == 403
    path, token = open_next(reviewer)
    assert (
        path == f"/c/camp/items/{current_item(site.setup.store, 'camp', site.setup.reviewers[0])}"
    )
    assert reviewer.get("/c/camp/next").headers["location"] == path  # the open item again
    # submitting goes straight to the next item, claimed by that POST
    submitted = reviewer.post(f"{path}/label", data=label_form(token))
    assert submitted.status_code == 303 and submitted.headers["location"] != path
    assert submitted.headers["location"].startswith("/c/camp/items/")


def test_a_skipped_item_takes_no_label(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    path, token = open_next(reviewer)
    skipped = reviewer.post(f"{path}/skip", data={"csrf_token": token})
    assert skipped.status_code == 303 and skipped.headers["location"] != path
    page = reviewer.get(path).text
    assert 'id="given-back"' in page and 'id="label-form"' not in page
    refused = reviewer.post(f"{path}/label", data=label_form(token))
    assert refused.status_code == 400 and "skipped" in refused.text
    results = campaign_results(site.setup.store, "camp", DATABASE_OWNER)
    assert sum(len(item.labels) for item in results.items) == 0


def test_labelling_flow_and_double_submit(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    path, token = open_next(reviewer)
    page = reviewer.get(path).text
    assert "verdicts-hidden" in page
    form = label_form(token, harm_categories=["privacy_leak", "sexual"], note="메모")
    first = reviewer.post(f"{path}/label", data=form)
    second = reviewer.post(f"{path}/label", data=form)
    assert first.status_code == second.status_code == 303
    after = reviewer.get(path).text
    assert "verdicts-hidden" not in after and "refusal" in after
    results = campaign_results(site.setup.store, "camp", DATABASE_OWNER)
    labels = [label for item in results.items for label in item.labels]
    assert len(labels) == 1
    assert labels[0].values == {
        "attack_success": "yes",
        "harm_categories": ["privacy_leak", "sexual"],
        "severity": "1",
        "note": "메모",
    }
    bad = reviewer.post(f"{path}/label", data=label_form(token, severity="7"))
    assert bad.status_code == 400 and "severity" in bad.text


def test_exports_over_http(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    path, token = open_next(reviewer)
    reviewer.post(f"{path}/label", data=label_form(token))
    admin = login(site.url, "admin")
    lines = admin.get("/c/camp/export?fmt=jsonl").text.splitlines()
    assert len(lines) == 6 and sum(len(json.loads(x)["labels"]) for x in lines) == 1
    table = pq.read_table(io.BytesIO(admin.get("/c/camp/export?fmt=parquet").content))
    assert table.num_rows == 6 and "labels" in table.column_names
    csv_text = admin.get("/c/camp/export?fmt=csv").text
    assert csv_text.splitlines()[0].startswith("id,category,prompt,response")
    assert admin.get("/c/camp/export?fmt=xml").status_code == 400


@pytest.mark.parametrize("role", ["admin", "reviewer"])
def test_admin_creates_users_who_can_log_in(site: Site, role: str) -> None:
    admin = login(site.url, "admin")
    token = csrf_of(admin.get("/admin/users").text)
    response = admin.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": f"new-{role}",
            "password": "another secret",
            "role": role,
        },
    )
    assert response.status_code == 303
    new = login(site.url, f"new-{role}", "another secret")
    assert (new.get("/admin/users").status_code == 200) == (role == "admin")


def test_admin_corrects_a_reviewers_label(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    path, token = open_next(reviewer)
    reviewer.post(f"{path}/label", data=label_form(token))
    item_id = path.rsplit("/", 1)[1]
    admin = login(site.url, "admin")
    page = admin.get(f"/c/camp/adjudicate/{item_id}/labels/rev0")
    assert page.status_code == 200
    saved = admin.post(
        f"/c/camp/adjudicate/{item_id}/labels/rev0",
        data=label_form(csrf_of(page.text), severity="3", note="고침"),
    )
    assert saved.status_code == 303
    (label,) = [
        x
        for i in campaign_results(site.setup.store, "camp", DATABASE_OWNER).items
        for x in i.labels
    ]
    assert (
        label.reviewer == "rev0"
        and label.values["severity"] == "3"
        and label.values["note"] == "고침"
    )
    assert admin.get(f"/c/camp/adjudicate/{item_id}/labels/rev2").status_code == 404


def test_korean_by_default_english_on_request(site: Site) -> None:
    client = httpx.Client(base_url=site.url)
    assert "로그인" in client.get("/login").text
    assert client.get("/lang/en").status_code == 303
    assert ">Log in<" in client.get("/login").text
    client.get("/lang/xx")  # unknown languages are ignored
    assert ">Log in<" in client.get("/login").text


def test_dashboard_keeps_controls_apart_as_over_refusal(site: Site) -> None:
    from haechi.review.imports import ImportLine, import_lines
    from haechi.store import open_store

    with open_store(site.db_url) as store:
        control = ImportLine(
            id="control-1",
            prompt="김치 담그는 법을 알려줘",
            response="알려드릴 수 없습니다.",
            category="food",
            control=True,
            verdicts=[{"detector": "refusal", "success": False}],
            detector_success=False,
        )
        import_lines(store, site.setup.campaign, [control], source="test")
    page = login(site.url, "admin").get("/c/camp/dashboard").text
    asr = page.split('id="asr"', 1)[1].split("</table>", 1)[0]
    assert "food" not in asr  # a benign control is no attack
    refusal = page.split('id="over-refusal"', 1)[1].split("</table>", 1)[0]
    assert "<td>1</td>" in refusal


def test_campaign_urls_encode_every_part() -> None:
    from haechi.web.routes_review import campaign_url

    assert campaign_url("a b", "adjudicate", 3, "labels", "x/../y?z") == (
        "/c/a%20b/adjudicate/3/labels/x%2F..%2Fy%3Fz"
    )
