"""One progress bar for long work: label, bar, done/total, time remaining."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextmanager
def progress_bar(
    label: str, total: int, *, show: bool, unit: str = "", transient: bool = False
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar (nothing when ``show`` is false); yields ``advance(n)``."""
    columns = [TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    columns.append(TimeRemainingColumn())
    with Progress(*columns, disable=not show, transient=transient) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def tensor_progress(
    label: str, *, show: bool, console: Console | None = None
) -> Iterator[Callable[[int, int, str], None]]:
    """A bar over the tensors a checkpoint writer streams (up-scaling, merging); yields the
    writers' ``on_tensor(done, total, name)`` (the total is known at the first tensor)."""
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tensors"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total, name: bar.update(task, completed=done, total=total)
