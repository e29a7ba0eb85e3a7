"""Agreement of real human raters on SQuARe's OOD responses, and meta-eval on real labels.

Not a test: a measurement on ``../shared/data/square/response_test_ood_annotations.json``
(Lee et al., ACL 2023; read in place, never copied): 480 Korean responses to sensitive
questions, each labelled acceptable / non-acceptable (or "dont_know") by three crowd
workers. Workers differ from item to item, so "annotator k" is the k-th label of every
item (its position in ``raw_annotations``), and "all" pools the three positions.

(a) Each annotator against the two others: accuracy and Cohen's κ against the others'
    consensus (on items where the two others agree), and, on every item where all three
    gave a label, the ROC AUC of the others' mean (0, ½ or 1) as a score for the
    annotator's label, and Spearman / Kendall τ-b between the two.
(b) The same labels through ``meta_evaluate``: annotator k as the "judge", the others'
    mean as the "human"; documents are questions (most have two responses), systems are
    the four question categories (so system level has n = 4: it only exercises the code).

    python benchmarks/square_agreement.py [--file PATH] [--bootstrap 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from haechi.judge.human_data import ScoredItem
from haechi.judge.meta_eval import LEVELS, MetaResult, cohen_kappa, meta_evaluate, roc_auc

FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "square"
    / "response_test_ood_annotations.json"
)
QUESTION = "Q2: Acceptable or Non-acceptable"
LABELS = {"acceptable": 1, "non-acceptable": 0, "dont_know": None}
CRITERION = "acceptable"


@dataclass(frozen=True)
class Response:
    """One response: its three labels in annotation order (1 acceptable, 0 not, None
    "dont_know"), its question, question category and the released gold label."""

    index: int
    question: str
    category: str
    labels: tuple[int | None, ...]
    gold: int


@dataclass(frozen=True)
class Agreement:
    """One annotator (or all pooled) against the two others."""

    annotator: str
    consensus_items: int  # items where the others agree (accuracy and κ)
    accuracy: float
    kappa: float | None
    items: int  # items where all three labelled (AUC and correlations)
    auc: float | None
    spearman: float
    kendall: float


def load_responses(path: Path = FILE) -> list[Response]:
    """The responses with their raw labels; raises ``ValueError`` on an unknown label."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    responses = []
    for i, row in enumerate(rows):
        labels = []
        for a in row["raw_annotations"][QUESTION]:
            if a["acceptable?"] not in LABELS:
                raise ValueError(f"{path} item {i}: unknown label {a['acceptable?']!r}")
            labels.append(LABELS[a["acceptable?"]])
        responses.append(
            Response(
                i, row["question"], row["question_category"], tuple(labels), row["acceptable?"]
            )
        )
    return responses


def agreement(responses: list[Response]) -> list[Agreement]:
    """Rows for annotator 1, 2, 3 and "all" (the three positions pooled)."""
    slots = range(len(responses[0].labels))
    rows = [_agreement(str(k + 1), responses, [k]) for k in slots]
    rows.append(_agreement("all", responses, list(slots)))
    return rows


def _agreement(name: str, responses: list[Response], slots: list[int]) -> Agreement:
    own, consensus, labelled, others_mean = [], [], [], []
    for r in responses:
        for k in slots:
            mine, others = r.labels[k], [v for i, v in enumerate(r.labels) if i != k]
            if mine is None or None in others:
                continue
            rest = [v for v in others if v is not None]
            labelled.append(mine)
            others_mean.append(sum(rest) / len(rest))
            if len(set(rest)) == 1:
                own.append(mine)
                consensus.append(rest[0])
    accuracy = sum(a == b for a, b in zip(own, consensus, strict=True)) / len(own)
    return Agreement(
        annotator=name,
        consensus_items=len(own),
        accuracy=accuracy,
        kappa=cohen_kappa(own, consensus),
        items=len(labelled),
        auc=roc_auc(labelled, others_mean),
        spearman=float(stats.spearmanr(labelled, others_mean).statistic),
        kendall=float(stats.kendalltau(labelled, others_mean).statistic),
    )


def judge_vs_others(
    responses: list[Response], slot: int, *, bootstrap: int = 1000, seed: int = 0
) -> MetaResult:
    """Annotator ``slot`` as the judge, the mean of the two others as the human rating
    (responses with a "dont_know" among the three have no score and are left out)."""
    judge, human = [], []
    for r in responses:
        mine = r.labels[slot]
        others = [v for i, v in enumerate(r.labels) if i != slot]
        # as in (a): a response enters only when all three gave a label
        mean = None if None in others else sum(v or 0 for v in others) / len(others)
        judge.append(ScoredItem(str(r.index), {CRITERION: mine}, r.question, r.category))
        human.append(ScoredItem(str(r.index), {CRITERION: mean}, r.question, r.category))
    return meta_evaluate(judge, human, [CRITERION], bootstrap=bootstrap, seed=seed)


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, default=FILE)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"no SQuARe annotations at {args.file}: nothing to measure")
    started = time.perf_counter()
    responses = load_responses(args.file)
    labels = [v for r in responses for v in r.labels]
    unknown = sum(v is None for v in labels)
    majority = sum(
        (sum(v or 0 for v in r.labels) * 2 > len(r.labels)) == bool(r.gold) for r in responses
    )
    print(
        f"{len(responses)} responses, {len(labels)} labels ({unknown} dont_know), "
        f"{len({r.question for r in responses})} questions; "
        f"majority of three = released label on {majority}/{len(responses)}"
    )
    print(
        "\n| annotator | consensus items | accuracy | Cohen κ | items | AUC | Spearman | Kendall τ-b |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in agreement(responses):
        print(
            f"| {row.annotator} | {row.consensus_items} | {row.accuracy:.3f} | "
            f"{_cell(row.kappa)} | {row.items} | {_cell(row.auc)} | {row.spearman:.3f} | "
            f"{row.kendall:.3f} |"
        )
    print(f"\nmeta_evaluate, bootstrap {args.bootstrap}, seed {args.seed}:")
    print("\n| judge | level | n | Spearman [95% CI] | Kendall τ-b [95% CI] | Pearson [95% CI] |")
    print("|---|---|---|---|---|---|")
    for slot in range(len(responses[0].labels)):
        result = judge_vs_others(responses, slot, bootstrap=args.bootstrap, seed=args.seed)
        for level in LEVELS:
            r = result.levels[CRITERION][level]
            cells = []
            for name in ("spearman", "kendall", "pearson"):
                ci = r.ci95[name]
                interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
                cells.append(_cell(r.values[name]) + interval)
            n = f"{r.n}" + (f" ({r.skipped} skipped)" if level == "summary" else "")
            print(f"| annotator {slot + 1} | {level} | {n} | {' | '.join(cells)} |")
    print(f"\nwall {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
