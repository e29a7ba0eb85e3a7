"""A small lab in one store, built from real runs: two tiny models evaluated on copies of
the bundled sample documents (full runs, so they rank), a partial run, a red-team campaign
against each model (human labels on the first one's attempts), side-by-side votes between
the two, and a judge run grading the first model's outputs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tests.redteam.test_runner import campaign_file
from tests.review.conftest import PASSWORD

from haechi.evaluate import EvalConfig, evaluate
from haechi.models import load
from haechi.redteam.campaign import load_campaign
from haechi.redteam.runner import Campaign
from haechi.review.accounts import Account, add_user
from haechi.review.arena import arena_schema
from haechi.review.imports import ImportLine, import_items, lines_from_attempts
from haechi.review.labels import submit_label
from haechi.review.queue import next_item
from haechi.store import ResultRecord, Store
from haechi.store.attempts import load_attempts

TASKS = ["kobest", "ko_arc", "kmmlu"]
COPIES = 3  # each bundled test document repeated, so the comparison has documents to pair


@dataclass
class Lab:
    a: str  # eval run ids
    b: str
    partial: str
    redteam: str  # campaign "tiny" against a, then against b
    redteam_b: str
    attempt_key: str  # one attempt of ``redteam``
    spec_a: str
    spec_b: str
    fp_a: str
    fp_b: str
    admin: Account
    reviewer: Account


def data_dir(folder: Path) -> Path:
    """The bundled sample documents of ``TASKS`` as a data folder, test splits repeated."""
    from haechi.tasks import resolve

    samples = Path(str(resources.files("haechi.tasks").joinpath("samples")))
    specs, _ = resolve(TASKS)
    for spec in specs:
        source, target = samples / spec.task, folder / spec.task
        shutil.copytree(source, target)
        test = target / f"{spec.dataset.test_split}.jsonl"
        test.write_text(test.read_text("utf-8") * COPIES, "utf-8")
    return folder


def build_lab(store: Store, llama: Path, qwen: Path, tmp: Path) -> Lab:
    data = data_dir(tmp / "data")
    runs, models = [], []
    for name, folder in (("a", llama), ("b", qwen)):
        model = load(f"hf/{folder}")
        config = EvalConfig(
            tasks=TASKS,
            num_fewshot=1,
            data_dir=data,
            output=tmp / name,
            log_samples=True,
            bootstrap_iters=1000,  # F1's bootstrap stderr; the default 100,000 takes seconds
        )
        runs.append(evaluate(model, config, store=store, progress=False).run_id)
        models.append(model)
    partial = evaluate(
        models[0],
        EvalConfig(tasks=["ko_arc"], num_fewshot=0, limit=2, data_dir=data, bootstrap_iters=0),
        store=store,
        progress=False,
    ).run_id
    redteam, redteam_b = (
        Campaign(load_campaign(campaign_file(tmp, m.name, "detectors: [{type: refusal}]\n")), tmp)
        .run(store, progress=False)
        .run_id
        for m in models
    )
    admin = add_user(store, "admin", "admin", PASSWORD)
    reviewer = add_user(store, "rev0", "reviewer", PASSWORD)
    import_items(
        store, "rt", lines_from_attempts(store, redteam), f"redteam:{redteam}", reviewers=["rev0"]
    )
    while (item := next_item(store, "rt", reviewer)) is not None:
        submit_label(store, "rt", item, reviewer, {"attack_success": "yes", "severity": "1"})
    _votes(store, models[0].name, models[1].name, reviewer)
    judge = store.start_run("judge", "hf/judge", "judge-fp", {"subject": models[0].name}, {})
    store.add_results(
        judge,
        [
            ResultRecord(
                task="fluency",
                metric="geval_logprobs",
                value=3.5,
                stderr=None,
                n=4,
                is_primary=True,
            )
        ],
    )
    store.finish_run(judge)
    assert runs[0] and runs[1] and partial
    return Lab(
        runs[0], runs[1], partial, redteam, redteam_b, load_attempts(store, redteam)[0].key,
        models[0].name, models[1].name,
        models[0].fingerprint, models[1].fingerprint, admin, reviewer,
    )  # fmt: skip


def _votes(store: Store, first: str, second: str, reviewer: Account) -> None:
    lines = [
        ImportLine(
            id=f"duel-{i}",
            prompt=f"질문 {i}",
            response="",
            category="writing",
            chain={"arena": {"a": f"답 A {i}", "b": f"답 B {i}"}},
            verdicts=[{"detector": "A", "model": first}, {"detector": "B", "model": second}],
        )
        for i in range(6)
    ]
    import_items(store, "duel", lines, "arena", label_schema=arena_schema(), reviewers=["rev0"])
    for i in range(6):
        item = next_item(store, "duel", reviewer)
        assert item is not None
        submit_label(store, "duel", item, reviewer, {"vote": "a" if i % 3 else "b"})
