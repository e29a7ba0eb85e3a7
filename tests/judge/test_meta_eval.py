"""Meta-evaluation: correlations at three levels, bootstrap intervals, the four input
layouts, their errors, the command, and real human labels (SQuARe) when present."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

from haechi.cli.judge_meta_cmd import meta_eval_command
from haechi.errors import InputError
from haechi.judge.human_data import ScoredItem, criterion_from_name, read_ratings
from haechi.judge.meta_eval import (
    LEVELS,
    METHODS,
    _rowwise_pearson,
    cohen_kappa,
    correlations,
    meta_evaluate,
    roc_auc,
)

REPO = Path(__file__).resolve().parents[2]
SQUARE = REPO.parent / "shared" / "data" / "square" / "response_test_ood_annotations.json"

# (doc, system, judge, human): doc C has constant human scores, doc D a single item.
ROWS: list[tuple[str, str, float, float]] = [
    ("A", "s1", 1, 1), ("A", "s2", 2, 2), ("A", "s3", 3, 3),
    ("B", "s1", 1, 3), ("B", "s2", 2, 2), ("B", "s3", 3, 1),
    ("C", "s1", 3, 2), ("C", "s2", 1, 2), ("C", "s3", 2, 2),
    ("D", "s4", 5, 4),
    ("E", "s1", 1, 1), ("E", "s2", 2, 3), ("E", "s3", 3, 2), ("E", "s4", 4, 4),
]  # fmt: skip


Row = tuple[str, str, float, float]


def sides(rows: Sequence[Row], criterion: str = "c") -> tuple[list[ScoredItem], list[ScoredItem]]:
    judge = [ScoredItem(f"{d}/{s}", {criterion: j}, d, s) for d, s, j, _ in rows]
    human = [ScoredItem(f"{d}/{s}", {criterion: h}) for d, s, _, h in rows]
    return judge, human


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


# --- correlations, by hand -----------------------------------------------------------


def test_correlations_by_hand() -> None:
    # d = rank differences (-1, 1, -1, 1, 0): ρ = 1 − 6·4 / (5·24) = 0.8; two discordant
    # pairs of ten: τ = (8 − 2) / 10 = 0.6; Σdx·dy = 8, Σdx² = Σdy² = 10: r = 0.8
    got = correlations([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert got == pytest.approx({"spearman": 0.8, "kendall": 0.6, "pearson": 0.8})
    assert correlations([1, 2, 3], [2, 2, 2]) == dict.fromkeys(METHODS)
    assert correlations([1], [2]) == dict.fromkeys(METHODS)


def test_summary_level_averages_documents_and_skips_constant_ones() -> None:
    result = meta_evaluate(*sides(ROWS), bootstrap=0).levels["c"]["summary"]
    # A: +1, B: −1, E: ρ 0.8 (Σd² = 2), τ (5 − 1)/6, r 4/5; C constant, D one item
    assert result.n == 3
    assert result.skipped == 2
    assert result.items == 14
    assert result.values["spearman"] == pytest.approx((1 - 1 + 0.8) / 3)
    assert result.values["kendall"] == pytest.approx((1 - 1 + 4 / 6) / 3)
    assert result.values["pearson"] == pytest.approx((1 - 1 + 0.8) / 3)
    assert result.ci95 == dict.fromkeys(METHODS)


def test_system_level_correlates_system_means() -> None:
    result = meta_evaluate(*sides(ROWS), bootstrap=0).levels["c"]["system"]
    # s1..s4 means: judge 6/4, 7/4, 11/4, 9/2; human 7/4, 9/4, 8/4, 8/2
    judge, human = [1.5, 1.75, 2.75, 4.5], [1.75, 2.25, 2.0, 4.0]
    assert result.n == 4
    assert result.values["spearman"] == pytest.approx(0.8)  # ranks 1234 vs 1324
    assert result.values["kendall"] == pytest.approx(4 / 6)
    assert result.values["pearson"] == pytest.approx(stats.pearsonr(judge, human).statistic)


def test_dataset_level_is_over_all_items() -> None:
    result = meta_evaluate(*sides(ROWS), bootstrap=0).levels["c"]["dataset"]
    x, y = [r[2] for r in ROWS], [r[3] for r in ROWS]
    assert result.n == 14
    assert result.values["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert result.values["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    assert result.values["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)


def test_record_has_the_meta_json_shape() -> None:
    record = meta_evaluate(*sides(ROWS), bootstrap=50).record()
    assert list(record) == ["c"]
    assert list(record["c"]) == list(LEVELS)
    for level in LEVELS:
        for name in METHODS:
            assert name in record["c"][level]
            low, high = record["c"][level][f"{name}_ci95"]
            assert low <= high
        assert isinstance(record["c"][level]["n"], int)
    assert record["c"]["summary"]["skipped_documents"] == 2
    json.dumps(record, allow_nan=False)


# --- bootstrap -------------------------------------------------------------------------


def noisy_rows(seed: int = 1) -> list[Row]:
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(30):
        for s in range(6):
            quality = s / 2 + rng.normal()
            rows.append((f"d{d}", f"s{s}", quality + rng.normal(), float(round(quality))))
    return rows


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    judge, human = sides(noisy_rows())
    first = meta_evaluate(judge, human, bootstrap=300, seed=7)
    assert first.record() == meta_evaluate(judge, human, bootstrap=300, seed=7).record()
    assert first.record() != meta_evaluate(judge, human, bootstrap=300, seed=8).record()
    for level in LEVELS:
        r = first.levels["c"][level]
        for name in METHODS:
            low, high = r.ci95[name] or (math.nan, math.nan)
            assert low <= (r.values[name] or math.nan) <= high, (level, name)


def test_an_interval_does_not_depend_on_the_other_criteria() -> None:
    rows = noisy_rows()
    judge = [ScoredItem(f"{d}/{s}", {"a": j, "b": -j}, d, s) for d, s, j, _ in rows]
    human = [ScoredItem(f"{d}/{s}", {"a": h, "b": h}) for d, s, _, h in rows]
    alone = meta_evaluate(judge, human, ["a"], bootstrap=100).record()["a"]
    both = meta_evaluate(judge, human, ["b", "a"], bootstrap=100).record()["a"]
    assert alone == both


def test_rowwise_pearson_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    xs, ys = rng.integers(1, 4, (50, 8)).astype(float), rng.normal(size=(50, 8))
    xs[0] = 2.0  # a constant row
    got = _rowwise_pearson(xs, ys)
    assert math.isnan(got[0])
    for i in range(1, 50):
        assert got[i] == pytest.approx(stats.pearsonr(xs[i], ys[i]).statistic)
    ranks = _rowwise_pearson(stats.rankdata(xs, axis=1), stats.rankdata(ys, axis=1))
    assert ranks[5] == pytest.approx(stats.spearmanr(xs[5], ys[5]).statistic)


# --- joining and missing scores -------------------------------------------------------


def test_unmatched_ids_and_missing_scores_are_reported() -> None:
    judge, human = sides(ROWS)
    judge.append(ScoredItem("extra-judge", {"c": 1.0}, "A", "s9"))
    human.append(ScoredItem("extra-human", {"c": 1.0}))
    judge[0] = ScoredItem(judge[0].id, {"c": None}, "A", "s1")
    result = meta_evaluate(judge, human, bootstrap=0)
    assert result.only_judge == ["extra-judge"]
    assert result.only_human == ["extra-human"]
    assert result.missing == {"c": 1}
    assert result.levels["c"]["dataset"].n == 13


def test_meta_evaluate_errors() -> None:
    judge, human = sides(ROWS)
    with pytest.raises(InputError, match="no item id"):
        meta_evaluate(judge, [ScoredItem("x", {"c": 1.0})])
    with pytest.raises(InputError, match="criterion 'fluency'"):
        meta_evaluate(judge, human, ["fluency"])
    with pytest.raises(InputError, match="bootstrap"):
        meta_evaluate(judge, human, bootstrap=-1)
    with pytest.raises(InputError, match="seed"):
        meta_evaluate(judge, human, seed=-1)


# --- κ and AUC -------------------------------------------------------------------------


def test_cohen_kappa_by_hand_and_against_sklearn() -> None:
    # p_o = 3/4; p_e = ½·¼ + ½·¾ = ½; κ = (¾ − ½) / ½
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohen_kappa([1, 1], [1, 1]) is None
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(5):
        a = rng.integers(0, 3, 40).tolist()
        b = [x if rng.random() < 0.6 else int(rng.integers(0, 3)) for x in a]
        assert cohen_kappa(a, b) == pytest.approx(sklearn_metrics.cohen_kappa_score(a, b))


def test_roc_auc_by_hand_and_against_sklearn() -> None:
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: 3 of 4 pairs won
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    assert roc_auc([1, 1], [0.1, 0.2]) is None
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 60).tolist()
    scores = (np.array(labels) * 0.5 + rng.integers(0, 3, 60)).tolist()  # many ties
    assert roc_auc(labels, scores) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores))


# --- the four layouts -------------------------------------------------------------------

SUMMEVAL_SCORES = [
    {"coherence": 1.3333, "consistency": 1.0, "fluency": 3.0, "relevance": 1.6667},
    {"coherence": 4.0, "consistency": 5.0, "fluency": 2.6667, "relevance": 4.3333},
    {"coherence": 2.6667, "consistency": 4.6667, "fluency": 2.0, "relevance": 3.0},
]


def geval_rows(answers: bool) -> list[dict[str, Any]]:
    """Rows in the G-Eval repository's summeval.json layout (with ``all_responses``: its
    results files' layout)."""
    rows = []
    for i, (system, scores) in enumerate(zip(("M11", "M8", "M23"), SUMMEVAL_SCORES, strict=True)):
        row: dict[str, Any] = {
            "doc_id": "dm-test-8764fb95",
            "system_id": system,
            "source": "Paul Merson has restarted his row with Andros Townsend ...",
            "reference": "Andros Townsend an 83rd minute sub in Tottenham's draw with Burnley .",
            "system_output": f"summary {i}",
            "scores": scores,
        }
        if answers:
            row["prompt"] = "You will be given one summary written for a news article. ..."
            row["all_responses"] = [["1", "2", "1"], ["4", "5", "- 4"], ["3", "x", "Score: 2"]][i]
        rows.append(row)
    return rows


