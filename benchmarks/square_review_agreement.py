"""Agreement of SQuARe's real crowd workers through haechi's review statistics.

Not a test: a measurement on ``../shared/data/square/*_test_ood_annotations.json`` (Lee
et al., ACL 2023; read in place): 480 responses labelled acceptable or not and 255
questions labelled subjective or objective and, if subjective, sensitive or not (with a
category), three workers per item out of about 200. Each field of the bundled label
schemas goes through ``haechi.review.agreement.field_agreement``: nominal Krippendorff's α,
the mean Cohen's κ over worker pairs that share at least ``--min-overlap`` items (pairs
with an undefined κ left out; "pairs, items" say how many entered), and the share of
agreeing rating pairs, over all items and per question category.
("dont_know" answers, 3 of 1,440, count as no rating.)

    python benchmarks/square_review_agreement.py [--data DIR] [--min-overlap 2]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from haechi.review.agreement import AgreementStats, agreement_by_group, field_agreement
from haechi.review.label_schema import parse_schema_text
from haechi.review.square import SquareFile, read_square_annotations, square_ratings, square_schema

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "square"
FILES: dict[SquareFile, str] = {
    "response": "response_test_ood_annotations.json",
    "question": "question_test_ood_annotations.json",
}


def _cell(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


def _row(file: str, field: str, group: str, stats: AgreementStats) -> str:
    kappa = f"{_cell(stats.kappa)} ({stats.kappa_pairs}, {stats.kappa_items})"
    return (
        f"| {file} | {field} | {group} | {stats.items} | {stats.ratings} | "
        f"{_cell(stats.alpha)} | {kappa} | {_cell(stats.percent_agreement)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the SQuARe folder")
    parser.add_argument("--min-overlap", type=int, default=2)
    args = parser.parse_args()
    if not all((args.data / name).is_file() for name in FILES.values()):
        raise SystemExit(f"no SQuARe annotations in {args.data}: nothing to measure")
    started = time.perf_counter()
    print(
        "| file | field | category | items (≥2 ratings) | ratings | α (nominal) | "
        "mean κ (pairs, items) | % agreement |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for file, name in FILES.items():
        items = read_square_annotations(args.data / name)
        groups = {item.id: item.category for item in items}
        for field in parse_schema_text(square_schema(file), f"square_{file}.yaml").fields:
            ratings = square_ratings(items, field.name)
            overall = field_agreement(ratings, field.kind, min_overlap=args.min_overlap)
            assert overall.stats is not None  # choice fields have their own statistics
            print(_row(name, field.name, "all", overall.stats))
            by_group = agreement_by_group(ratings, groups, field.kind, min_overlap=args.min_overlap)
            for group, agreement in by_group.items():
                assert agreement.stats is not None
                print(_row(name, field.name, group, agreement.stats))
    print(f"\nwall {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
