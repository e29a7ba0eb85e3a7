"""Evaluation pages, read-only for every logged-in user: the leaderboard, stored runs,
their samples and the comparison of two runs."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from haechi.charts import difference_chart
from haechi.errors import InputError
from haechi.evaluate.compare import compare_runs
from haechi.evaluate.leaderboard import EVAL_KIND, group_columns, leaderboard, sort_rows
from haechi.evaluate.run_files import browse, read_samples, run_files, sample_view
from haechi.web.app import ViewerDep, render, state

router = APIRouter()
PAGE_SIZE = 50
T = TypeVar("T")


def page_of(items: list[T], page: int) -> tuple[list[T], int, int]:
    """The ``page``-th slice of ``PAGE_SIZE`` items (clamped to the pages there are), the
    page shown and the number of pages."""
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], page, pages


@router.get("/leaderboard")
def leaderboard_page(
    request: Request,
    who: ViewerDep,
    group: str = "",
    sort: str = "",
    order: Literal["asc", "desc"] = "desc",
    partial: bool = False,
) -> Response:
    store = state(request).store
    board = leaderboard(store, include_partial=partial)
    if not group:  # Ko-H5 when stored, else the first group any run has
        group = "ko_h5" if "ko_h5" in board.groups else next(iter(board.groups), "all")
    if group in board.groups:
        board = leaderboard(store, group, include_partial=partial)
    shown = group if group in board.groups else "all"
    columns = group_columns(board, None if shown == "all" else shown)
    rows = board.rows
    if sort in (*columns, "model", "date"):
        rows = sort_rows(rows, sort, descending=order == "desc")
    return render(
        request,
        "leaderboard.html",
        who,
        board=board,
        rows=rows,
        columns=columns,
        group=shown,
        sort=sort,
        order=order,
        partial=partial,
    )


@router.get("/runs")
def runs_page(request: Request, who: ViewerDep) -> Response:
    runs = state(request).store.list_runs(kind=EVAL_KIND, limit=None)
    return render(request, "runs.html", who, runs=runs)


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request, who: ViewerDep) -> Response:
    run = state(request).store.get_run(run_id)
    files = run_files(run)
    return render(
        request,
        "run.html",
        who,
        run=run,
        files=files,
        subtasks=files.subtask_scores(),
        config_text=pretty_json(run.config),
        versions_text=pretty_json(run.versions),
    )


@router.get("/runs/{run_id}/samples/{task}")
def samples_page(
    run_id: str,
    task: str,
    request: Request,
    who: ViewerDep,
    show: Literal["all", "right", "wrong"] = "all",
    q: str = "",
    page: int = 1,
    doc: int | None = None,
) -> Response:
    run = state(request).store.get_run(run_id)
    files = run_files(run)
    primary = next((r.metric for r in run.results if r.is_primary and r.task == task), None)
    views = [sample_view(r, primary) for r in read_samples(files, task)]
    chosen = browse(views, show, q[:200])
    if doc is not None:
        chosen = [v for v in chosen if v.doc_id == doc]
    shown, page, pages = page_of(chosen, page)
    return render(
        request,
        "samples.html",
        who,
        run=run,
        task=task,
        samples=shown,
        total=len(views),
        matched=len(chosen),
        right=sum(v.correct is True for v in views),
        show=show,
        q=q[:200],
        page=page,
        pages=pages,
    )


@router.get("/compare")
def compare_page(request: Request, who: ViewerDep, a: str = "", b: str = "") -> Response:
    store = state(request).store
    runs = [r for r in store.list_runs(kind=EVAL_KIND, limit=None) if r.status == "completed"]
    if not (a and b):
        return render(request, "compare.html", who, runs=runs, comparison=None, a=a, b=b)
    if a == b:
        raise InputError("choose two different runs", field="b")
    comparison = compare_runs(store, a, b)
    return render(
        request,
        "compare.html",
        who,
        runs=runs,
        comparison=comparison,
        chart=difference_chart(comparison),
        a=a,
        b=b,
    )


def pretty_json(value: Any) -> str:
    """JSON for a page: indented, Korean kept readable (no \\uXXXX); templates escape it."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
