"""A stored run's files on disk: its ``results.json`` and ``samples_<task>.jsonl``.

The store records where a run wrote its outputs (``config.eval.output``); the files
themselves stay on disk. They are read as hostile input: only names listed in the folder
are opened, every file and line has a size cap, and text is cut to a length a page can
show (the web app escapes it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from haechi.errors import InputError
from haechi.store import RunRecord

RESULTS_MAX_BYTES = 32 * 1024 * 1024
SAMPLES_MAX_BYTES = 512 * 1024 * 1024
LINE_MAX_BYTES = 4 * 1024 * 1024
TEXT_MAX_CHARS = 20_000  # prompt, choice and response text shown per sample
_PREFIX, _SUFFIX = "samples_", ".jsonl"

Verdict = Literal["all", "right", "wrong"]


@dataclass(frozen=True)
class RunFiles:
    """``folder`` the run wrote to (``None`` when it wrote none or it is gone),
    ``results`` its results.json (``None`` if absent), ``sample_tasks`` the (sub)tasks with
    a samples file, sorted."""

    folder: Path | None
    results: dict[str, Any] | None
    sample_tasks: list[str]

    def subtask_scores(self) -> dict[str, dict[str, Any]]:
        """results.json's entries of subtasks (names not in the stored task list), by name."""
        if not self.results:
            return {}
        entries = self.results.get("results")
        configs = self.results.get("configs") or {}
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if k not in configs and isinstance(v, dict)}

    def tasks_of(self, task: str) -> list[str]:
        """The samples files that make up ``task``: its own, else its subtasks'
        (``<task>_<key>``, as the planner names them)."""
        if task in self.sample_tasks:
            return [task]
        configs = (self.results or {}).get("configs") or {}
        return [t for t in self.sample_tasks if t.startswith(f"{task}_") and t not in configs]


@dataclass(frozen=True)
class Choice:
    """One choice: its log-likelihood and that divided by its length in characters, UTF-8
    bytes and continuation tokens (``acc_norm``, ``acc_bytes``, ``acc_tokens``)."""

    text: str
    loglikelihood: float
    n_tokens: int
    per_char: float
    per_byte: float
    per_token: float
    is_greedy: bool


@dataclass(frozen=True)
class SampleView:
    """One document of a run, ready to show; ``correct`` is the prediction equal to the
    target (generation: the primary metric at 1), ``None`` when unknown."""

    doc_id: int
    prompt: str
    fewshot_ids: list[int]
    target: str
    prediction: str
    correct: bool | None
    metrics: dict[str, float]
    choices: list[Choice] = field(default_factory=list)
    target_index: int | None = None
    prediction_index: int | None = None
    truncated: bool = False


def run_files(run: RunRecord) -> RunFiles:
    """The files of ``run`` (an empty ``RunFiles`` when it recorded no output folder)."""
    output = (run.config.get("eval") or {}).get("output")
    folder = Path(output) if isinstance(output, str) and output else None
    if folder is None or not folder.is_dir():
        return RunFiles(None, None, [])
    results = None
    path = folder / "results.json"
    if path.is_file() and path.stat().st_size <= RESULTS_MAX_BYTES:
        try:
            loaded = json.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            loaded = None
        results = loaded if isinstance(loaded, dict) else None
    tasks = sorted(
        p.name[len(_PREFIX) : -len(_SUFFIX)]
        for p in folder.iterdir()
        if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX) and p.is_file()
    )
    return RunFiles(folder, results, tasks)


