"""Metric definitions: normalisations, ties, mc2, macro F1, standard errors (mean and
bootstrap, the latter against a direct resampling and lm-eval's own function), combining,
and the one table every metric is declared in."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.evaluate.metrics import (
    AGGREGATIONS,
    METRICS,
    CorpusMetric,
    confusion,
    corpus_score,
    definition,
    first_argmax,
    macro_f1,
    pick,
    true_mass,
)
from haechi.evaluate.stats import Aggregate, combine, mean_with_stderr
from haechi.tasks import bundled_tasks, load_spec


def test_normalisations_measure_characters_bytes_and_tokens() -> None:
    # "가나다" is 3 characters, 9 UTF-8 bytes; "abcd" is 4 characters and 4 bytes.
    choices = ["가나다", "abcd"]
    lls = [-6.0, -7.0]
    tokens = [1, 7]
    assert pick("acc", lls, choices, tokens) == 0  # -6 > -7
    assert pick("acc_norm", lls, choices, tokens) == 1  # -2.0 < -1.75
    assert pick("acc_bytes", lls, choices, tokens) == 0  # -0.67 > -1.75
    assert pick("acc_tokens", lls, choices, tokens) == 1  # -6 < -1


def test_ties_go_to_the_first_choice() -> None:
    assert first_argmax([-1.0, -1.0, -2.0]) == 0
    assert pick("acc", [-1.0, -1.0], ["a", "b"], [1, 1]) == 0


def test_mc2_is_the_normalised_mass_of_true_choices() -> None:
    lls = [math.log(0.2), math.log(0.1), math.log(0.3)]
    assert true_mass(lls, [1, 1, 0]) == pytest.approx(0.3 / 0.6)
    # very long continuations underflow exp(); the stable form still gives the answer
    assert true_mass([-2000.0, -2000.0 + math.log(3)], [0, 1]) == pytest.approx(0.75)


def test_macro_f1_agrees_with_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    preds = [0, 1, 1, 0, 2, 2, 1, 0]
    golds = [0, 1, 0, 0, 2, 1, 1, 2]
    expected = metrics.f1_score(golds, preds, average="macro")
    assert float(macro_f1(confusion(preds, golds))) == pytest.approx(expected)


def test_stderr_is_sample_std_over_sqrt_n() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    agg = mean_with_stderr(values)
    assert agg.value == pytest.approx(5 / 7)
    assert agg.stderr == pytest.approx(statistics.stdev(values) / len(values) ** 0.5)
    assert agg.n == 7
    assert mean_with_stderr([1.0]).stderr is None


def test_combining_subtasks_plainly_or_by_size() -> None:
    parts = [Aggregate(1.0, 0.0, 10), Aggregate(0.0, 0.0, 30)]
    assert combine(parts, "mean").value == 0.5
    assert combine(parts, "size_weighted").value == 0.25
    assert combine(parts, "size_weighted").n == 40


def _reference_macro_f1(pairs: Sequence[tuple[int, int]]) -> float:
    """Macro F1 over (gold, pick) pairs, written out per class (independent of numpy)."""
    classes = sorted({c for pair in pairs for c in pair})
    scores = []
    for c in classes:
        tp = sum(1 for g, p in pairs if p == c and g == c)
        seen = sum(1 for g, p in pairs if p == c) + sum(1 for g, p in pairs if g == c)
        scores.append(2 * tp / seen if tp else 0.0)
    return sum(scores) / len(scores)


# 40 documents, three classes, a biased picker
GOLDS = [i % 3 for i in range(40)]
PICKS = [g if i % 4 else (g + 1) % 3 for i, g in enumerate(GOLDS)]
PICKS[::7] = [0] * len(PICKS[::7])


def test_f1_stderr_is_the_bootstrap_over_resampled_documents() -> None:
    # Direct computation: chunk i of 1000 resamples drawn with random.Random(i).choices.
    pairs = list(zip(GOLDS, PICKS, strict=True))
    replicates = []
    for chunk in range(3):
        rnd = random.Random(chunk)
        replicates += [_reference_macro_f1(rnd.choices(pairs, k=40)) for _ in range(1000)]
    f1 = METRICS["f1"]
    assert isinstance(f1, CorpusMetric)
    got = corpus_score(f1, PICKS, GOLDS, bootstrap_iters=3000)
    assert got.value == pytest.approx(_reference_macro_f1(pairs))
    assert got.stderr == pytest.approx(statistics.stdev(replicates), rel=1e-12)
    assert got.n == 40
    assert corpus_score(f1, PICKS, GOLDS, bootstrap_iters=0).stderr is None


def test_f1_stderr_equals_lm_evals_bootstrap_of_its_kobest_f1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lm_metrics = pytest.importorskip("lm_eval.api.metrics", reason="lm-eval is a dev dependency")
    kobest = pytest.importorskip("lm_eval.tasks.kobest.utils")
    monkeypatch.setenv("DISABLE_MULTIPROC", "1")  # lm-eval's single-process path, same draws
    items = list(zip(GOLDS, PICKS, strict=True))
    expected = lm_metrics.bootstrap_stderr(kobest.macro_f1_score, items, iters=2000)
    f1 = METRICS["f1"]
    assert isinstance(f1, CorpusMetric)
    assert corpus_score(f1, PICKS, GOLDS, 2000).stderr == pytest.approx(expected, rel=1e-9)


def test_every_bundled_metric_and_aggregation_number_is_declared_once() -> None:
    reported = {n for a in AGGREGATIONS.values() for n in a.reports}
    assert not reported & set(METRICS)  # a reported name means one thing
    for spec in bundled_tasks().values():
        for name in spec.metric_names():
            assert definition(name).note
    assert definition("exact_match,strict-match") is METRICS["exact_match"]
    assert definition("diff_bias_amb").better == "zero"
    assert definition("diff_bias_amb").higher_is_better is None
    assert definition("acc_amb").higher_is_better is True


def test_a_spec_naming_an_undeclared_or_misplaced_metric_is_refused(tmp_path: Path) -> None:
    base = "task: t\ndoc_to_text: q\ndoc_to_choice: \"['a', 'b']\"\ndoc_to_target: '0'\n"
    cases = {
        "metrics: [acc, accc]\n": ("metrics", "unknown metric 'accc'"),
        "aggregations: [kobq]\n": ("aggregations", "unknown aggregation 'kobq'"),
        "metrics: [exact_match]\nprimary_metric: exact_match\n": (
            None,
            "metric exact_match scores generate_until tasks",
        ),
        "metrics: [mc2]\nprimary_metric: mc2\n": (None, "metric mc2 needs doc_to_labels"),
    }
    for extra, (field, message) in cases.items():
        path = tmp_path / "t.yaml"
        path.write_text(base + extra, encoding="utf-8")
        with pytest.raises(InputError, match=message) as caught:
            load_spec(path)
        assert caught.value.file == str(path)
        if field is not None:
            assert caught.value.field == field
