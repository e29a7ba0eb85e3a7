"""The leaderboard: stored evaluation runs ranked by model, full runs only unless asked.

A run is partial when it evaluated part of each task (``--limit``) or the bundled sample
documents (``--samples``): its numbers are not comparable with full runs, so it is left out
by default and, when included, listed unranked after the full rows, with its mark.

Runs of one model under different prompt formats (chat template and its hash, system
instruction, reasoning marker) are different rows: their numbers never mix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from haechi.store import RunRecord, Store

EVAL_KIND = "eval"
_EPOCH = datetime.min.replace(tzinfo=UTC)  # never used: completed runs have finished_at


class LeaderboardRow(BaseModel):
    """One model: ``values`` maps task to its latest primary metric value (``stderrs`` to
    its standard error, ``None`` when not reported, ``runs`` to the run it came from);
    ``run_id`` and ``finished_at`` are those of the newest run that contributed a value. A
    ``partial`` row is one partial run, its mark saying why (``--limit 100``,
    ``--samples``). ``revision`` is the model revision the run recorded;
    ``chat_template`` the chat template the runs used (a name or hash), ``None`` for
    plain prompts."""

    model_config = ConfigDict(frozen=True)

    model_spec: str
    model_fingerprint: str
    run_id: str
    finished_at: datetime
    values: dict[str, float]
    partial: str | None = None
    stderrs: dict[str, float | None] = {}
    runs: dict[str, str] = {}
    revision: str | None = None
    chat_template: str | None = None


class Leaderboard(BaseModel):
    """Rows ranked best first (full rows, then any partial rows); ``columns`` lists groups
    first, then tasks, each alphabetically; ``groups`` says which columns are groups;
    ``group`` is the sort column asked for, if any; ``hidden_partial`` counts the partial
    runs left out."""

    model_config = ConfigDict(frozen=True)

    columns: list[str]
    groups: list[str]
    rows: list[LeaderboardRow]
    group: str | None = None
    hidden_partial: int = 0


def partial_mark(config: Mapping[str, Any]) -> str | None:
    """Why a run's recorded configuration makes it partial, or ``None`` for a full run."""
    options = config.get("eval") or {}
    if options.get("limit") is not None:
        return f"--limit {options['limit']}"
    if options.get("samples"):
        return "--samples"
    return None


def chat_template_mark(config: Mapping[str, Any]) -> str | None:
    """The chat template a run's prompts went through: its source and hash
    (``tokenizer 3f2a9c1b``, ``chatml 0d1e…``, ``server`` when only the server knew it), or
    ``None`` for plain prompts."""
    chat = config.get("chat_template")
    if not isinstance(chat, Mapping):
        return None
    digest = chat.get("hash")
    return f"{chat.get('source')} {str(digest)[:8]}" if digest else str(chat.get("source"))


def _row_key(run: RunRecord) -> str:
    """One row per model and prompt format."""
    options = run.config.get("eval") or {}
    prompt_format = [
        run.config.get("chat_template"),
        options.get("system_instruction"),
        options.get("think_end_token"),
    ]
    if not any(prompt_format):
        return run.model_fingerprint  # plain prompts
    return run.model_fingerprint + json.dumps(prompt_format, sort_keys=True, default=str)


def leaderboard(
    store: Store, group: str | None = None, *, include_partial: bool = False
) -> Leaderboard:
    """One row per model fingerprint and prompt format from its completed full ``eval`` runs
    (plus one per partial run with ``include_partial``).

    Each task's value is the primary metric of the newest completed run that has that
    task. Rows are sorted by the ``group`` column when given, else by the mean of the
    row's group values (of all its values when no group appears at all): highest first,
    rows without a value last, ties by model spec.
    """
    runs = [
        r
        for r in store.list_runs(kind=EVAL_KIND, limit=None)
        if r.status == "completed" and r.finished_at is not None
    ]
    runs.sort(key=lambda r: r.id)
    runs.sort(key=lambda r: r.finished_at or _EPOCH, reverse=True)  # newest first, stable
    partial = [r for r in runs if partial_mark(r.config) is not None]
    rows = _fold([r for r in runs if partial_mark(r.config) is None], _row_key)
    extra = _fold(partial, lambda r: r.id) if include_partial else []
    is_group: dict[str, bool] = {}
    for run in runs:
        if include_partial or partial_mark(run.config) is None:
            for result in run.results:
                if result.is_primary:
                    is_group.setdefault(result.task, result.is_group)
    groups = sorted(task for task, flag in is_group.items() if flag)
    columns = groups + sorted(task for task, flag in is_group.items() if not flag)
    return Leaderboard(
        columns=columns,
        groups=groups,
        group=group,
        rows=_ranked(rows, groups, group) + _ranked(extra, groups, group),
        hidden_partial=0 if include_partial else len(partial),
    )


