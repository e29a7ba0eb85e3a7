"""The labelling pages over HTTP: a refused label keeps the form, verdicts are hidden from
whoever labels (admins too) and say what each detector decided, the attack chain and the
item read in the page's language, the adjudication list previews each item."""

from __future__ import annotations

import re

from tests.review.conftest import PASSWORD
from tests.web.conftest import Site, csrf_of, login
from tests.web.test_http import label_form, open_next

from haechi.review.accounts import DATABASE_OWNER
from haechi.review.campaigns import add_members, create_campaign
from haechi.review.imports import ImportLine, import_lines
from haechi.review.labels import PREVIEW_CHARS
from haechi.review.queue import leave_item, next_item
from haechi.review.results import campaign_results


def checked(page: str, name: str) -> set[str]:
    """The values of the checked inputs named ``name``."""
    inputs = re.findall(r"<input[^>]*>", page, flags=re.S)
    return {
        re.search(r'value="([^"]*)"', tag).group(1)  # type: ignore[union-attr]
        for tag in inputs
        if f'name="{name}"' in tag and re.search(r"\schecked\b", tag)
    }


def test_a_missing_required_field_keeps_what_was_entered(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    path, token = open_next(reviewer)
    form = {
        "csrf_token": token,
        "attack_success": "yes",
        "harm_categories": ["privacy_leak", "sexual"],
        "note": "고민한 메모 <b>",
        "flagged": "on",
    }  # no severity
    refused = reviewer.post(f"{path}/label", data=form)
    assert refused.status_code == 400
    page = refused.text
    assert 'id="label-form"' in page and 'id="form-error"' in page  # the same page
    severity = page.split('id="field-severity"', 1)[1].split("</fieldset>", 1)[0]
    assert 'aria-invalid="true"' in page.split('id="field-severity"', 1)[1][:80]
    assert "필수 항목입니다" in severity
    assert checked(page, "attack_success") == {"yes"}
    assert checked(page, "harm_categories") == {"privacy_leak", "sexual"}
    assert 'name="flagged" checked' in page
    assert ">고민한 메모 &lt;b&gt;</textarea>" in page
    assert page.count("aria-invalid") == 1
    results = campaign_results(site.setup.store, "camp", DATABASE_OWNER)
    assert sum(len(item.labels) for item in results.items) == 0
    # completed, it goes through (and the item stays the reviewer's meanwhile)
    done = reviewer.post(f"{path}/label", data={**form, "severity": "2"})
    assert done.status_code == 303
    # in English the message is English; a bad option keeps the library's words
    reviewer.get("/lang/en")
    path, token = open_next(reviewer)
    page = reviewer.post(f"{path}/label", data={"csrf_token": token}).text
    assert "Required: choose one" in page
    page = reviewer.post(f"{path}/label", data=label_form(token, severity="7")).text
    assert "&#39;7&#39; is not one of" in page and checked(page, "attack_success") == {"yes"}


def test_admin_forms_keep_what_was_entered_too(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    path, token = open_next(reviewer)
    reviewer.post(f"{path}/label", data=label_form(token))
    item_id = path.rsplit("/", 1)[1]
    admin = login(site.url, "admin")
    token = csrf_of(admin.get(f"/c/camp/adjudicate/{item_id}").text)
    for target in (f"/c/camp/adjudicate/{item_id}", f"/c/camp/adjudicate/{item_id}/labels/rev0"):
        page = admin.post(target, data={"csrf_token": token, "severity": "3", "note": "판정"})
        assert page.status_code == 400, target
        assert checked(page.text, "severity") == {"3"} and ">판정</textarea>" in page.text
        assert 'id="field-attack_success" tabindex="-1" aria-invalid="true"' in page.text


def test_an_admin_labelling_from_the_queue_does_not_see_the_verdicts_first(site: Site) -> None:
    admin = login(site.url, "admin")
    path, token = open_next(admin)
    assert 'id="verdicts-hidden"' in admin.get(path).text
    admin.post(f"{path}/label", data=label_form(token))
    after = admin.get(path).text
    assert 'id="verdicts-hidden"' not in after and 'id="verdicts-reveal"' not in after
    assert "<b>refusal</b>" in after
    # adjudicating an item they did not label: the verdicts only behind a closed reveal
    other = int(path.rsplit("/", 1)[1]) + 5  # the last item: not claimed by the admin
    page = admin.get(f"/c/camp/adjudicate/{other}").text
    assert re.search(r'<details id="verdicts-reveal">\s*<summary>탐지기 판정 보기', page)


def test_verdicts_say_what_the_detector_decided(site: Site) -> None:
    reviewer = login(site.url, "rev0")
    seen = []
    for _ in range(2):  # the fixture's refusal detector: success on even items
        path, token = open_next(reviewer)
        reviewer.post(f"{path}/label", data=label_form(token))
        page = reviewer.get(path).text
        seen.append(re.search(r"<b>refusal</b>:(.*?)</li>", page, flags=re.S).group(1).strip())  # type: ignore[union-attr]
    assert sorted(seen) == [
        "공격 성공으로 판정 (모델이 거절하지 않음)",
        "공격 실패로 판정 (모델이 거절함)",
    ]
    reviewer.get("/lang/en")
    page = reviewer.get(path).text
    assert re.search(
        r"<b>refusal</b>: judged: attack (succeeded|failed) \(the model (did not refuse|refused)\)",
        page,
    )
    assert "True" not in page and "False" not in page


def test_the_item_reads_in_korean(site: Site) -> None:
    line = ImportLine(
        id="chain-1",
        prompt="질문",
        response="답",
        category="privacy",
        chain={
            "converters": ["자모 분리", "<b>띄어쓰기</b>"],
            "seed": {"text": "씨앗"},
            "x_key": 1,
        },
        verdicts=[{"detector": "refusal", "success": True}],
    )
    store = site.setup.store
    campaign = create_campaign(store, "chain", overlap=1)
    add_members(store, "chain", ["rev0"])
    import_lines(store, campaign, [line], source="test")
    reviewer = login(site.url, "rev0")
    token = csrf_of(reviewer.get("/").text)
    path = reviewer.post("/c/chain/next", data={"csrf_token": token}).headers["location"]
    page = reviewer.get(path).text
    chain = page.split('<details class="chain">', 1)[1].split("</details>", 1)[0]
    assert "\\u" not in chain and "자모 분리" in chain and "&lt;b&gt;띄어쓰기" in chain
    assert '"text": "씨앗"' in chain.replace("&#34;", '"')
    assert ">변환기</dt>" in chain and ">시드</dt>" in chain and ">x_key</dt>" in chain
    roles = re.findall(r'<div class="role">([^<]*)</div>', page)
    assert roles == ["사용자", "모델"]
    assert '<span title="privacy">개인정보</span>' in page
    assert "rev0 (검토자)" in page
    reviewer.get("/lang/en")
    page = reviewer.get(path).text
    assert re.findall(r'<div class="role">([^<]*)</div>', page) == ["User", "Assistant"]
    assert ">Converters</dt>" in page and "rev0 (Reviewer)" in page


def test_the_adjudication_list_previews_each_item_and_its_split(site: Site) -> None:
    store = site.setup.store
    for who, success in zip(site.setup.reviewers[:2], ("yes", "no"), strict=True):
        client = login(site.url, who.username, PASSWORD)
        path, token = open_next(client)
        client.post(f"{path}/label", data=label_form(token, attack_success=success))
    long = ImportLine(id="long", prompt="가" * 1000, response="나" * 1000, category="hate")
    campaign = create_campaign(store, "long", overlap=1)
    add_members(store, "long", ["rev0"])
    import_lines(store, campaign, [long], source="test")
    item = next_item(store, "long", site.setup.reviewers[0])
    leave_item(store, "long", item, site.setup.reviewers[0], "flagged")  # type: ignore[arg-type]
    admin = login(site.url, "admin")
    page = admin.get("/c/camp/adjudicate").text
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert len(rows) == 1
    assert "질문 0" in rows[0] and "답변 0" in rows[0] and "개인정보" in rows[0]
    assert re.search(
        r"<b>공격 성공</b>: <span class=\"vote\">예 ×1</span> · <span class=\"vote\">아니오 ×1</span>",
        rows[0],
    )
    dashboard = admin.get("/c/camp/dashboard").text
    agreement = dashboard.split('id="agreement"', 1)[1].split("</table>", 1)[0]
    assert '<td title="attack_success">공격 성공</td><td>전체</td><td>명목</td>' in agreement
    assert '<td title="privacy">개인정보</td>' in dashboard.split('id="asr"', 1)[1]
    page = admin.get("/c/long/adjudicate").text
    assert "가" * PREVIEW_CHARS in page and "가" * (PREVIEW_CHARS + 1) not in page
    assert "✓ 1" in page and "혐오" in page
