"""The engine end to end on the torch-free mock model: requests, metrics, results files,
stored runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.leaderboard import leaderboard
from haechi.models import LoglikelihoodRequest, load
from haechi.store import open_store
from haechi.tasks import DocumentSource, bundled_tasks, load_documents
from haechi.tasks.prompts import build_prompt


def test_samples_hold_each_choices_loglikelihood(tmp_path: Path) -> None:
    model = load("mock/engine")
    config = EvalConfig(
        tasks=["kobest_copa", "ko_arc"],
        samples=True,
        num_fewshot=0,
        output=tmp_path,
        log_samples=True,
    )
    report = evaluate(model, config, progress=False)
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert set(results) >= {
        "results",
        "groups",
        "configs",
        "versions",
        "n-shot",
        "n-samples",
        "config",
        "stats",
    }
    assert results["n-shot"] == {"kobest_copa": 0, "ko_arc": 0}
    assert results["config"]["model_fingerprint"] == model.fingerprint

    spec = bundled_tasks()["kobest_copa"]
    docs = load_documents(spec, "test", DocumentSource("samples"))
    lines = (tmp_path / "samples_kobest_copa.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(docs)
    correct = []
    for doc, line in zip(docs, lines, strict=True):
        sample = json.loads(line)
        prompt = build_prompt(spec, doc, [])
        expected = model.loglikelihood(
            [LoglikelihoodRequest(prompt.context, " " + c) for c in prompt.choices]
        )
        assert sample["doc_id"] == doc.doc_id
        assert sample["loglikelihoods"] == pytest.approx([r.logprob for r in expected], abs=1e-5)
        best = max(range(len(expected)), key=lambda i: expected[i].logprob)
        correct.append(1.0 if best == prompt.target else 0.0)
    acc = results["results"]["kobest_copa"]["acc,none"]
    assert acc == pytest.approx(sum(correct) / len(correct))
    assert report.summaries[0].primary.value == acc


def test_same_seed_same_numbers_and_fewshot(tmp_path: Path) -> None:
    model = load("mock/engine")
    runs = []
    for name in ("a", "b"):
        config = EvalConfig(
            tasks=["ko_arc"], samples=True, num_fewshot=2, output=tmp_path / name, log_samples=True
        )
        evaluate(model, config, progress=False)
        runs.append((tmp_path / name / "samples_ko_arc.jsonl").read_text(encoding="utf-8"))
    assert runs[0] == runs[1]
    shots = [json.loads(line)["fewshot_ids"] for line in runs[0].splitlines()]
    assert all(len(s) == 2 for s in shots)


def test_runs_are_stored_and_failures_marked(tmp_path: Path) -> None:
    model = load("mock/engine")
    with open_store(str(tmp_path / "runs.db")) as store:
        report = evaluate(
            model, EvalConfig(tasks=["kobest"], samples=True), store=store, progress=False
        )
        run = store.get_run(report.run_id or "")
        assert run.status == "completed"
        assert run.config["prompt_hashes"]["kobest_copa"]
        stored = {(r.task, r.metric): r.value for r in run.results}
        copa = next(s for s in report.summaries if s.name == "kobest_copa")
        assert stored[("kobest_copa", "acc")] == copa.metrics["acc"].value
        assert stored[("kobest", "score")] == report.groups["kobest"].value
        board = leaderboard(store, include_partial=True)  # --samples: a partial run
        assert board.rows[0].model_fingerprint == model.fingerprint
        assert board.rows[0].partial == "--samples"

        broken = tmp_path / "data" / "kobest_copa"
        broken.mkdir(parents=True)
        (broken / "test.jsonl").write_text('{"premise": "p"}\n', encoding="utf-8")
        with pytest.raises(Exception, match=r"alternative_1|question"):
            evaluate(
                model,
                EvalConfig(tasks=["kobest_copa"], data_dir=tmp_path / "data"),
                store=store,
                progress=False,
            )
        assert all(r.status == "completed" for r in store.list_runs())