def _fold(runs: list[RunRecord], key: Callable[[RunRecord], str]) -> list[LeaderboardRow]:
    """Primary results of runs (newest first) folded into one row per ``key(run)``: each
    task's value comes from the newest run that has it."""
    newest: dict[str, RunRecord] = {}
    values: dict[str, dict[str, float]] = {}
    stderrs: dict[str, dict[str, float | None]] = {}
    sources: dict[str, dict[str, str]] = {}
    for run in runs:
        newest.setdefault(key(run), run)
        row = values.setdefault(key(run), {})
        for result in run.results:
            if result.is_primary and result.task not in row:
                row[result.task] = result.value
                stderrs.setdefault(key(run), {})[result.task] = result.stderr
                sources.setdefault(key(run), {})[result.task] = run.id
    return [
        LeaderboardRow(
            model_spec=run.model_spec,
            model_fingerprint=run.model_fingerprint,
            run_id=run.id,
            finished_at=run.finished_at or _EPOCH,
            values=values[k],
            partial=partial_mark(run.config),
            chat_template=chat_template_mark(run.config),
            stderrs=stderrs[k],
            runs=sources[k],
            revision=_revision(run.config),
        )
        for k, run in newest.items()
        if values[k]
    ]


def _ranked(
    rows: list[LeaderboardRow], groups: list[str], group: str | None
) -> list[LeaderboardRow]:
    def score(row: LeaderboardRow) -> float | None:
        if group is not None:
            return row.values.get(group)
        keys = [g for g in groups if g in row.values] if groups else list(row.values)
        return sum(row.values[k] for k in keys) / len(keys) if keys else None

    def sort_key(row: LeaderboardRow) -> tuple[bool, float, str, str, str]:
        value = score(row)
        return (
            value is None,
            -(value or 0.0),
            row.model_spec,
            row.model_fingerprint,
            row.chat_template or "",
        )

    return sorted(rows, key=sort_key)


def _revision(config: Mapping[str, Any]) -> str | None:
    revision = (config.get("model_config") or {}).get("revision")
    return str(revision) if revision else None


def group_columns(board: Leaderboard, group: str | None) -> list[str]:
    """The columns to show for ``group``: the group, then its tasks that have values; every
    column when ``group`` is ``None`` or has no stored value."""
    from haechi.tasks import groups

    if group is None or group not in board.columns:
        return board.columns
    members = groups()[group].tasks if group in groups() else []
    return [group, *(c for c in members if c in board.columns)]


def sort_rows(
    rows: list[LeaderboardRow], column: str, descending: bool = True
) -> list[LeaderboardRow]:
    """Rows ordered by ``column`` (a task or group, or ``model`` / ``date``), rows without
    a value last; ties keep their rank order. Partial rows stay after the full ones."""

    def value(row: LeaderboardRow) -> Any:
        if column == "model":
            return row.model_spec.casefold()
        if column == "date":
            return row.finished_at
        return row.values.get(column)

    ordered: list[LeaderboardRow] = []
    for partial in (False, True):
        part = [r for r in rows if (r.partial is not None) is partial]
        known = [r for r in part if value(r) is not None]
        ordered += sorted(known, key=value, reverse=descending)  # stable: ties keep rank
        ordered += [r for r in part if value(r) is None]
    return ordered
