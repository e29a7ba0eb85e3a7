"""Ranking stored evaluation runs: newest completed run per task, groups first, partial
runs (--limit, --samples) left out unless asked for and then marked."""

from __future__ import annotations

import time
from typing import Any, Literal

from tests.store.test_records import primary, store

from haechi.evaluate.leaderboard import group_columns, leaderboard, sort_rows
from haechi.store import ResultRecord, Store

__all__ = ["store"]  # the store fixture, on SQLite and PostgreSQL


def eval_run(
    store: Store,
    fingerprint: str,
    results: list[ResultRecord],
    *,
    status: Literal["running", "completed", "failed"] = "completed",
    spec: str | None = None,
    options: dict[str, Any] | None = None,
) -> str:
    config = {"eval": options} if options is not None else {}
    run_id = store.start_run("eval", spec or f"hf/{fingerprint}", fingerprint, config, {})
    store.add_results(run_id, results)
    if status != "running":
        store.finish_run(run_id, status)
    # Finish times must differ for "latest" to mean something; 2 ms is ample on both backends.
    time.sleep(0.002)
    return run_id


def test_empty_leaderboard(store: Store) -> None:
    board = leaderboard(store)
    assert (board.columns, board.rows) == ([], [])


def test_leaderboard_latest_completed_run_wins(store: Store) -> None:
    eval_run(store, "m1", [primary("ko_h5", 0.40, group=True), primary("kobest_boolq", 0.6)])
    newest = eval_run(store, "m1", [primary("ko_h5", 0.50, group=True)])
    eval_run(store, "m1", [primary("ko_h5", 0.99, group=True)], status="failed")
    eval_run(store, "m1", [primary("ko_h5", 0.98, group=True)], status="running")

    board = leaderboard(store)
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
    board = leaderboard(store)
    assert [r.model_fingerprint for r in board.rows] == ["m2"]
    assert board.rows[0].values == {"t": 0.5}


def test_leaderboard_columns_groups_first_then_tasks(store: Store) -> None:
    eval_run(store, "m1", [primary("zeta", 0.1), primary("ko_h5", 0.5, group=True)])
    eval_run(store, "m2", [primary("alpha", 0.2), primary("kmmlu", 0.3, group=True)])
    board = leaderboard(store)
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
    board = leaderboard(store, group="ko_h5")
    assert board.group == "ko_h5"
    assert [r.model_fingerprint for r in board.rows] == ["high", "low", "none"]
    assert "ko_h5" not in board.rows[-1].values
    by_kmmlu = leaderboard(store, group="kmmlu")
    assert [r.model_fingerprint for r in by_kmmlu.rows] == ["none", "low", "high"]


def test_leaderboard_default_order_is_mean_of_groups(store: Store) -> None:
    # Means of group values: a = 0.5, b = 0.6, c = none (only a plain task) → b, a, c.
    eval_run(store, "a", [primary("g1", 0.2, group=True), primary("g2", 0.8, group=True)])
    eval_run(store, "b", [primary("g1", 0.6, group=True), primary("task", 0.0)])
    eval_run(store, "c", [primary("task", 1.0)])
    assert [r.model_fingerprint for r in leaderboard(store).rows] == ["b", "a", "c"]


def test_leaderboard_without_groups_uses_mean_of_tasks(store: Store) -> None:
    eval_run(store, "a", [primary("t1", 0.2), primary("t2", 0.4)])
    eval_run(store, "b", [primary("t1", 0.5)])
    eval_run(store, "c", [primary("t2", 0.1)])
    assert [r.model_fingerprint for r in leaderboard(store).rows] == ["b", "a", "c"]


def test_leaderboard_ties_break_by_model_spec(store: Store) -> None:
    eval_run(store, "fp2", [primary("g", 0.5, group=True)], spec="hf/b-model")
    eval_run(store, "fp1", [primary("g", 0.5, group=True)], spec="hf/a-model")
    assert [r.model_spec for r in leaderboard(store).rows] == ["hf/a-model", "hf/b-model"]


