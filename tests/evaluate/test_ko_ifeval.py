"""The ko_ifeval task: its bundled prompts, user files in the leaderboard's (IFEval's)
schema, the four accuracies from known answers, and a run of the smoke model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from haechi.cli.app import app
from haechi.errors import InputError
from haechi.evaluate import EvalConfig
from haechi.evaluate.instructions import INSTRUCTIONS, follow, instructions_of
from haechi.evaluate.plan import plan_task
from haechi.evaluate.scoring import score_generations
from haechi.models import Generation
from haechi.tasks import DocumentSource, bundled_tasks, load_documents

pytest.importorskip("kiwipiepy", reason="ko_ifeval's checks need kiwipiepy (extra ko)")

SPEC = bundled_tasks()["ko_ifeval"]


def test_bundled_prompts_cover_every_instruction() -> None:
    docs = load_documents(SPEC, "test", DocumentSource("hub"))  # bundled: no network
    assert len(docs) >= 100
    assert len({d.fields["key"] for d in docs}) == len(docs)
    used = {i.id for d in docs for i in instructions_of(d.fields)}
    assert used == set(INSTRUCTIONS)
    samples = load_documents(SPEC, "test", DocumentSource("samples"))
    assert 0 < len(samples) < 10
    assert {d.fields["key"] for d in samples} <= {d.fields["key"] for d in docs}


def _write(folder: Path, rows: list[dict[str, Any]], name: str = "test.jsonl") -> Path:
    (folder / "ko_ifeval").mkdir(parents=True, exist_ok=True)
    path = folder / "ko_ifeval" / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


# IFEval's rows list every argument name in every kwargs mapping, most of them null.
NAMES = ("level", "num_bullets", "keywords", "end_phrase", "language")
ROWS = [
    {"key": 1, "prompt": "친구에게 반말로 인사해.", "instruction_id_list": ["ko_style:speech_level"],
     "kwargs": [{"level": "반말"}]},
    {"key": 2, "prompt": "목록 둘과 키워드 '사과'.",
     "instruction_id_list": ["ko_format:bullets", "ko_keywords:include"],
     "kwargs": [{"num_bullets": 2}, {"keywords": ["사과"]}]},
    {"key": 3, "prompt": "End with 'Bye.' in English.",
     "instruction_id_list": ["startend:end_checker", "language:response_language"],
     "kwargs": [{"end_phrase": "Bye."}, {"language": "en"}]},
]  # fmt: skip
PADDED = [{**r, "kwargs": [{n: k.get(n) for n in NAMES} for k in r["kwargs"]]} for r in ROWS]


def test_accuracies_from_known_answers(tmp_path: Path) -> None:
    _write(tmp_path, PADDED, name="train.jsonl")  # IFEval's split name is read too
    config = EvalConfig(tasks=["ko_ifeval"], data_dir=tmp_path)
    (plan,) = plan_task(SPEC, config, DocumentSource.choose(tmp_path, False))
    assert [p.context for p in plan.prompts] == [r["prompt"] for r in ROWS]
    answers = [
        "안녕! 잘 지냈어?",  # follows its one instruction
        "- 사과\n- 배\n- 감",  # three bullets, so only loosely (without its last line)
        "안녕히 가세요.",  # neither English nor ending in "Bye."
    ]
    score = score_generations(plan, [Generation((a,), ("stop",)) for a in answers])
    metrics = {k: (m.value, m.n) for k, m in score.metrics.items()}
    assert metrics["prompt_level_strict_acc,none"] == (1 / 3, 3)
    assert metrics["inst_level_strict_acc,none"] == (2 / 5, 5)  # n counts instructions
    assert metrics["prompt_level_loose_acc,none"] == (2 / 3, 3)
    assert metrics["inst_level_loose_acc,none"] == (3 / 5, 5)
    assert score.metrics["inst_level_strict_acc,none"].stderr is None
    assert score.metrics["prompt_level_strict_acc,none"].stderr == pytest.approx(
        (1 / 3) ** 0.5 / 3**0.5
    )
    record = score.samples[1].record()
    assert record["followed"] == {
        "none": {
            "instructions": ["ko_format:bullets", "ko_keywords:include"],
            "strict": [False, True],
            "loose": [True, True],
        }
    }
    assert record["metrics"]["inst_level_strict_acc,none"] == 0.5


def test_a_bad_row_is_named_before_a_model_loads(tmp_path: Path) -> None:
    rows = [ROWS[0], {**ROWS[1], "kwargs": [{"num_bullets": "two"}, {"keywords": ["사과"]}]}]
    path = _write(tmp_path, rows)
    with pytest.raises(InputError) as caught:
        load_documents(SPEC, "test", DocumentSource("dir", tmp_path))
    assert f"{path}:2" in str(caught.value)
    assert "kwargs[0] of ko_format:bullets: num_bullets" in str(caught.value)
    result = CliRunner().invoke(
        app, ["eval", "--model", "hf/nowhere", "--tasks", "ko_ifeval", "--data-dir", str(tmp_path)]
    )
    # the files are checked before the model (there is none at hf/nowhere) would load
    assert isinstance(result.exception, InputError), repr(result.exception)
    assert result.exception.exit_code == 2
    assert "num_bullets" in str(result.exception)


@pytest.mark.slow  # the tiny model writes 1280 tokens per prompt
def test_smoke_model_end_to_end(tiny_llama_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "eval", "--model", f"hf/{tiny_llama_dir}", "--tasks", "ko_ifeval", "--limit", "2",
            "--output", str(out), "--log-samples", "--db", str(tmp_path / "r.db"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["n-samples"]["ko_ifeval"] == {"original": 129, "effective": 2}
    results = document["results"]["ko_ifeval"]
    lines = (out / "samples_ko_ifeval.jsonl").read_text(encoding="utf-8").splitlines()
    samples = [json.loads(line) for line in lines]
    docs = load_documents(SPEC, "test", DocumentSource("hub"))
    strict: list[bool] = []
    for sample in samples:
        verdicts = follow(sample["response"], instructions_of(docs[sample["doc_id"]].fields))
        assert sample["followed"]["none"] == verdicts.record()
        strict += verdicts.strict
    assert results["inst_level_strict_acc,none"] == sum(strict) / len(strict)
    assert results["inst_level_strict_acc_stderr,none"] == "N/A"
    assert document["higher_is_better"]["ko_ifeval"]["prompt_level_loose_acc"] is True


def test_tasks_show_lists_every_instruction(monkeypatch: pytest.MonkeyPatch) -> None:
    from haechi.cli.console import console

    monkeypatch.setattr(console, "width", 250)
    result = CliRunner().invoke(app, ["tasks", "show", "ko_ifeval"])
    assert result.exit_code == 0, result.output
    assert "bundled with haechi" in result.output
    for name, check in INSTRUCTIONS.items():
        assert any(
            name in row and ", ".join(check.model_fields) in row
            for row in result.output.splitlines()
        ), name
    assert "[address]" in result.output  # check docs are text, not rich markup


def test_a_missing_extra_is_named_when_the_documents_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from haechi.errors import MissingExtraError
    from haechi.evaluate.instructions import following

    _write(tmp_path, ROWS)
    real = following.find_spec
    monkeypatch.setattr(following, "find_spec", lambda n: None if n == "kiwipiepy" else real(n))
    with pytest.raises(MissingExtraError, match=r"kiwipiepy.*haechi\[ko\]"):
        load_documents(SPEC, "test", DocumentSource("dir", tmp_path))
