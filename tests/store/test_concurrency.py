"""Several processes migrating and writing one store at the same moment lose nothing.

The workers are separate Python processes running this file as a script, so the test does
not depend on how pytest imports test modules.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import text

from haechi.store import ResultRecord, open_store
from haechi.store.db import create_store_engine, head_revisions

WORKERS = 4
RUNS_PER_WORKER = 12
RESULTS_PER_RUN = 8
START_TIMEOUT_S = 120.0


def write_runs(url: str, worker: int, sync: Path) -> None:
    """Wait for the signal to go, then open the (fresh) store and record runs."""
    (sync / f"ready-{worker}").touch()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (sync / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never told to go")
        time.sleep(0.001)
    with open_store(url) as store:
        for i in range(RUNS_PER_WORKER):
            run_id = store.start_run(
                "eval", f"hf/w{worker}", f"fp{worker}", {"i": i}, {}, name=f"w{worker}-r{i}"
            )
            store.add_results(
                run_id,
                [
                    ResultRecord(task=f"t{j}", metric="acc", value=j / 10, stderr=None, n=j)
                    for j in range(RESULTS_PER_RUN)
                ],
            )
            store.finish_run(run_id)


def test_concurrent_processes_migrate_and_write(db_url: str, tmp_path: Path) -> None:
    sync = tmp_path / "sync"
    sync.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, db_url, str(w), str(sync)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for w in range(WORKERS)
    ]
    # Release everyone at once, after the slow part (imports), so the migrations race too.
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(list(sync.glob("ready-*"))) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.005)
    (sync / "go").touch()
    outputs = [process.communicate(timeout=300)[0] for process in workers]
    failures = [out for process, out in zip(workers, outputs, strict=True) if process.returncode]
    assert not failures, "\n".join(failures)

    with open_store(db_url) as store:
        runs = store.list_runs(limit=None)
    expected = sorted(f"w{w}-r{i}" for w in range(WORKERS) for i in range(RUNS_PER_WORKER))
    assert sorted(str(r.name) for r in runs) == expected
    for run in runs:
        assert run.status == "completed"
        assert [r.task for r in run.results] == [f"t{j}" for j in range(RESULTS_PER_RUN)]

    engine = create_store_engine(db_url)
    try:
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM results")).scalar()
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert total == WORKERS * RUNS_PER_WORKER * RESULTS_PER_RUN
    assert [v for (v,) in versions] == list(head_revisions())


def test_threads_share_one_store(db_url: str) -> None:
    def record(worker: int) -> None:
        for i in range(10):
            run_id = store.start_run("eval", "hf/x", "fp", {}, {}, name=f"t{worker}-{i}")
            store.add_results(
                run_id, [ResultRecord(task="t", metric="acc", value=0.5, stderr=None, n=1)]
            )
            store.finish_run(run_id)

    with open_store(db_url) as store, ThreadPoolExecutor(8) as pool:
        list(pool.map(record, range(8)))
        runs = store.list_runs(limit=None)
    assert len({r.name for r in runs}) == len(runs) == 80
    assert all(r.status == "completed" and len(r.results) == 1 for r in runs)


if __name__ == "__main__":
    write_runs(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))


def _open_when_released(url: str, barrier: Any, outcomes: Any) -> None:
    barrier.wait()
    try:
        with open_store(url):
            outcomes.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        outcomes.put(f"{type(exc).__name__}: {exc}")


def test_a_new_sqlite_file_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    """Switching a new file to WAL needs an exclusive lock, and SQLite refuses it at once
    (no busy timeout) while another process holds the file: opening must wait, not fail."""
    context = multiprocessing.get_context("fork")
    failures = []
    for round_ in range(10):
        url = str(tmp_path / f"round-{round_}.db")
        barrier, outcomes = context.Barrier(WORKERS), context.Queue()
        workers = [
            context.Process(target=_open_when_released, args=(url, barrier, outcomes))
            for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=START_TIMEOUT_S)
        failures += [o for o in (outcomes.get(timeout=5) for _ in workers) if o != "ok"]
    assert failures == []
