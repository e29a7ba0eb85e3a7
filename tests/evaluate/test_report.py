"""results.json says what each metric is: its direction (KoBBQ's bias scores have none), its
stderr (F1's bootstrapped, resamples recorded), and a metric added to the table needs
nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from haechi.evaluate import EvalConfig, evaluate
from haechi.evaluate.metrics import METRICS, ChoiceMetric, CorpusMetric, corpus_score
from haechi.models import load
from haechi.tasks import bundled_tasks


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_directions_and_bootstrapped_f1_stderr(tmp_path: Path) -> None:
    model = load("mock/engine")
    config = EvalConfig(
        tasks=["kobbq", "kobest"],
        samples=True,
        output=tmp_path,
        log_samples=True,
        bootstrap_iters=2000,
    )
    evaluate(model, config, progress=False)
    results = _read(tmp_path / "results.json")
    assert results["higher_is_better"]["kobbq"] == {
        "acc": True,
        "acc_amb": True,
        "acc_dis": True,
        "diff_bias_amb": None,  # 0 is unbiased: neither direction is better
        "diff_bias_dis": None,
    }
    assert results["higher_is_better"]["kobest_copa"] == {"acc": True, "f1": True}
    assert results["higher_is_better"]["kobest"] == {"score": True}
    definitions = results["metric_definitions"]
    assert definitions["diff_bias_amb"]["better"] == "zero"
    assert definitions["f1"] == {
        "note": "macro F1 of the unnormalised picks",
        "better": "higher",
        "stderr": "bootstrap",
    }
    assert definitions["acc"]["stderr"] == "mean"
    assert results["config"]["eval"]["bootstrap_iters"] == 2000

    lines = (tmp_path / "samples_kobest_copa.jsonl").read_text(encoding="utf-8").splitlines()
    samples = [json.loads(line) for line in lines]
    f1 = METRICS["f1"]
    assert isinstance(f1, CorpusMetric)
    expected = corpus_score(
        f1, [s["prediction"] for s in samples], [s["target"] for s in samples], 2000
    )
    copa = results["results"]["kobest_copa"]
    assert copa["f1,none"] == pytest.approx(expected.value)
    assert isinstance(copa["f1_stderr,none"], float)
    assert copa["f1_stderr,none"] == pytest.approx(expected.stderr)


def test_a_metric_added_to_the_table_is_validated_scored_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = ChoiceMetric(
        note="log-likelihood / choice length in words",
        normaliser=lambda choice, tokens: float(len(choice.split()) or 1),
    )
    monkeypatch.setitem(METRICS, "acc_words", words)
    spec = bundled_tasks()["kobest_copa"].model_dump(mode="json")
    spec["metrics"] = ["acc", "acc_words"]
    path = tmp_path / "copa_words.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    config = EvalConfig(tasks=[str(path)], samples=True, output=tmp_path, log_samples=True)
    evaluate(load("mock/engine"), config, progress=False)
    results = _read(tmp_path / "results.json")
    assert results["metric_definitions"]["acc_words"]["note"] == words.note
    assert results["higher_is_better"]["kobest_copa"]["acc_words"] is True
    samples = [
        json.loads(line)
        for line in (tmp_path / "samples_kobest_copa.jsonl").read_text("utf-8").splitlines()
    ]
    assert results["results"]["kobest_copa"]["acc_words,none"] == pytest.approx(
        sum(s["metrics"]["acc_words"] for s in samples) / len(samples)
    )