def test_geval_summeval_json(tmp_path: Path) -> None:
    path = tmp_path / "summeval.json"
    path.write_text(json.dumps(geval_rows(answers=False), indent=4), encoding="utf-8")
    items = read_ratings(path)
    assert [i.id for i in items] == [
        "dm-test-8764fb95/M11",
        "dm-test-8764fb95/M8",
        "dm-test-8764fb95/M23",
    ]
    assert items[1].scores == SUMMEVAL_SCORES[1]
    assert (items[1].doc_id, items[1].system) == ("dm-test-8764fb95", "M8")


def test_geval_results_file_as_judge_and_as_human(tmp_path: Path) -> None:
    path = tmp_path / "gpt4_coh_detailed.json"
    path.write_text(json.dumps(geval_rows(answers=True)), encoding="utf-8")
    judged = read_ratings(path, role="judge")
    assert [i.scores for i in judged] == [
        {"coherence": pytest.approx(4 / 3)},
        {"coherence": pytest.approx(13 / 3)},
        {"coherence": pytest.approx(2.5)},
    ]
    assert [i.unparsed for i in judged] == [0, 0, 1]
    assert read_ratings(path, role="human")[0].scores == SUMMEVAL_SCORES[0]
    result = meta_evaluate(judged, read_ratings(path), bootstrap=0)
    assert list(result.levels) == ["coherence"]
    # one document, three systems: judge 4/3, 13/3, 5/2 vs human 1.33, 4, 2.67
    assert result.levels["coherence"]["summary"].values["spearman"] == pytest.approx(1.0)


