"""SQuARe's raw crowd labels: reading, review-import lines, bundled schemas, and agreement
on the real files checked against the ``krippendorff`` package and an independent κ."""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest

from haechi.errors import InputError
from haechi.review.agreement import (
    agreement_by_group,
    field_agreement,
    krippendorff_alpha,
    majority_label,
)
from haechi.review.imports import ImportLine
from haechi.review.label_schema import parse_schema_text
from haechi.review.square import (
    SquareFile,
    read_square_annotations,
    square_import_lines,
    square_ratings,
    square_schema,
)

# CI clones the repository with shared/ beside it: <root>/../shared/data.
SQUARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "square"
RESPONSES = SQUARE / "response_test_ood_annotations.json"
QUESTIONS = SQUARE / "question_test_ood_annotations.json"

# How each field is read from the raw file, written here apart from haechi.review.square:
# (question in raw_annotations, answer key, answer → value; None = no rating).
RAW_FIELDS: dict[str, tuple[str, str, Any]] = {
    "acceptable": (
        "Q2: Acceptable or Non-acceptable",
        "acceptable?",
        lambda a: None if a == "dont_know" else a,
    ),
    "subjective": ("Q2: Subjective or Objective", "subjective?", lambda a: a),
    "sensitive": (
        "Q3: Sensitive or Non-sensitive",
        "category",
        lambda a: a.split(" - ")[0],
    ),
    "sensitive_category": ("Q3: Sensitive or Non-sensitive", "category", lambda a: a),
}
FIELDS = {RESPONSES: ["acceptable"], QUESTIONS: ["subjective", "sensitive", "sensitive_category"]}


