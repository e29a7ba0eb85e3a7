"""Recording runs and results, reading them back, and ranking models on the leaderboard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from haechi.errors import HaechiError
from haechi.store import ResultRecord, RunNotFoundError, Store, open_store
from haechi.store.db import create_store_engine


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as store:
        yield store


def primary(task: str, value: float, *, group: bool = False) -> ResultRecord:
    return ResultRecord(
        task=task, metric="acc", value=value, stderr=0.01, n=100, is_primary=True, is_group=group
    )


def eval_run(
    store: Store,
    fingerprint: str,
    results: list[ResultRecord],
    *,
    status: Literal["running", "completed", "failed"] = "completed",
    spec: str | None = None,
) -> str:
    run_id = store.start_run("eval", spec or f"hf/{fingerprint}", fingerprint, {}, {})
    store.add_results(run_id, results)
    if status != "running":
        store.finish_run(run_id, status)
    # Finish times must differ for "latest" to mean something; 2 ms is ample on both backends.
    time.sleep(0.002)
    return run_id


def test_run_round_trips(store: Store) -> None:
    config = {
        "tasks": ["kobest_boolq"],
        "num_fewshot": 5,
        "note": "한국어 설정",
        "nested": {"a": 1},
    }
    versions = {"haechi": "0.1.0", "torch": "2.4.0"}
    before = datetime.now(UTC)
    run_id = store.start_run("eval", "hf/tiny", "abc123", config, versions, name="첫 실행")
    results = [
        ResultRecord(task="kobest_boolq", metric="acc", value=0.75, stderr=0.02, n=100,
                     is_primary=True),
        ResultRecord(task="kobest_boolq", metric="f1", value=0.7, stderr=None, n=100),
        ResultRecord(task="ko_h5", metric="acc", value=0.6, stderr=None, n=500,
                     is_primary=True, is_group=True),
    ]  # fmt: skip
    store.add_results(run_id, results)

    running = store.get_run(run_id)
    assert running.status == "running"
    assert running.finished_at is None
    assert running.created_at.tzinfo is not None
    assert before <= running.created_at <= datetime.now(UTC)

    store.finish_run(run_id)
    run = store.get_run(run_id)
    assert len(run_id) == 32
    assert (run.id, run.kind, run.name, run.model_spec, run.model_fingerprint) == (
        run_id, "eval", "첫 실행", "hf/tiny", "abc123"
    )  # fmt: skip
    assert run.config == config
    assert run.versions == versions
    assert run.status == "completed"
    assert run.error is None
    assert run.finished_at is not None
    assert run.finished_at.utcoffset() is not None and run.finished_at >= run.created_at
    assert run.results == results


def test_failed_run_keeps_its_error(store: Store) -> None:
    run_id = store.start_run("eval", "hf/x", "fp", {}, {})
    store.finish_run(run_id, "failed", error="CUDA out of memory")
    run = store.get_run(run_id)
    assert (run.status, run.error) == ("failed", "CUDA out of memory")
    with pytest.raises(HaechiError, match="already finished"):
        store.finish_run(run_id)


def test_unknown_run_ids(store: Store) -> None:
    with pytest.raises(RunNotFoundError, match="nope"):
        store.get_run("nope")
    with pytest.raises(RunNotFoundError):
        store.add_results("nope", [primary("t", 0.5)])
    with pytest.raises(RunNotFoundError):
        store.finish_run("nope")


def test_results_are_added_all_or_none(store: Store) -> None:
    run_id = store.start_run("eval", "hf/x", "fp", {}, {})
    store.add_results(run_id, [primary("a", 0.5)])
    with pytest.raises(HaechiError, match="already has a result"):
        store.add_results(run_id, [primary("b", 0.1), primary("a", 0.9)])
    assert [(r.task, r.value) for r in store.get_run(run_id).results] == [("a", 0.5)]


def test_result_values_are_checked() -> None:
    with pytest.raises(ValidationError, match="finite"):
        ResultRecord(task="t", metric="acc", value=float("nan"), stderr=None, n=1)
    record = ResultRecord(task="t", metric="acc", value=1.0, stderr=float("nan"), n=1)
    assert record.stderr is None


def test_deleting_a_run_deletes_its_results(db_url: str, store: Store) -> None:
    run_id = store.start_run("eval", "hf/x", "fp", {}, {})
    store.add_results(run_id, [primary("a", 0.5), primary("b", 0.5)])
    # Straight SQL, so the database's ON DELETE CASCADE (foreign keys on) does the work.
    engine = create_store_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": run_id})
            assert conn.execute(text("SELECT count(*) FROM results")).scalar() == 0
    finally:
        engine.dispose()


def test_list_runs_newest_first(store: Store) -> None:
    ids = []
    for i in range(4):
        ids.append(store.start_run("eval" if i % 2 == 0 else "generate", f"hf/m{i}", "fp", {}, {}))
        time.sleep(0.002)
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs(kind="eval")] == [ids[2], ids[0]]
    assert [r.id for r in store.list_runs(limit=1)] == [ids[3]]
    assert store.list_runs(kind="judge") == []


def test_empty_leaderboard(store: Store) -> None:
    board = store.leaderboard()
    assert (board.columns, board.rows) == ([], [])


def test_leaderboard_latest_completed_run_wins(store: Store) -> None:
    eval_run(store, "m1", [primary("ko_h5", 0.40, group=True), primary("kobest_boolq", 0.6)])
    newest = eval_run(store, "m1", [primary("ko_h5", 0.50, group=True)])
    eval_run(store, "m1", [primary("ko_h5", 0.99, group=True)], status="failed")
    eval_run(store, "m1", [primary("ko_h5", 0.98, group=True)], status="running")

    board = store.leaderboard()
    assert len(board.rows) == 1
    row = board.rows[0]
    # ko_h5 from the newest completed run; kobest_boolq still from the older run that had it.
    assert row.values == {"ko_h5": 0.50, "kobest_boolq": 0.6}
    assert row.run_id == newest
    assert row.finished_at == store.get_run(newest).finished_at


def test_leaderboard_ignores_other_kinds_and_secondary_metrics(store: Store) -> None:
    run_id = store.start_run("redteam", "hf/m1", "m1", {}, {})
    store.add_results(run_id, [primary("attack_success", 0.3)])
    store.finish_run(run_id)
    eval_run(
        store,
        "m2",
        [primary("t", 0.5), ResultRecord(task="t", metric="f1", value=0.9, stderr=None, n=10)],
    )
    board = store.leaderboard()
    assert [r.model_fingerprint for r in board.rows] == ["m2"]
    assert board.rows[0].values == {"t": 0.5}


def test_leaderboard_columns_groups_first_then_tasks(store: Store) -> None:
    eval_run(store, "m1", [primary("zeta", 0.1), primary("ko_h5", 0.5, group=True)])
    eval_run(store, "m2", [primary("alpha", 0.2), primary("kmmlu", 0.3, group=True)])
    board = store.leaderboard()
    assert board.columns == ["kmmlu", "ko_h5", "alpha", "zeta"]
    assert board.groups == ["kmmlu", "ko_h5"]
    assert {r.model_fingerprint: r.values for r in board.rows} == {
        "m1": {"zeta": 0.1, "ko_h5": 0.5},
        "m2": {"alpha": 0.2, "kmmlu": 0.3},
    }


def test_leaderboard_sorted_by_group_missing_last(store: Store) -> None:
    eval_run(store, "low", [primary("ko_h5", 0.3, group=True), primary("kmmlu", 0.9, group=True)])
    eval_run(store, "none", [primary("kmmlu", 0.95, group=True)])
    eval_run(store, "high", [primary("ko_h5", 0.7, group=True), primary("kmmlu", 0.1, group=True)])
    board = store.leaderboard(group="ko_h5")
    assert board.group == "ko_h5"
    assert [r.model_fingerprint for r in board.rows] == ["high", "low", "none"]
    assert "ko_h5" not in board.rows[-1].values
    by_kmmlu = store.leaderboard(group="kmmlu")
    assert [r.model_fingerprint for r in by_kmmlu.rows] == ["none", "low", "high"]


def test_leaderboard_default_order_is_mean_of_groups(store: Store) -> None:
    # Means of group values: a = 0.5, b = 0.6, c = none (only a plain task) → b, a, c.
    eval_run(store, "a", [primary("g1", 0.2, group=True), primary("g2", 0.8, group=True)])
    eval_run(store, "b", [primary("g1", 0.6, group=True), primary("task", 0.0)])
    eval_run(store, "c", [primary("task", 1.0)])
    assert [r.model_fingerprint for r in store.leaderboard().rows] == ["b", "a", "c"]


def test_leaderboard_without_groups_uses_mean_of_tasks(store: Store) -> None:
    eval_run(store, "a", [primary("t1", 0.2), primary("t2", 0.4)])
    eval_run(store, "b", [primary("t1", 0.5)])
    eval_run(store, "c", [primary("t2", 0.1)])
    assert [r.model_fingerprint for r in store.leaderboard().rows] == ["b", "a", "c"]


def test_leaderboard_ties_break_by_model_spec(store: Store) -> None:
    eval_run(store, "fp2", [primary("g", 0.5, group=True)], spec="hf/b-model")
    eval_run(store, "fp1", [primary("g", 0.5, group=True)], spec="hf/a-model")
    assert [r.model_spec for r in store.leaderboard().rows] == ["hf/a-model", "hf/b-model"]


def test_leaderboard_row_takes_newest_spec_for_a_fingerprint(store: Store) -> None:
    eval_run(store, "fp", [primary("g", 0.5, group=True)], spec="hf/./old-path")
    eval_run(store, "fp", [primary("g", 0.6, group=True)], spec="hf/new-path")
    (row,) = store.leaderboard().rows
    assert (row.model_spec, row.values) == ("hf/new-path", {"g": 0.6})


def test_find_running_matches_kind_config_and_name(store: Store) -> None:
    first = store.start_run("eval", "hf/a", "fp", {"resume_key": "k1"}, {})
    store.start_run("redteam", "hf/a", "fp", {"resume_key": "k1"}, {}, name="c")
    done = store.start_run("eval", "hf/a", "fp", {"resume_key": "k2"}, {})
    store.finish_run(done)
    assert store.find_running("eval", "resume_key", "k1") == first
    assert store.find_running("eval", "resume_key", "k2") is None  # finished: not resumable
    assert store.find_running("redteam", "resume_key", "k1", name="other") is None
    assert store.find_running("redteam", "resume_key", "k1", name="c") is not None