def test_leaderboard_row_takes_newest_spec_for_a_fingerprint(store: Store) -> None:
    eval_run(store, "fp", [primary("g", 0.5, group=True)], spec="hf/./old-path")
    eval_run(store, "fp", [primary("g", 0.6, group=True)], spec="hf/new-path")
    (row,) = leaderboard(store).rows
    assert (row.model_spec, row.values) == ("hf/new-path", {"g": 0.6})


def test_partial_runs_are_left_out_unless_asked_for_and_then_marked(store: Store) -> None:
    full = {"limit": None, "samples": False}
    eval_run(store, "m1", [primary("ko_h5", 0.40, group=True)], options=full)
    # a newer --limit run of the same model must not replace its full score
    limited = eval_run(
        store, "m1", [primary("ko_h5", 0.90, group=True)], options={**full, "limit": 100}
    )
    sampled = eval_run(
        store, "m2", [primary("ko_h5", 0.95, group=True)], options={**full, "samples": True}
    )
    board = leaderboard(store)
    assert [(r.model_fingerprint, r.values, r.partial) for r in board.rows] == [
        ("m1", {"ko_h5": 0.40}, None)
    ]
    assert board.hidden_partial == 2
    shown = leaderboard(store, include_partial=True)
    assert [(r.run_id, r.partial) for r in shown.rows[1:]] == [
        (sampled, "--samples"),
        (limited, "--limit 100"),
    ]  # after the full row, best first
    assert shown.rows[0].values == {"ko_h5": 0.40}
    assert shown.hidden_partial == 0


def test_only_partial_runs_give_an_empty_board_that_says_so(store: Store) -> None:
    eval_run(store, "m1", [primary("t", 0.5)], options={"limit": 5, "samples": False})
    board = leaderboard(store)
    assert (board.rows, board.columns, board.hidden_partial) == ([], [], 1)


def test_rows_carry_stderr_source_run_and_revision(store: Store) -> None:
    older = eval_run(store, "m1", [primary("kobest_boolq", 0.6)])
    config = {"eval": {}, "model_config": {"revision": "abc123"}}
    newer = store.start_run("eval", "hf/m1", "m1", config, {})
    store.add_results(
        newer,
        [ResultRecord(task="ko_arc", metric="acc", value=0.3, stderr=0.02, n=9, is_primary=True)],
    )
    store.finish_run(newer)
    (row,) = leaderboard(store).rows
    assert row.stderrs == {"ko_arc": 0.02, "kobest_boolq": 0.01}
    assert row.runs == {"ko_arc": newer, "kobest_boolq": older}
    assert row.revision == "abc123" and row.chat_template is None


def test_sorting_by_a_column_and_group_columns(store: Store) -> None:
    eval_run(store, "b", [primary("kobest", 0.5, group=True), primary("kobest_copa", 0.9)])
    eval_run(store, "a", [primary("kobest", 0.7, group=True), primary("ko_arc", 0.2)])
    eval_run(store, "c", [primary("kobest_copa", 0.4)], options={"limit": 3})
    board = leaderboard(store, include_partial=True)
    names = lambda rows: [r.model_fingerprint for r in rows]  # noqa: E731
    assert names(sort_rows(board.rows, "kobest_copa")) == [
        "b",
        "a",
        "c",
    ]  # missing last, partial after
    assert names(sort_rows(board.rows, "kobest_copa", descending=False)) == ["b", "a", "c"]
    assert names(sort_rows(board.rows, "kobest", descending=False)) == ["b", "a", "c"]
    assert names(sort_rows(board.rows, "kobest")) == ["a", "b", "c"]
    assert names(sort_rows(board.rows, "model")) == ["b", "a", "c"]
    assert group_columns(board, "kobest") == ["kobest", "kobest_copa"]
    assert group_columns(board, None) == board.columns == ["kobest", "ko_arc", "kobest_copa"]
    assert group_columns(board, "ko_h5") == board.columns  # no run has it
