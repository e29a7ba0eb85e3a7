"""The evaluation and model pages over HTTP: login, roles, errors, headers; the model
summary behind them; and ``haechi report`` writing the model page as one safe file."""

from __future__ import annotations

from contextlib import closing
from html import unescape
from pathlib import Path

import httpx
import pytest
from tests.web.conftest import login
from tests.web.lab import Lab
from typer.testing import CliRunner

from haechi.cli.app import app
from haechi.errors import InputError
from haechi.model_summary import find_model, model_summary
from haechi.store import ResultRecord, Store, open_store
from haechi.web.report import REPORT_CSP
from haechi.web.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.slow  # the lab: two evaluations and a red-team run
PAYLOAD = "<script>window.__xss = 1</script><img src=x onerror=alert(1)>"


def test_pages_need_a_login_and_answer_bad_requests(lab_site: tuple[str, Lab]) -> None:
    url, lab = lab_site
    paths = ["/leaderboard", "/runs", f"/runs/{lab.a}", "/models", f"/models/{lab.fp_a}"]
    with httpx.Client(base_url=url) as anonymous:
        for path in [*paths, f"/runs/{lab.a}/samples/ko_arc", f"/compare?a={lab.a}&b={lab.b}"]:
            response = anonymous.get(path)
            assert (response.status_code, response.headers["location"]) == (303, "/login"), path
    with closing(login(url, "rev0")) as reviewer:
        for path in paths:
            response = reviewer.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert reviewer.get("/runs/0123456789abcdef").status_code == 404
        assert reviewer.get("/models/no-such-model").status_code == 404
        assert reviewer.get(f"/runs/{lab.a}/samples/no_such_task").status_code == 400
        assert reviewer.get(f"/runs/{lab.a}/samples/..%2Fresults").status_code in (400, 404)
        assert reviewer.get(f"/compare?a={lab.a}&b={lab.a}").status_code == 400
        assert reviewer.get(f"/runs/{lab.a}/samples/ko_arc?show=bogus").status_code == 422
        page = reviewer.get(f"/runs/{lab.a}/samples/ko_arc?doc=3").text
        assert page.count('class="card sample') == 1 and 'id="doc-3"' in page


def test_model_summary_gathers_every_kind_of_evidence(lab_store: tuple[Store, Lab]) -> None:
    store, lab = lab_store
    summary = model_summary(store, lab.fp_a, lab.admin)
    assert summary.row is not None and summary.row.run_id == lab.a
    assert [p.run_id for p in summary.partial_rows] == [lab.partial]
    assert summary.against is not None and summary.against.model_fingerprint == lab.fp_b
    assert [r.id for r in summary.judge_runs] and summary.judge_runs[0].results[0].value == 3.5
    (redteam,) = summary.redteam
    assert redteam.run.id == lab.redteam and redteam.asr.n == 4  # 4 seeds; controls apart
    (human,) = summary.human
    assert human.campaign == "rt" and human.overall is not None
    assert human.overall.human.n == 4  # every attack labelled "yes" by the reviewer
    assert human.overall.human.successes == 4
    (arena,) = summary.arena
    assert (arena.rating.wins, arena.rating.losses) == (4, 2)  # "a" won 4 of the 6 votes
    hidden = model_summary(store, lab.fp_a, lab.reviewer)
    assert hidden.labels_hidden and hidden.human == [] and hidden.arena == []
    assert find_model(store, lab.fp_a[:6]) == lab.fp_a
    assert find_model(store, lab.spec_b) == lab.fp_b


def test_report_is_one_safe_file(lab_store: tuple[Store, Lab], tmp_path: Path) -> None:
    store, lab = lab_store
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["report", lab.fp_a[:8], "-o", str(out), "--db", store.url, "--against", lab.spec_b]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text("utf-8")
    policy = f'http-equiv="Content-Security-Policy" content="{REPORT_CSP}"'
    assert policy in unescape(html)
    assert "<script" not in html and "href=" not in html and "src=" not in html
    assert 'id="scores-chart"' in html and 'id="arena-chart-0"' in html
    assert "tiny-qwen2" in html and 'table class="grid lab human"' in html
    missing = CliRunner().invoke(app, ["report", "nobody", "-o", str(out), "--db", store.url])
    assert isinstance(missing.exception, InputError)  # exit 2 through haechi.cli.app.main
    assert "tiny-llama" in str(missing.exception)  # the hint lists the stored models


def test_report_escapes_model_text(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    with open_store(db) as store:
        run = store.start_run("eval", PAYLOAD, "fp-x", {}, {})
        result = ResultRecord(
            task=PAYLOAD[:40], metric="acc", value=0.5, stderr=0.1, n=4, is_primary=True
        )
        store.add_results(run, [result])
        store.finish_run(run)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", "fp-x", "-o", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    html = out.read_text("utf-8")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