def test_geval_results_criterion_comes_from_the_name_or_the_caller(tmp_path: Path) -> None:
    assert criterion_from_name(Path("results/gpt4_flu_detailed.json")) == "fluency"
    assert criterion_from_name(Path("relevance-run2.json")) == "relevance"
    assert criterion_from_name(Path("results.json")) is None
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(geval_rows(answers=True)), encoding="utf-8")
    with pytest.raises(InputError, match="which criterion") as caught:
        read_ratings(path, role="judge")
    assert "--criteria" in str(caught.value)
    # fluency is scored 1–3 (bundled criterion): "4", "5" are out of range, unparsed
    fluency = read_ratings(path, role="judge", criterion="fluency")
    assert fluency[1].scores == {"fluency": None}
    assert fluency[1].unparsed == 3


def test_summeval_jsonl_takes_the_expert_mean(tmp_path: Path) -> None:
    experts = [
        {"coherence": 2, "consistency": 5, "fluency": 4, "relevance": 3},
        {"coherence": 3, "consistency": 5, "fluency": 5, "relevance": 3},
        {"coherence": 3, "consistency": 4, "fluency": 5, "relevance": 2},
    ]
    turkers = [{"coherence": 5, "consistency": 1, "fluency": 1, "relevance": 1}] * 5
    row = {
        "id": "dm-test-8764fb95",
        "decoded": "paul merson was brought on with only seven minutes remaining .",
        "expert_annotations": experts,
        "turker_annotations": turkers,
        "references": ["Andros Townsend an 83rd minute sub ..."],
        "model_id": "M11",
        "filepath": "cnndm/dailymail/stories/8764fb95.story",
    }
    (item,) = read_ratings(write_jsonl(tmp_path / "model_annotations.aligned.jsonl", [row]))
    assert item.id == "dm-test-8764fb95/M11"
    assert (item.doc_id, item.system) == ("dm-test-8764fb95", "M11")
    assert item.scores == pytest.approx(
        {"coherence": 8 / 3, "consistency": 14 / 3, "fluency": 14 / 3, "relevance": 8 / 3}
    )


