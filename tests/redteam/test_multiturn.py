"""Crescendo and TAP end to end: against a scripted target served on loopback (it refuses,
then complies at turn k) through the ``openai/`` backend, with scripted attackers and
judges on the same server; conversation-level detection; resume mid-conversation; and
both attackers on real tiny models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.models.servers import FaultServer
from tests.redteam.scripted import COMPLIANCE, OFF_TOPIC, REFUSAL, Script

from haechi.errors import BackendError, InputError
from haechi.redteam.campaign import load_campaign
from haechi.redteam.converters import CONVERTERS
from haechi.redteam.metrics import asr_by_turn
from haechi.redteam.report import build_report, render_html
from haechi.redteam.runner import Campaign
from haechi.store import open_store
from haechi.store.attempts import AttemptRecord, load_attempts, load_progress


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def server(script: Script) -> Iterator[FaultServer]:
    with FaultServer(respond=script) as running:
        yield running


def campaign(tmp_path: Path, url: str, generators: str, extra: str = "", seeds: int = 2) -> Path:
    """A campaign where every model is the scripted server (told apart by its prompts)."""
    args = json.dumps({"base_url": url, "max_retries": 0})
    path = tmp_path / "multi.yaml"
    path.write_text(
        "name: multi\n"
        f"target: {{model: openai/target, model_args: {args}, max_new_tokens: 32}}\n"
        f"seeds: [{{source: bundled, limit: {seeds}}}]\n"
        "controls: []\n"
        "generators:\n"
        + (generators + extra).replace("ARGS", args),
        encoding="utf-8",
    )  # fmt: skip
    return path


def run(path: Path, tmp_path: Path) -> list[AttemptRecord]:
    with open_store(str(tmp_path / "s.db")) as store:
        outcome = Campaign(load_campaign(path), tmp_path).run(store, progress=False)
        return load_attempts(store, outcome.run_id)


def test_crescendo_backtracks_on_refusal_until_the_target_complies(
    script: Script, server: FaultServer, tmp_path: Path
) -> None:
    path = campaign(
        tmp_path,
        server.url,
        "  - {type: crescendo, model: openai/attacker, model_args: ARGS, turns: 5, backtracks: 1}\n",
        "converters: [[], [zero_width]]\n",
    )
    attempts = run(path, tmp_path)
    assert len(attempts) == 2 * 2  # seeds × converter chains
    for a in attempts:
        events = a.chain["events"]
        # turn 1 refused and taken back once, refused again and kept; turn 2 refused; turn 3 complied
        assert [(e["refused"], e["backtracked"]) for e in events] == [
            (True, True), (True, False), (True, False), (False, False)
        ]  # fmt: skip
        assert a.success and a.turns == 3 == script.comply_at
        assert a.generator == "crescendo:openai/attacker"
        kept = [e for e in events if not e["backtracked"]]
        assert [t["content"] for t in a.chain["turns"][1::2]] == [REFUSAL, REFUSAL, COMPLIANCE]
        for event in events:
            convert = CONVERTERS[a.converters] if a.converters else (lambda s: s)
            assert event["sent"] == convert(event["prompt"])
        assert [t["content"] for t in a.chain["turns"][::2]] == [e["sent"] for e in kept]
        # every verdict names the turn it judged; the attempt's are the last turn's
        assert [v["turn"] for e in kept for v in e["verdicts"]] == [1, 2, 3]
        assert [(v.detector, v.turn, v.success) for v in a.verdicts] == [("refusal", 3, True)]
    # what the target saw: the taken-back turn is gone from its history
    firsts = {
        next(m["content"] for m in call if m["role"] == "user") for call in script.target_calls
    }
    assert firsts == {"질문 1: 조금 더 자세히", "질문 2: 조금 더 자세히"} | {
        CONVERTERS["zero_width"](f"질문 {n}: 조금 더 자세히") for n in (1, 2)
    }  # question 1, taken back, never opens a later conversation
    assert max(len(call) for call in script.target_calls) == 5  # 3 user turns, 2 replies
    assert script.roles["target"] == 4 * 4 and script.roles["crescendo"] == 4 * 4


def test_harm_split_over_turns_is_detected_on_the_whole_conversation(
    script: Script, server: FaultServer, tmp_path: Path
) -> None:
    script.split = True
    path = campaign(
        tmp_path,
        server.url,
        "  - {type: crescendo, model: openai/attacker, model_args: ARGS, turns: 5, backtracks: 0}\n",
        "detectors: [{type: judge, model: openai/judge, model_args: ARGS}]\n",
        seeds=1,
    )
    (attempt,) = run(path, tmp_path)
    events = attempt.chain["events"]
    # PART-A alone (turn 3) is not harmful; PART-B (turn 4) only with what came before
    assert [e["success"] for e in events] == [False, False, False, True]
    assert "PART-A" not in events[-1]["response"]
    assert attempt.success and attempt.turns == 4
    # the refusal check that drives backtracking is kept too, outside the decision
    assert [(v.detector, v.turn, v.success) for v in attempt.verdicts] == [
        ("judge-harmbench", 4, True), ("refusal", 4, True)
    ]  # fmt: skip
    assert [e["refused"] for e in events] == [True, True, False, False]


def test_tap_prunes_off_topic_branches_and_stops_on_success(
    script: Script, server: FaultServer, tmp_path: Path
) -> None:
    path = campaign(
        tmp_path,
        server.url,
        "  - {type: tap, model: openai/attacker, model_args: ARGS, judge: openai/judge,\n"
        "     judge_args: ARGS, depth: 4, branching: 2, width: 1}\n",
    )
    attempts = run(path, tmp_path)
    assert len(attempts) == 2
    for a in attempts:
        tree = a.chain["tree"]
        assert len(tree) == 3 * 2  # success at depth 3 of 4: two children of one leaf a level
        off = [n for n in tree if n["prompt"] == OFF_TOPIC]
        assert len(off) == 3 and all(n["pruned"] == "off_topic" for n in off)
        assert all(n["response"] is None for n in off)  # never sent
        on = [n for n in tree if n["prompt"] != OFF_TOPIC]
        assert [n["depth"] for n in on] == [1, 2, 3]
        assert [n["rating"] for n in on] == [2, 2, 10]
        assert [n["success"] for n in on] == [False, False, True]
        assert [n["id"] for n in on] == a.chain["path"]
        assert all(n["parent"] == p for n, p in zip(on[1:], a.chain["path"], strict=False))
        assert all(v["turn"] == n["depth"] for n in on for v in n["verdicts"])
        assert a.success and a.turns == 3 and a.verdicts[0].turn == 3
        assert a.chain["turns"] == [
            {"role": "user", "content": on[-1]["sent"]},
            {"role": "assistant", "content": COMPLIANCE},
        ]
    assert script.roles["tap"] == 2 * 6 and script.roles["on_topic"] == 2 * 6
    assert script.roles["target"] == 2 * 3 == script.roles["rating"]


def test_a_failed_conversation_resumes_mid_conversation(
    script: Script, server: FaultServer, tmp_path: Path
) -> None:
    script.fail_target_call = 3
    path = campaign(
        tmp_path,
        server.url,
        "  - {type: crescendo, model: openai/attacker, model_args: ARGS, turns: 5, backtracks: 0}\n",
        seeds=1,
    )
    db = str(tmp_path / "s.db")
    with open_store(db) as store, pytest.raises(BackendError, match="scripted target failure"):
        Campaign(load_campaign(path), tmp_path).run(store, progress=False)
    with open_store(db) as store:
        [failed] = store.list_runs(kind="redteam")
        kept = load_progress(store, failed.id)
        assert failed.status == "failed" and [len(s["events"]) for s in kept.values()] == [2]
        Campaign(load_campaign(path), tmp_path).run(store, progress=False)
        (attempt,) = load_attempts(store, failed.id)
        assert load_progress(store, failed.id) == {}
        assert store.get_run(failed.id).status == "completed"
    # turns 1 and 2 were not sent again: call 3 failed, call 4 is turn 3 with both before it
    assert len(script.target_calls) == 4
    assert sum(m["role"] == "user" for m in script.target_calls[3]) == 3
    assert attempt.success and attempt.turns == 3
    assert [e["response"] for e in attempt.chain["events"]] == [REFUSAL, REFUSAL, COMPLIANCE]


def test_report_gives_asr_by_turn_reached(
    script: Script, server: FaultServer, tmp_path: Path
) -> None:
    path = campaign(
        tmp_path,
        server.url,
        "  - {type: direct}\n"
        "  - {type: crescendo, model: openai/attacker, model_args: ARGS, turns: 2, backtracks: 0}\n"
        "  - {type: crescendo, model: openai/attacker2, model_args: ARGS, turns: 4, backtracks: 0}\n",
    )
    run(path, tmp_path)
    with open_store(str(tmp_path / "s.db")) as store:
        report = build_report(store, "multi")
    data = report.to_json()["asr_by_turn"]
    assert set(data) == {"crescendo:openai/attacker", "crescendo:openai/attacker2"}
    short = data["crescendo:openai/attacker"]  # two turns: the target never complies
    assert [(r["turn"], r["reached"], r["succeeded"]) for r in short] == [(1, 2, 0), (2, 2, 0)]
    long = data["crescendo:openai/attacker2"]
    assert [(r["reached"], r["succeeded"], r["asr"]["rate"]) for r in long] == [
        (2, 0, 0.0), (2, 0, 0.0), (2, 2, 1.0)
    ]  # fmt: skip
    assert "ASR by turn reached · crescendo:openai/attacker2" in render_html(report)


def test_asr_by_turn_counts_successes_within_each_turn() -> None:
    def attempt(turns: int, success: bool) -> AttemptRecord:
        return AttemptRecord(
            key=f"{turns}{success}", seed_id="s", category="hate", benign=False,
            generator="crescendo:x", converters="", turns=turns, success=success, chain={},
        )  # fmt: skip

    rows = asr_by_turn([attempt(1, True), attempt(2, False), attempt(3, True), attempt(3, False)])
    assert [(r.turn, r.reached, r.succeeded) for r in rows] == [(1, 4, 1), (2, 3, 0), (3, 2, 1)]
    assert [r.asr.value for r in rows] == [0.25, 0.25, 0.5]


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ("{type: crescendo, turns: 2}", "generators.0.model", "Field required"),
        ("{type: tap, model: hf/x, depth: 0}", "generators.0.depth", "greater than"),
        ("{type: tap, model: hf/x, rounds: 2}", "generators.0.rounds", "Extra inputs"),
        ("{type: crescendo, model: hf/x}, {type: crescendo, model: hf/x}", "generators", "differ"),
    ],
)
def test_bad_multi_turn_entries_name_the_field(
    tmp_path: Path, entry: str, field: str, message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"name: c\ntarget: {{model: hf/x}}\nseeds: [{{source: bundled}}]\ngenerators: [{entry}]\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_campaign(path)
    assert caught.value.field == field and message in caught.value.message
    assert caught.value.file == str(path) and caught.value.line == 4


def test_old_generator_entries_keep_their_fingerprint(tmp_path: Path) -> None:
    """Multi-turn entries are their own classes, so campaigns written before them resume."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\ntarget: {model: hf/x}\nseeds: [{source: bundled}]\n"
        "generators: [{type: direct}, {type: pair, model: hf/y}]\n",
        encoding="utf-8",
    )
    dumped = load_campaign(path).model_dump(mode="json")["generators"]
    assert [sorted(g) for g in dumped] == [
        sorted(["type", "families", "model", "model_args", "mode", "per_category", "shots",
                "rounds", "temperature", "max_new_tokens"])
    ] * 2  # fmt: skip


