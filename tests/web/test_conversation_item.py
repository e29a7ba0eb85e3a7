"""The review page shows a multi-turn attempt whole: every turn numbered, the verdict's turn."""

from __future__ import annotations

import re
from types import SimpleNamespace

import jinja2

from haechi.review.imports import lines_from_attempts
from haechi.store import open_store
from haechi.store.attempts import AttemptRecord, VerdictRecord, add_attempts
from haechi.web.app import _package_dir
from haechi.web.display import register
from haechi.web.i18n import translate


def test_a_conversation_is_shown_whole_with_the_verdicts_turn() -> None:
    turns = [
        {"role": "user", "content": "질문 1 <b>"},
        {"role": "assistant", "content": "답 1"},
        {"role": "user", "content": "질문 2"},
        {"role": "assistant", "content": "답 2"},
    ]
    attempt = AttemptRecord(
        key="k", seed_id="s", category="hate", benign=False, generator="crescendo:x",
        converters="", turns=2, success=True,
        chain={"turns": [t | {"round": 1} for t in turns], "response": "답 2", "events": []},
        verdicts=(VerdictRecord(detector="judge-harmbench", success=True, turn=2),),
    )  # fmt: skip
    with open_store("sqlite://") as store:
        run_id = store.start_run("redteam", "m", "f", {}, {}, name="c")
        add_attempts(store, run_id, [attempt])
        (line,) = lines_from_attempts(store, run_id)
    assert [t.model_dump() for t in line.turns] == turns
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_package_dir("templates"))), autoescape=True
    )
    register(env)
    item = SimpleNamespace(
        chain=line.chain, category=line.category, external_id="x", prompt=line.prompt,
        response=line.response, turns=[t.model_dump() for t in line.turns],
        verdicts={"verdicts": line.verdicts}, mine=object(),
    )  # fmt: skip
    macro = env.get_template("_item.html").module.show_item  # type: ignore[attr-defined]
    html = str(macro(item, lambda key: translate(key, "en"), "en"))
    shown = re.findall(r'data-turn="(\d)"[^>]*>\s*<div class="role">(\w+)', html)
    assert shown == [("1", "User"), ("1", "Assistant"), ("2", "User"), ("2", "Assistant")]
    assert "질문 1 &lt;b&gt;" in html and "답 2" in html
    assert re.search(r"<b>judge-harmbench</b>: judged: attack succeeded · turn 2</li>", html)