def test_haechi_jsonl(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"id": "1", "doc_id": "d", "system": "m1", "output": "…", "scores": {"accuracy_ko": 4.2}},
        {"id": 2, "doc_id": "d", "system": "m2", "scores": {"accuracy_ko": None}, "details": {}},
    ]
    items = read_ratings(write_jsonl(tmp_path / "scored.jsonl", rows), role="judge")
    assert [(i.id, i.doc_id, i.system, i.scores) for i in items] == [
        ("1", "d", "m1", {"accuracy_ko": 4.2}),
        ("2", "d", "m2", {"accuracy_ko": None}),
    ]


def test_geval_judge_joins_summeval_jsonl_humans(tmp_path: Path) -> None:
    results = tmp_path / "gpt4_rel_detailed.json"
    results.write_text(json.dumps(geval_rows(answers=True)), encoding="utf-8")
    humans = [
        {"id": "dm-test-8764fb95", "model_id": s, "expert_annotations": [{"relevance": v}]}
        for s, v in (("M11", 1), ("M8", 5), ("M23", 3), ("M0", 2))
    ]
    result = meta_evaluate(
        read_ratings(results, role="judge"),
        read_ratings(write_jsonl(tmp_path / "h.jsonl", humans)),
        bootstrap=0,
    )
    assert result.only_human == ["dm-test-8764fb95/M0"]
    assert result.levels["relevance"]["dataset"].n == 3


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        ([{"text": "x"}], ":1", "cannot tell the layout"),
        ([{"id": "1", "scores": {"c": 1}}, {"id": "2"}], ":2", "not in the file's layout"),
        ([{"id": "1", "scores": {"c": "four"}}], ":1 field 'scores.c'", "finite number"),
        ([{"id": "1", "scores": {"c": True}}], ":1 field 'scores.c'", "finite number"),
        ([{"id": "1", "scores": [1]}], ":1 field 'scores'", "criterion → score"),
        ([{"id": "1", "scores": {}}, {"id": "1", "scores": {}}], ":2 field 'id'", "duplicate"),
        ([{"id": "d", "expert_annotations": [{"c": 1}]}], ":1 field 'model_id'", "lacks"),
        (
            [{"id": "d", "model_id": "M1", "expert_annotations": [{"c": 1}, {"d": 2}]}],
            ":1 field 'expert_annotations'",
            "annotation 1 rates",
        ),
        ([{"doc_id": "d", "system_output": "s", "scores": {}}], ":1 field 'system_id'", "lacks"),
        (
            [{"doc_id": "d", "system_id": "M", "system_output": "s", "all_responses": "4"}],
            ":1 field 'all_responses'",
            "list of strings",
        ),
    ],
)
def test_malformed_rows_name_file_line_and_field(
    tmp_path: Path, rows: list[dict[str, Any]], where: str, message: str
) -> None:
    path = write_jsonl(tmp_path / "gpt4_coh.jsonl", rows)
    with pytest.raises(InputError, match=message) as caught:
        read_ratings(path, role="judge")
    assert f"{path}{where}" in str(caught.value)


