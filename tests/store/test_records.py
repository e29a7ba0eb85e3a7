"""Recording runs and results, and reading them back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

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


def test_find_running_matches_kind_config_and_name(store: Store) -> None:
    first = store.start_run("eval", "hf/a", "fp", {"resume_key": "k1"}, {})
    store.start_run("redteam", "hf/a", "fp", {"resume_key": "k1"}, {}, name="c")
    done = store.start_run("eval", "hf/a", "fp", {"resume_key": "k2"}, {})
    store.finish_run(done)
    assert store.find_running("eval", "resume_key", "k1") == first
    assert store.find_running("eval", "resume_key", "k2") is None  # finished: not resumable
    assert store.find_running("redteam", "resume_key", "k1", name="other") is None
    assert store.find_running("redteam", "resume_key", "k1", name="c") is not None
