"""Judged two-turn conversations (ko_logickor) with scripted models and a scripted judge:
the second turn carries the first answer, scores per category and turn are the numbers the
judge's replies give, the position-swap rule, unparsed verdicts, resume, the LogicKor
reader and the leaderboard group."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.evaluate import EvalConfig, ResponseCache, evaluate
from haechi.evaluate.judged import Judging
from haechi.evaluate.leaderboard import leaderboard
from haechi.judge.criteria import bundled_criteria
from haechi.judge.geval import pairwise_many
from haechi.models.base import (
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenStats,
)
from haechi.store import open_store
from haechi.tasks import DocumentSource, bundled_tasks
from haechi.tasks.registry import load_documents

# LogicKor's layout; the second row leaves out references, as LogicKor's own rows do.
ROWS = [
    {"id": 1, "category": "추론(Reasoning)", "questions": ["R1-첫", "R1-둘"], "references": ["정답R1", None]},
    {"id": 2, "category": "추론(Reasoning)", "questions": ["R2-첫", "R2-둘"]},
    {"id": 3, "category": "수학(Math)", "questions": ["M1-첫", "M1-둘"], "references": ["3", "4"]},
    {"id": 4, "category": "수학(Math)", "questions": ["M2-첫", "M2-둘"], "references": [None, None]},
]  # fmt: skip
# What the judge answers on each form (keyed by the question judged), and how it decides
# each pairwise prompt: "model" / "base" picks that side in either order; "A" always picks
# the first position (a position bias, which the swap turns into a tie).
REPLIES = {
    "R1-첫": "8", "R1-둘": "점수: 6", "R2-첫": "10", "R2-둘": "잘 모르겠습니다",
    "M1-첫": "5", "M1-둘": "3/10", "M2-첫": "2", "M2-둘": "9",
}  # fmt: skip
PREFERS = {
    "R1-첫": "model", "R1-둘": "model", "R2-첫": "A", "R2-둘": "A",
    "M1-첫": "base", "M1-둘": "base", "M2-첫": "model", "M2-둘": "A",
}  # fmt: skip


class Scripted:
    """A ``LanguageModel`` whose answers are ``<name:hash of the prompt>``; as a judge it
    replies per ``REPLIES`` and prefers per ``PREFERS``. Every request is recorded."""

    def __init__(self, name: str) -> None:
        self.name = self.fingerprint = name
        self.stats = TokenStats()
        self.generated: list[list[GenerationRequest]] = []
        self.scored: list[list[LoglikelihoodRequest]] = []

    def describe(self) -> dict[str, object]:
        return {"backend": "scripted", "name": self.name}

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.generated.append(list(requests))
        return [Generation((self._answer(r),), ("stop",)) for r in requests]

    def _answer(self, request: GenerationRequest) -> str:
        prompt = request.prompt or "".join(m.content for m in request.messages or ())
        if prompt.rstrip().endswith("- 점수:"):  # a judge's form
            return REPLIES[judged_question(prompt)]
        if prompt.rstrip().endswith("답:"):  # a pairwise prompt, sent as a chat message
            return f"{pick(prompt)}가 더 낫습니다"
        return f"<{self.name}:{hashlib.sha256(prompt.encode()).hexdigest()[:6]}>"

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        self.scored.append(list(requests))
        return [
            LoglikelihoodResult(-1.0 if r.continuation == f" {pick(r.context)}" else -2.0, True, 1)
            for r in requests
        ]


def pick(prompt: str) -> str:
    """The letter the scripted judge prefers on a pairwise prompt (``PREFERS``)."""
    first = prompt.split("A:\n\n", 1)[1].split("\n\nB:\n\n", 1)[0]
    rule = PREFERS[judged_question(prompt)]
    side_a = "model" if "<model:" in first else "base"
    return "A" if rule == "A" else ("A" if rule == side_a else "B")


def judged_question(prompt: str) -> str:
    """The last question of the conversation a judge prompt shows."""
    return re.findall(r"[RM]\d-[첫둘]", prompt)[-1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "ko_logickor"
    folder.mkdir(parents=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in ROWS]
    (folder / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "data"


def run(
    data_dir: Path,
    tmp_path: Path,
    models: dict[str, Scripted],
    chat: bool = False,
    **options: object,
) -> tuple[object, Path]:
    config = EvalConfig(
        tasks=["logickor"], data_dir=data_dir, output=tmp_path / "out", log_samples=True,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip
    judging = Judging(models["judge"], models.get("base"), "greedy", chat)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    try:
        with open_store(str(tmp_path / "runs.db")) as store:
            report = evaluate(
                models["model"], config, store=store, cache=cache, progress=False, judging=judging
            )
    finally:
        cache.close()
    return report, tmp_path / "out" / "results.json"


def fresh() -> dict[str, Scripted]:
    return {name: Scripted(name) for name in ("model", "base", "judge")}


def test_scores_per_category_and_turn_and_pairwise(data_dir: Path, tmp_path: Path) -> None:
    models = fresh()
    _, path = run(data_dir, tmp_path, models)
    results = json.loads(path.read_text("utf-8"))["results"]

    # turn 2 is asked after the model's own turn-1 answer: one batch per turn
    turn1, turn2 = models["model"].generated
    for first, second in zip(turn1, turn2, strict=True):
        answer = f"<model:{hashlib.sha256((first.prompt or '').encode()).hexdigest()[:6]}>"
        assert second.prompt is not None and answer in second.prompt
        assert second.prompt.index(answer) < second.prompt.index("-둘")

    r, m = (results[f"ko_logickor_{n}"] for n in ("reasoning", "math"))
    whole = results["ko_logickor"]
    # reasoning: (8+6)/2 and 10 (turn 2 unparsed); math: (5+3)/2 and (2+9)/2, all / 10
    assert r["judge_score,none"] == pytest.approx(0.85)
    assert r["judge_score_stderr,none"] == pytest.approx(0.15)
    assert r["judge_score_turn1,none"] == pytest.approx(0.9)
    assert r["judge_score_turn2,none"] == pytest.approx(0.6)
    assert r["judge_score_turn2_stderr,none"] == "N/A"  # one scored turn
    assert r["judge_unparsed,none"] == pytest.approx(0.25)
    assert m["judge_score,none"] == pytest.approx(0.475)
    assert m["judge_score_turn1,none"] == pytest.approx(0.35)
    assert m["judge_score_turn2,none"] == pytest.approx(0.6)
    assert m["judge_unparsed,none"] == 0.0
    assert whole["judge_score,none"] == pytest.approx(0.6625)
    assert whole["judge_score_turn2,none"] == pytest.approx(0.6)
    assert whole["judge_unparsed,none"] == pytest.approx(0.125)
    pooled = math.sqrt((2 * 0.15) ** 2 + (2 * 0.075) ** 2) / 4  # size-weighted stderrs
    assert whole["judge_score_stderr,none"] == pytest.approx(pooled)
    # both orders agree → win/loss; a position bias (always A) → tie
    assert (r["win_rate,none"], r["tie_rate,none"], r["loss_rate,none"]) == (0.5, 0.5, 0.0)
    assert (m["win_rate,none"], m["tie_rate,none"], m["loss_rate,none"]) == (0.25, 0.25, 0.5)
    assert whole["win_rate,none"] == pytest.approx(3 / 8)
    assert whole["loss_rate,none"] == pytest.approx(2 / 8)
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples_ko_logickor_reasoning.jsonl").read_text("utf-8").splitlines()]  # fmt: skip
    unparsed = samples[1]["turns"][1]
    assert unparsed["judge"]["score"] is None and unparsed["judge"]["unparsed"] == 1
    assert unparsed["judge"]["answers"] == ["잘 모르겠습니다"]
    assert samples[1]["turns"][0]["pairwise"] == {"winner": "tie", "orders": ["A", "A"]}
    assert samples[0]["turns"][0]["reference"] == "정답R1"


def test_resume_sends_nothing_and_records_the_judge(data_dir: Path, tmp_path: Path) -> None:
    first = fresh()
    report_a, path = run(data_dir, tmp_path, first)
    assert sum(map(len, first["judge"].generated)) == 8  # one form per turn
    assert sum(map(len, first["judge"].scored)) == 32  # 8 turns × 2 orders × " A"/" B"
    again = fresh()
    report_b, _ = run(data_dir, tmp_path, again)
    for model in again.values():
        assert model.generated == [] and model.scored == []
    assert report_b.document["results"] == report_a.document["results"]  # type: ignore[attr-defined]
    judging = json.loads(path.read_text("utf-8"))["config"]["judging"]
    steps = bundled_criteria()["logickor_ko"].steps or ""
    recorded = judging["criteria"]["logickor_ko"]
    assert recorded["steps"] == steps
    assert recorded["steps_hash"] == hashlib.sha256(steps.encode()).hexdigest()[:16]
    assert (judging["judge_fingerprint"], judging["baseline"]["fingerprint"]) == ("judge", "base")

    with open_store(str(tmp_path / "runs.db")) as store:
        board = leaderboard(store, "logickor")
    assert [row.values["logickor"] for row in board.rows] == [pytest.approx(0.6625)]


def test_chat_template_sends_the_conversation_turn_by_turn(data_dir: Path, tmp_path: Path) -> None:
    models = fresh()
    run(data_dir, tmp_path, models, apply_chat_template="chatml")
    turn1, turn2 = models["model"].generated
    first, second = turn1[0].prompt or "", turn2[0].prompt or ""
    answer = f"<model:{hashlib.sha256(first.encode()).hexdigest()[:6]}>"
    assert second == (
        "<|im_start|>user\nM1-첫<|im_end|>\n"
        f"<|im_start|>assistant\n{answer}<|im_end|>\n"
        "<|im_start|>user\nM1-둘<|im_end|>\n<|im_start|>assistant\n"
    )


def test_a_chat_judge_gets_forms_and_pairs_as_user_messages(data_dir: Path, tmp_path: Path) -> None:
    models = fresh()
    _, path = run(data_dir, tmp_path, models, chat=True)
    sent = [r for batch in models["judge"].generated for r in batch]
    assert len(sent) == 8 + 16 and models["judge"].scored == []  # forms, then both orders
    assert all(r.prompt is None and r.messages is not None and len(r.messages) == 1 for r in sent)
    document = json.loads(path.read_text("utf-8"))
    whole = document["results"]["ko_logickor"]
    assert whole["judge_score,none"] == pytest.approx(0.6625)
    assert (whole["win_rate,none"], whole["loss_rate,none"]) == (3 / 8, 2 / 8)
    assert document["config"]["judging"]["chat"] is True


def test_a_judged_task_needs_a_judge(data_dir: Path) -> None:
    config = EvalConfig(tasks=["ko_logickor"], data_dir=data_dir)
    with pytest.raises(InputError, match="graded by a judge"):
        evaluate(Scripted("model"), config, progress=False)


def test_reader_takes_logickor_rows_and_names_bad_lines(tmp_path: Path) -> None:
    spec = bundled_tasks()["ko_logickor"]
    folder = tmp_path / "ko_logickor"
    folder.mkdir()
    odd = {"id": 3, "category": "추론(Reasoning)", "questions": ["a", "b", "b"], "references": ["x", None]}  # fmt: skip
    good = [json.dumps(r, ensure_ascii=False) for r in (ROWS[1], odd)]
    (folder / "test.jsonl").write_text("\n".join(good) + "\n", encoding="utf-8")
    docs = load_documents(spec, "test", DocumentSource("dir", tmp_path))
    assert [d.fields["turns"] for d in docs] == [["R2-첫", "R2-둘"], ["a", "b"]]
    assert [d.fields["refs"] for d in docs] == [[None, None], ["x", None]]
    assert docs[0].fields["subject"] == "reasoning"

    for bad, expected in [
        ({"id": 9, "category": "수학(Math)", "questions": ["only one"]}, "list of 2 texts"),
        ({"id": 9, "category": "수학(Math)"}, "lacks field 'questions'"),
        ({"id": 9, "category": "수학(Math)", "questions": ["a", "b"], "references": "x"}, "'references'"),
    ]:  # fmt: skip
        rows = [*good, json.dumps(bad, ensure_ascii=False)]
        (folder / "test.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        with pytest.raises(InputError, match=expected) as caught:
            load_documents(spec, "test", DocumentSource("dir", tmp_path))
        assert f"{folder / 'test.jsonl'}:3" in str(caught.value)


def test_bundled_set_covers_six_categories() -> None:
    spec = bundled_tasks()["ko_logickor"]
    docs = load_documents(spec, "test", DocumentSource())
    subjects = [d.fields["subject"] for d in docs]
    assert sorted(set(subjects)) == [
        "coding", "grammar", "math", "reasoning", "understanding", "writing",
    ]  # fmt: skip
    assert all(subjects.count(s) == 6 for s in set(subjects))
    with_reference = {d.fields["subject"] for d in docs if any(d.fields["refs"])}
    assert {"math", "reasoning", "grammar"} <= with_reference


def test_cli_runs_judged_tasks_and_refuses_them_without_a_judge(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from haechi.cli.app import app

    base = ["eval", "--model", "mock/m", "--tasks", "logickor", "--samples"]
    where = ["--db", str(tmp_path / "runs.db"), "--cache", str(tmp_path / "c.sqlite")]
    refused = CliRunner().invoke(app, [*base, *where])
    assert isinstance(refused.exception, InputError)  # exit 2 from haechi's main
    assert refused.exception.field == "judge"
    judged = ["--judge", "mock/j", "--judge-baseline", "mock/b", "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*base, *where, *judged])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))
    whole = document["results"]["ko_logickor"]
    # the mock judge writes words, never a score: every verdict is unparsed
    assert whole["judge_unparsed,none"] == 1.0 and math.isnan(whole["judge_score,none"])
    rates = [whole[f"{k}_rate,none"] for k in ("win", "tie", "loss")]
    assert sum(rates) == pytest.approx(1.0)
    assert document["config"]["judging"]["baseline"]["model"] == "b"
    assert document["stats"]["generation_requests"] == 24  # 6 questions × 2 turns × 2 models


def test_a_chat_judge_naming_no_letter_makes_a_tie() -> None:
    class Replies(Scripted):
        def __init__(self, texts: list[str]) -> None:
            super().__init__("letters")
            self.texts = texts

        def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
            return [Generation((self.texts.pop(0),), ("stop",)) for _ in requests]

    judge = Replies(["A", "모르겠어요", "(B)입니다", "A가 낫다"])
    c = bundled_criteria()["logickor_ko"]
    pairs = [("질문", "답 1", "답 2"), ("질문", "답 3", "답 4")]
    first, second = pairwise_many(judge, c, "단계", pairs, chat=True)
    assert (first.winner, first.orders) == ("tie", ("A", ""))
    assert (second.winner, second.orders) == ("B", ("B", "A"))  # B first, then B in A's place
