"""A run's files as the sample browser reads them: normalisations, filters and search, and
hostile files (bad lines, huge text, names outside the folder)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.run_files import (
    TEXT_MAX_CHARS,
    browse,
    read_samples,
    run_files,
    sample_view,
)
from haechi.models import load
from haechi.store import RunRecord, open_store
from haechi.tasks import DocumentSource, bundled_tasks, load_documents
from haechi.tasks.prompts import build_prompt


def _run(output: Path | None) -> RunRecord:
    from datetime import UTC, datetime

    return RunRecord(
        id="r" * 32, kind="eval", name=None, model_spec="m", model_fingerprint="f",
        status="completed", config={"eval": {"output": str(output) if output else None}},
        versions={}, created_at=datetime.now(UTC), finished_at=None, error=None, results=[],
    )  # fmt: skip


@pytest.mark.slow
def test_a_real_run_shows_prompts_choices_and_normalisations(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    model = load(f"hf/{tiny_llama_dir}")
    config = EvalConfig(
        tasks=["ko_arc"], samples=True, num_fewshot=1, output=tmp_path, log_samples=True
    )
    with open_store(str(tmp_path / "s.db")) as store:
        run = store.get_run(evaluate(model, config, store=store, progress=False).run_id or "")
    files = run_files(run)
    assert files.sample_tasks == ["ko_arc"] and files.tasks_of("ko_arc") == ["ko_arc"]
    views = [sample_view(r, "acc_norm") for r in read_samples(files, "ko_arc")]
    spec = bundled_tasks()["ko_arc"]
    docs = load_documents(spec, "test", DocumentSource("samples"))
    for view, doc in zip(views, docs, strict=True):
        assert view.doc_id == doc.doc_id and len(view.fewshot_ids) == 1
        prompt = build_prompt(spec, doc, [])
        assert [c.text for c in view.choices] == list(prompt.choices)
        assert view.target_index == prompt.target
        for choice in view.choices:
            assert choice.per_char == pytest.approx(choice.loglikelihood / len(choice.text))
            assert choice.per_byte == pytest.approx(
                choice.loglikelihood / len(choice.text.encode("utf-8"))
            )
            assert choice.per_token == pytest.approx(choice.loglikelihood / choice.n_tokens)
        assert view.correct == (view.prediction_index == view.target_index)
        assert view.prompt.endswith(prompt.context)  # after its one few-shot example
    right = browse(views, "right")
    wrong = browse(views, "wrong")
    assert len(right) + len(wrong) == len(views)
    needle = views[0].choices[0].text
    assert views[0] in browse(views, "all", needle.upper())


def test_hostile_files_are_refused_or_cut(tmp_path: Path) -> None:
    (tmp_path / "samples_t.jsonl").write_text(
        json.dumps({"doc_id": 0, "prompt": "가" * (TEXT_MAX_CHARS + 10), "loglikelihoods": [-1.0, "x"],
                    "choices": ["<b>a</b>"], "target": 0, "prediction": True}) + "\n"
        + "{not json\n",
        "utf-8",
    )  # fmt: skip
    (tmp_path / "results.json").write_text("[1, 2]", "utf-8")
    files = run_files(_run(tmp_path))
    assert files.results is None and files.sample_tasks == ["t"]
    with pytest.raises(InputError) as error:
        read_samples(files, "t")
    assert error.value.line == 2
    with pytest.raises(InputError):
        read_samples(files, "../t")
    (tmp_path / "samples_t.jsonl").write_text(
        json.dumps({"doc_id": 0, "prompt": "가" * (TEXT_MAX_CHARS + 10), "loglikelihoods": [-1.0, "x"],
                    "choices": ["<b>a</b>"], "target": 0, "prediction": True}) + "\n",
        "utf-8",
    )  # fmt: skip
    (view,) = [sample_view(r) for r in read_samples(files, "t")]
    assert view.truncated and len(view.prompt) == TEXT_MAX_CHARS + 1
    assert view.choices[0].text == "<b>a</b>" and math.isnan(view.choices[1].loglikelihood)
    assert view.prediction_index is None and view.correct is None  # a bool is no index
    assert run_files(_run(None)).folder is None
    assert run_files(_run(tmp_path / "gone")).sample_tasks == []