def test_bad_json_line_is_located(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text('{"id": "1", "scores": {}}\n{"id": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"h\.jsonl:2: not valid JSON"):
        read_ratings(path)


# --- the command ------------------------------------------------------------------------


def command_app() -> typer.Typer:
    app = typer.Typer()
    app.command("meta-eval")(meta_eval_command)

    @app.callback()
    def root() -> None:  # a group, so the command is called by name as in haechi judge
        pass

    return app


def test_command_writes_meta_json_and_reports_unmatched(tmp_path: Path) -> None:
    judge, human = sides(noisy_rows())
    scored = write_jsonl(
        tmp_path / "scored.jsonl",
        [{"id": i.id, "doc_id": i.doc_id, "system": i.system, "scores": i.scores} for i in judge]
        + [{"id": "lonely", "scores": {"c": 1.0}}],
    )
    rated = write_jsonl(tmp_path / "human.jsonl", [{"id": i.id, "scores": i.scores} for i in human])
    out = tmp_path / "out" / "meta.json"
    arguments = ["meta-eval", "--scores", str(scored), "--human", str(rated), "--output", str(out)]
    done = CliRunner().invoke(command_app(), [*arguments, "--bootstrap", "100", "--seed", "3"])
    assert done.exit_code == 0, done.output
    assert "lonely" in done.output
    for level in LEVELS:
        assert level in done.output
    meta = json.loads(out.read_text(encoding="utf-8"))
    expected = meta_evaluate(judge, human, bootstrap=100, seed=3).record()
    assert meta == json.loads(json.dumps(expected))
    assert [p.name for p in out.parent.iterdir()] == ["meta.json"]  # no temp file left


def test_command_bad_input_raises_input_error(tmp_path: Path) -> None:
    scored = write_jsonl(tmp_path / "s.jsonl", [{"id": "1", "scores": {"c": 1.0}}])
    done = CliRunner().invoke(
        command_app(), ["meta-eval", "--scores", str(scored), "--human", str(tmp_path / "no.jsonl")]
    )
    assert isinstance(done.exception, InputError)
    assert done.exception.exit_code == 2


# --- real human labels: SQuARe --------------------------------------------------------


@pytest.fixture(scope="module")
def square() -> ModuleType:
    if not SQUARE.is_file():
        pytest.skip(f"SQuARe annotations not found at {SQUARE} (../shared/data is not here)")
    spec = importlib.util.spec_from_file_location(
        "square_agreement", REPO / "benchmarks" / "square_agreement.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_square_agreement_on_real_labels(square: ModuleType) -> None:
    responses = square.load_responses(SQUARE)
    assert len(responses) == 480
    assert all(len(r.labels) == 3 for r in responses)
    assert sum(v is None for r in responses for v in r.labels) == 3  # "dont_know"
    # the released label is the majority of the three
    assert all((sum(v or 0 for v in r.labels) >= 2) == bool(r.gold) for r in responses)
    rows = square.agreement(responses)
    assert [r.annotator for r in rows] == ["1", "2", "3", "all"]
    assert [r.items for r in rows] == [477, 477, 477, 1431]
    assert rows[-1].consensus_items == sum(r.consensus_items for r in rows[:3])
    for r in rows:
        assert 0 <= r.accuracy <= 1
        assert 0 <= r.auc <= 1
        for value in (r.kappa, r.spearman, r.kendall):
            assert -1 <= value <= 1


def test_square_labels_through_meta_evaluate(square: ModuleType) -> None:
    responses = square.load_responses(SQUARE)
    rows = square.agreement(responses)
    for slot in range(3):
        result = square.judge_vs_others(responses, slot, bootstrap=200)
        levels = result.levels["acceptable"]
        assert levels["dataset"].n == 477
        assert result.missing == {"acceptable": 3}
        assert levels["system"].n == 4
        assert levels["summary"].n + levels["summary"].skipped <= 254
        # dataset level is the same Spearman/Kendall as the agreement table's
        assert levels["dataset"].values["spearman"] == pytest.approx(rows[slot].spearman)
        assert levels["dataset"].values["kendall"] == pytest.approx(rows[slot].kendall)
        for level in LEVELS:
            for name in METHODS:
                value, interval = levels[level].values[name], levels[level].ci95[name]
                assert value is not None and -1 <= value <= 1
                assert interval is not None and -1 <= interval[0] <= interval[1] <= 1