def read_samples(files: RunFiles, task: str) -> list[dict[str, Any]]:
    """Every record of ``samples_<task>.jsonl`` (``task`` must be one of
    ``files.sample_tasks``); ``InputError`` with file and line for a bad line."""
    if files.folder is None or task not in files.sample_tasks:
        raise InputError(f"this run has no samples for {task!r}", field="task")
    path = files.folder / f"{_PREFIX}{task}{_SUFFIX}"
    if path.stat().st_size > SAMPLES_MAX_BYTES:
        raise InputError(f"larger than {SAMPLES_MAX_BYTES} bytes", file=str(path))
    records = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if len(raw) > LINE_MAX_BYTES:
                raise InputError(
                    f"line longer than {LINE_MAX_BYTES} bytes", file=str(path), line=number
                )
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"not JSON: {exc}", file=str(path), line=number) from None
            if not isinstance(record, dict) or not isinstance(record.get("doc_id"), int):
                raise InputError(
                    "expected an object with an integer doc_id", file=str(path), line=number
                )
            records.append(record)
    return records


def sample_view(record: dict[str, Any], primary: str | None = None) -> SampleView:
    """A samples record as ``SampleView``: texts cut to ``TEXT_MAX_CHARS``, numbers checked."""
    cut = _Cutter()
    metrics = {str(k): float(v) for k, v in _dict(record.get("metrics")).items() if _number(v)}
    fewshot = [int(i) for i in _list(record.get("fewshot_ids")) if isinstance(i, int)]
    prompt = cut(record.get("prompt", ""))
    lls = _list(record.get("loglikelihoods"))
    if lls:
        texts = _list(record.get("choices"))
        tokens = _list(record.get("n_tokens"))
        greedy = _list(record.get("is_greedy"))
        choices = [
            _choice(
                str(texts[i]) if i < len(texts) else "",
                float(ll) if _number(ll) else math.nan,
                int(tokens[i]) if i < len(tokens) and isinstance(tokens[i], int) else 0,
                bool(greedy[i]) if i < len(greedy) else False,
                cut,
            )
            for i, ll in enumerate(lls)
        ]
        target, pick = _index(record.get("target")), _index(record.get("prediction"))
        return SampleView(
            doc_id=int(record["doc_id"]),
            prompt=prompt,
            fewshot_ids=fewshot,
            target=_label(choices, target),
            prediction=_label(choices, pick),
            correct=None if target is None or pick is None else target == pick,
            metrics=metrics,
            choices=choices,
            target_index=target,
            prediction_index=pick,
            truncated=cut.truncated,
        )
    value = metrics.get(primary or "", next(iter(metrics.values()), math.nan))
    return SampleView(
        doc_id=int(record["doc_id"]),
        prompt=prompt,
        fewshot_ids=fewshot,
        target=cut(record.get("target", "")),
        prediction=cut(record.get("response", "")),
        correct=None if math.isnan(value) else value == 1.0,
        metrics=metrics,
        truncated=cut.truncated,
    )


def browse(views: list[SampleView], verdict: Verdict = "all", query: str = "") -> list[SampleView]:
    """The samples that are ``right`` or ``wrong`` (or ``all``) and whose prompt, choices,
    target or prediction contain ``query`` (case-insensitive)."""
    wanted = {"all": None, "right": True, "wrong": False}[verdict]
    needle = query.casefold()
    return [
        v
        for v in views
        if (wanted is None or v.correct is wanted)
        and (
            not needle
            or any(
                needle in text.casefold()
                for text in (v.prompt, v.target, v.prediction, *(c.text for c in v.choices))
            )
        )
    ]


class _Cutter:
    def __init__(self) -> None:
        self.truncated = False

    def __call__(self, value: object) -> str:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > TEXT_MAX_CHARS:
            self.truncated = True
            return text[:TEXT_MAX_CHARS] + "…"
        return text


def _choice(text: str, ll: float, tokens: int, greedy: bool, cut: _Cutter) -> Choice:
    chars, octets = len(text), len(text.encode("utf-8"))
    return Choice(
        text=cut(text),
        loglikelihood=ll,
        n_tokens=tokens,
        per_char=ll / chars if chars else math.nan,
        per_byte=ll / octets if octets else math.nan,
        per_token=ll / tokens if tokens else math.nan,
        is_greedy=greedy,
    )


def _label(choices: list[Choice], index: int | None) -> str:
    if index is None or not 0 <= index < len(choices):
        return "–" if index is None else str(index)
    return choices[index].text


def _index(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