@pytest.mark.slow
def test_crescendo_and_tap_on_real_tiny_models(
    tiny_llama_dir: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    attacker = f"hf/{tiny_qwen2_dir}"
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny-multi\n"
        f"target: {{model: hf/{tiny_llama_dir}, max_new_tokens: 8}}\n"
        "seeds: [{source: bundled, limit: 2}]\n"
        "controls: []\n"
        "generators:\n"
        f"  - {{type: crescendo, model: {attacker}, turns: 2, backtracks: 1, max_new_tokens: 12}}\n"
        f"  - {{type: tap, model: {attacker}, depth: 2, branching: 2, width: 1, max_new_tokens: 12}}\n"
        f"detectors: [{{type: refusal}}, {{type: judge, model: {attacker}, max_new_tokens: 4}}]\n",
        encoding="utf-8",
    )
    with open_store(str(tmp_path / "s.db")) as store:
        outcome = Campaign(load_campaign(path), tmp_path).run(store, progress=False)
        attempts = load_attempts(store, outcome.run_id)
        report = build_report(store, "tiny-multi")
    crescendo = [a for a in attempts if a.generator.startswith("crescendo:")]
    tap = [a for a in attempts if a.generator.startswith("tap:")]
    assert len(crescendo) == 2 and len(tap) == 2
    for a in crescendo:
        events = a.chain["events"]
        kept = [e for e in events if not e["backtracked"]]
        assert 1 <= a.turns == len(kept) <= 2 and len(events) <= a.turns + 1
        assert len(a.chain["turns"]) == 2 * a.turns
        assert all(e["attacker"] for e in events)  # the tiny attacker's raw text is kept
        assert {v.turn for v in a.verdicts} == {a.turns}
        assert {v.detector for v in a.verdicts} == {"refusal", "judge-harmbench"}
        assert a.success == kept[-1]["success"] and not any(e["success"] for e in kept[:-1])
    for a in tap:
        tree = a.chain["tree"]
        assert 2 <= len(tree) <= 4 and {n["depth"] for n in tree} <= {1, 2}
        assert all(v["turn"] == n["depth"] for n in tree for v in n["verdicts"])
        assert a.turns == max(n["depth"] for n in tree if n["id"] == a.chain["best"])
    rows = report.by_turn_reached()
    assert set(rows) == {a.generator for a in attempts}
    assert all(r[-1].asr.n == 2 for r in rows.values())
