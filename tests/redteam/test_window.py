"""The runner's bounded in-flight window: the target kept busy, the bound and the budgets
kept under concurrency, failures resumed without resending (in-process stand-in target)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.redteam.standin import StandInTarget

from haechi.errors import BackendError
from haechi.redteam.campaign import load_campaign
from haechi.redteam.plan import within_budget
from haechi.redteam.runner import Campaign
from haechi.redteam.window import Window
from haechi.store import open_store
from haechi.store.attempts import load_attempts


def campaign(tmp_path: Path, seeds: int, controls: int, extra: str = "") -> Path:
    path = tmp_path / "window.yaml"
    path.write_text(
        "name: window\ntarget: {model: openai/standin, max_new_tokens: 8}\n"
        f"seeds: [{{source: bundled, limit: {seeds}}}]\n"
        + (
            f"controls: [{{source: controls, limit: {controls}}}]\n"
            if controls
            else "controls: []\n"
        )
        + extra,
        encoding="utf-8",
    )
    return path


def run(path: Path, target: StandInTarget, db: Path, **kwargs: Any) -> Any:
    prepared = Campaign(load_campaign(path), path.parent, loader=lambda spec, args: target)
    with open_store(str(db)) as store:
        outcome = prepared.run(store, progress=False, **kwargs)
        return outcome, load_attempts(store, outcome.run_id), prepared


def test_a_serial_target_never_waits_while_work_remains(tmp_path: Path) -> None:
    # llama.cpp's server serves one request at a time: with a window of 4 the next request
    # must already be queued whenever one finishes (a chunked runner empties the queue at
    # every chunk's end, so idle_gaps would count its chunks).
    target = StandInTarget(0.05, serial=True, expected=36)
    path = campaign(tmp_path, 32, 4, "concurrency: 4\n")
    outcome, attempts, _ = run(path, target, tmp_path / "s.db")
    assert target.calls == len(attempts) == outcome.sent == 36
    assert target.batches == [1] * 36  # a concurrent backend gets one request a call
    assert target.max_in_flight == 4
    assert target.idle_gaps == 0


def test_a_parallel_target_has_the_whole_window_in_flight(tmp_path: Path) -> None:
    target = StandInTarget(0.2, expected=28)
    path = campaign(tmp_path, 24, 4, "concurrency: 4\n")
    _, attempts, _ = run(path, target, tmp_path / "s.db")
    assert len(attempts) == 28 and target.max_in_flight == 4
    # slots filled, counted over time until the last request went out; the refill takes
    # microseconds against 200 ms answers, so 95% leaves a wide margin for a loaded machine
    assert target.busy(4) >= 0.95


def test_a_batching_target_generates_the_next_batch_while_one_is_judged(
    tmp_path: Path,
) -> None:
    target = StandInTarget(0.05, concurrent=False)
    path = campaign(tmp_path, 18, 2, "concurrency: 5\n")
    prepared = Campaign(load_campaign(path), tmp_path, loader=lambda spec, args: target)
    judged: list[tuple[float, float]] = []  # when each group of replies was judged
    judge = prepared.judge

    def slow_judge(items: Any) -> Any:
        started = time.perf_counter()
        time.sleep(0.05)
        judged.append((started, time.perf_counter()))
        return judge(items)

    prepared.judge = slow_judge  # type: ignore[method-assign]
    with open_store(str(tmp_path / "s.db")) as store:
        prepared.run(store, progress=False)
    assert target.batches == [5, 5, 5, 5] and target.max_in_flight == 1
    overlapped = [any(a < end and b > start for a, b in target.spans) for start, end in judged]
    assert len(judged) >= 2 and all(overlapped[:-1])  # all but the last batch's judging


def test_attempt_and_token_budgets_hold_under_concurrency(tmp_path: Path) -> None:
    path = campaign(tmp_path, 40, 0, "budget: {max_attempts: 12}\nconcurrency: 8\n")
    target = StandInTarget(0.01)
    outcome, attempts, prepared = run(path, target, tmp_path / "a.db")
    chosen = within_budget(prepared._plan([s for x in prepared.seed_sets for s in x.seeds]), 12, 0)
    assert {a.key for a in attempts} == {p.key for p in chosen} and target.calls == 12
    assert len({a.category for a in attempts}) == 12  # the stratified choice, unchanged

    path = campaign(tmp_path, 40, 0, "budget: {max_tokens: 100}\nconcurrency: 4\n")
    target = StandInTarget(0.02, tokens=10)
    outcome, attempts, _ = run(path, target, tmp_path / "t.db")
    # the budget is spent after 10 answers; at most the 3 others in flight then finish
    assert outcome.budget_exhausted and 10 <= len(attempts) <= 10 + 4 - 1
    assert target.calls == len(attempts)


def test_a_failed_call_stores_the_others_and_a_resume_sends_only_the_rest(
    tmp_path: Path,
) -> None:
    path = campaign(tmp_path, 20, 4, "concurrency: 4\n")
    failing = StandInTarget(0.02, fail_at=9)
    with pytest.raises(BackendError, match="scripted failure"):
        run(path, failing, tmp_path / "s.db")
    with open_store(str(tmp_path / "s.db")) as store:
        [stored_run] = store.list_runs(kind="redteam")
        stored = load_attempts(store, stored_run.id)
    assert stored_run.status == "failed"
    # every call but the failed one was answered and is stored: the other three in flight
    # finished and were kept, nothing more was taken after the failure
    assert len(stored) == failing.calls - 1 and 8 <= len(stored) <= 8 + 3
    healthy = StandInTarget(0.01)
    outcome, attempts, _ = run(path, healthy, tmp_path / "s.db")
    assert outcome.run_id == stored_run.id and outcome.skipped == len(stored)
    assert healthy.calls == 24 - len(stored) == outcome.sent
    assert len({a.key for a in attempts}) == len(attempts) == 24
    sent_before = {a.chain["turns"][-2]["content"] for a in stored}
    assert not sent_before & set(healthy.prompts)


def test_the_window_hands_back_every_item_once_and_raises_after_the_others() -> None:
    lock = threading.Lock()
    seen: list[int] = []

    def call(chunk: list[int]) -> list[int]:
        with lock:
            seen.extend(chunk)
        if 7 in chunk:
            raise ValueError("seven")
        time.sleep(0.01)
        return [x * 2 for x in chunk]

    back: list[int] = []
    with pytest.raises(ValueError, match="seven"), Window(range(40), call, workers=3) as window:
        for group in window.finished():
            back += [r for done in group for r in done.results]
    assert sorted(back) == sorted(x * 2 for x in seen if x != 7)
    assert len(seen) < 40 and window.remaining == 40 - len(seen)
    with Window(range(10), lambda c: [len(c)] * len(c), workers=1, batch=4) as window:
        sizes = [d.results[0] for group in window.finished() for d in group]
    assert sizes == [4, 4, 2]
    with pytest.raises(ValueError, match="workers >= 1"):
        Window([1], call, workers=0)