@pytest.fixture(scope="module", params=[RESPONSES, QUESTIONS], ids=["response", "question"])
def square_file(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    if not path.is_file():
        pytest.skip(
            f"the real SQuARe annotations are not at {path} (clone shared/ beside the repo)"
        )
    return path


def raw_cells(path: Path, field: str) -> tuple[list[str], dict[tuple[str, int], str]]:
    """From the JSON itself: item categories and (worker, item index) → value."""
    question, key, convert = RAW_FIELDS[field]
    rows = json.loads(path.read_text(encoding="utf-8"))
    cells = {}
    for index, row in enumerate(rows):
        for answer in row["raw_annotations"][question]:
            value = convert(answer[key])
            if value is not None:
                cells[str(answer["workerID"]), index] = value
    return [row.get("question_category", row["category"]) for row in rows], cells


def package_alpha(cells: dict[tuple[str, int], str], items: set[int] | None = None) -> float:
    """α from the ``krippendorff`` package on a workers × items string matrix."""
    kept = {k: v for k, v in cells.items() if items is None or k[1] in items}
    workers = sorted({w for w, _ in kept})
    columns = sorted({i for _, i in kept})
    matrix = np.full((len(workers), len(columns)), "nan", dtype=object)
    for (worker, index), value in kept.items():
        matrix[workers.index(worker), columns.index(index)] = value
    try:
        return float(krippendorff.alpha(matrix.astype(str), level_of_measurement="nominal"))
    except ValueError as exc:  # one value only: the package refuses, our rule says NaN
        assert "more than one value" in str(exc)
        return math.nan


def reference_mean_kappa(cells: dict[tuple[str, int], str]) -> tuple[float, int]:
    """Mean Cohen's κ over worker pairs sharing ≥ 2 items (p_e = 1 pairs left out)."""
    by_worker: dict[str, dict[int, str]] = defaultdict(dict)
    for (worker, index), value in cells.items():
        by_worker[worker][index] = value
    kappas = []
    for a, b in itertools.combinations(sorted(by_worker), 2):
        shared = sorted(by_worker[a].keys() & by_worker[b].keys())
        if len(shared) < 2:
            continue
        first = [by_worker[a][i] for i in shared]
        second = [by_worker[b][i] for i in shared]
        n = len(shared)
        p_o = sum(x == y for x, y in zip(first, second, strict=True)) / n
        p_e = sum(first.count(v) * second.count(v) for v in set(first)) / n**2
        if p_e < 1:
            kappas.append((p_o - p_e) / (1 - p_e))
    return sum(kappas) / len(kappas), len(kappas)


def test_reading_both_files(square_file: Path) -> None:
    items = read_square_annotations(square_file)
    file = "response" if square_file == RESPONSES else "question"
    assert len(items) == {"response": 480, "question": 255}[file]
    assert [item.id for item in items[:2]] == [f"square-{file}-0", f"square-{file}-1"]
    assert all(len(item.labels) == 3 for item in items)
    assert {item.category for item in items} == {"contentious", "predictive", "ethical", "etc"}
    assert all(label.reviewer.startswith("square-") for item in items for label in item.labels)
    if file == "response":
        assert all(item.response for item in items)
    else:
        assert all(item.response == "" for item in items)
        # objective-judged questions were not asked about sensitivity
        for label in (label for item in items for label in item.labels):
            assert ("sensitive" in label.values) == (label.values["subjective"] == "subjective")


def test_import_lines_pass_the_review_apps_checks(square_file: Path) -> None:
    """Every line is a valid review ``ImportLine`` and every label validates, unchanged,
    against the bundled schema as the review app parses it."""
    file: SquareFile = "response" if square_file == RESPONSES else "question"
    schema = parse_schema_text(square_schema(file), f"square_{file}.yaml")
    assert schema.name == f"square-{file}"
    assert [f.name for f in schema.fields] == FIELDS[square_file]
    assert all(f.kind == "choice" and set(f.label) == {"ko", "en"} for f in schema.fields)
    lines = list(square_import_lines(square_file))
    assert len(lines) == len(read_square_annotations(square_file))
    for line in lines:
        assert list(line) == ["id", "prompt", "response", "category", "labels"]
        parsed = ImportLine.model_validate(json.loads(json.dumps(line, ensure_ascii=False)))
        assert parsed.id == line["id"] and len(parsed.labels) == 3
        for label in line["labels"]:
            assert list(label) == ["reviewer", "values"]
            clean = schema.validate_values(label["values"])
            assert {k: v for k, v in clean.items() if v is not None} == label["values"]
    if file == "response":
        first = lines[0]["labels"][0]
        assert first == {"reviewer": "square-18034", "values": {"acceptable": "non-acceptable"}}


def test_alpha_kappa_and_agreement_on_real_labels(square_file: Path) -> None:
    """Per field, overall and per question category: α equals the package on a matrix
    built here from the raw JSON; mean κ equals the reference above."""
    items = read_square_annotations(square_file)
    groups = {item.id: item.category for item in items}
    for field in FIELDS[square_file]:
        categories, cells = raw_cells(square_file, field)
        ratings = square_ratings(items, field)
        assert len(ratings) == len(cells)
        result = field_agreement(ratings, "choice")
        stats = result.stats
        assert stats is not None
        assert stats.alpha == pytest.approx(package_alpha(cells), abs=1e-12)
        kappa, pairs = reference_mean_kappa(cells)
        assert (stats.kappa, stats.kappa_pairs) == (pytest.approx(kappa), pairs)
        for value in (stats.alpha, stats.kappa, stats.percent_agreement):
            assert math.isfinite(value) and -1 <= value <= 1
        assert stats.items == len(items)  # every item has at least two answers
        by_group = agreement_by_group(ratings, groups, "choice")
        assert sorted(by_group) == ["contentious", "etc", "ethical", "predictive"]
        for name, agreement in by_group.items():
            members = {i for i, c in enumerate(categories) if c == name}
            expected = package_alpha(cells, members)
            assert agreement.stats is not None
            assert agreement.stats.alpha == pytest.approx(expected, abs=1e-12, nan_ok=True)
            assert agreement.stats.items == len(members)


def test_majority_of_three_is_the_released_label(square_file: Path) -> None:
    """SQuARe's released label is the workers' majority: checks the import's direction
    (1 = acceptable / sensitive) and the reviewers' values."""
    items = read_square_annotations(square_file)
    field = "acceptable" if square_file == RESPONSES else "sensitive"
    by_item = defaultdict(list)
    for rating in square_ratings(items, field):
        by_item[rating.item].append(rating)
    assert all(majority_label(by_item[item.id]) == item.gold[field] for item in items)


def test_alpha_of_the_response_file() -> None:
    """The number the benchmark reports, pinned (nominal α over all 480 responses)."""
    if not RESPONSES.is_file():
        pytest.skip(f"the real SQuARe annotations are not at {RESPONSES}")
    ratings = square_ratings(read_square_annotations(RESPONSES), "acceptable")
    assert len(ratings) == 1437  # 1,440 answers, 3 "dont_know"
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(0.3052, abs=1e-4)


def write(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def test_unknown_answers_and_other_files_are_input_errors(tmp_path: Path) -> None:
    row = {
        "question": "질문",
        "response": "답",
        "question_category": "etc",
        "acceptable?": 1,
        "raw_annotations": {
            "Q2: Acceptable or Non-acceptable": [{"workerID": 1, "acceptable?": "maybe"}]
        },
    }
    with pytest.raises(InputError, match="unknown answer 'maybe'"):
        read_square_annotations(write(tmp_path, [row]))
    with pytest.raises(InputError, match="not SQuARe's questions"):
        read_square_annotations(write(tmp_path, [{**row, "raw_annotations": {"Q9": []}}]))
    with pytest.raises(InputError, match="must be an object"):
        read_square_annotations(write(tmp_path, [{**row, "raw_annotations": []}]))
    answers: dict[str, list[dict[str, Any]]] = {
        "Q2: Acceptable or Non-acceptable": [{"acceptable?": "acceptable"}]
    }
    with pytest.raises(InputError, match="workerID"):
        read_square_annotations(write(tmp_path, [{**row, "raw_annotations": answers}]))
    answers = {
        "Q2: Subjective or Objective": [{"workerID": 1, "subjective?": "subjective"}],
        "Q3: Sensitive or Non-sensitive": [{"workerID": 1, "category": "hmm"}],
    }
    with pytest.raises(InputError, match="unknown answer 'hmm'"):
        read_square_annotations(write(tmp_path, [{**row, "raw_annotations": answers}]))


def test_a_small_file_reads_in_place(tmp_path: Path) -> None:
    """NFC text, abstentions kept in the labels but not rated, gold in field values."""
    decomposed = "\u1100\u1161"  # 가 as jamo
    row = {
        "question": decomposed,
        "response": "답",
        "question_category": "predictive",
        "acceptable?": 0,
        "raw_annotations": {
            "Q2: Acceptable or Non-acceptable": [
                {"workerID": 7, "acceptable?": "non-acceptable"},
                {"workerID": 8, "acceptable?": "dont_know"},
            ]
        },
    }
    [item] = read_square_annotations(write(tmp_path, [row]))
    assert item.prompt == "가" and item.gold == {"acceptable": "non-acceptable"}
    assert [label.values["acceptable"] for label in item.labels] == ["non-acceptable", "dont_know"]
    assert [r.reviewer for r in square_ratings([item], "acceptable")] == ["square-7"]
