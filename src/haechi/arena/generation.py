"""Batched, resumable generation over a prompt suite: one jsonl line per prompt.

Lines are appended and flushed batch by batch, so a killed run loses at most the batch in
flight; running again skips the ids already in the file. ``<out>.config.json`` records the
whole configuration of the latest run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from haechi.arena.suites import Suite, SuitePrompt
from haechi.chat.templates import ChatTemplate, build_request, resolve_template
from haechi.errors import InputError
from haechi.io import read_jsonl_objects, write_json_atomic
from haechi.models.base import Generation, GenerationRequest, LanguageModel
from haechi.progress import progress_bar
from haechi.versions import package_versions

logger = logging.getLogger(__name__)


class GenerationSettings(BaseModel):
    """What decides the answers; recorded on every line, and a resumed run must match.

    ``max_new_tokens`` counts tokens; ``temperature == 0`` is greedy; ``n`` answers per
    prompt. With ``seed``, each prompt samples with its own seed derived from ``seed`` and
    its id, so its answers do not depend on the prompts batched with it or on resuming.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str | None = None
    template: str | None = None
    max_new_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = None
    n: int = Field(1, ge=1)


@dataclass(frozen=True)
class GenerationRun:
    """One call of ``run_generation``: prompts in the suite, found already answered in the
    output file, and answered now."""

    out: Path
    config: Path
    total: int
    skipped: int
    generated: int


def config_path(out: Path) -> Path:
    """``answers.jsonl`` → ``answers.config.json`` next to it."""
    return out.with_name(f"{out.stem}.config.json")


def prompt_seed(seed: int | None, prompt_id: str) -> int | None:
    """``seed`` shifted by a stable hash of the prompt id (below 2**31, as torch wants)."""
    if seed is None:
        return None
    shift = int(hashlib.sha256(prompt_id.encode("utf-8")).hexdigest()[:8], 16)
    return (seed + shift) % 2**31


def run_generation(
    model: LanguageModel,
    suite: Suite,
    settings: GenerationSettings,
    out: Path,
    *,
    batch_size: int = 8,
    progress: bool = False,
) -> GenerationRun:
    """Answer every prompt of ``suite`` not yet in ``out``, ``batch_size`` prompts per
    ``model.generate`` call, appending a line per prompt after each call."""
    template = resolve_template(settings.template)
    done = completed_ids(out, model.fingerprint, settings)
    todo = [p for p in suite.prompts if p.id not in done]
    config = _configuration(model, suite, settings, batch_size)
    write_json_atomic(config_path(out), {**config, "status": "running"})
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        out.open("a", encoding="utf-8") as sink,
        progress_bar("generating", len(todo), show=progress, unit="prompts") as advance,
    ):
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            requests = [_request(p, settings, template) for p in batch]
            generations = model.generate(requests)
            lines = (
                json.dumps(_record(model, p, r, g, settings), ensure_ascii=False) + "\n"
                for p, r, g in zip(batch, requests, generations, strict=True)
            )
            sink.write("".join(lines))
            sink.flush()
            advance(len(batch))
    summary = {"skipped": len(suite.prompts) - len(todo), "generated": len(todo)}
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    write_json_atomic(
        config_path(out), {**config, "status": "complete", "finished_at": finished, **summary}
    )
    return GenerationRun(out, config_path(out), len(suite.prompts), **summary)


def completed_ids(out: Path, fingerprint: str, settings: GenerationSettings) -> set[str]:
    """Ids already answered in ``out``. A torn last line (a run killed while writing) is
    cut off the file; a line from another model or other settings raises ``InputError``."""
    if not out.exists():
        return set()
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        logger.warning("%s: dropping an unfinished last line (%d bytes)", out, len(data) - keep)
        with out.open("r+b") as f:
            f.truncate(keep)
        data = data[:keep]
    wanted = settings.model_dump()
    ids: set[str] = set()
    for number, record in read_jsonl_objects(out):
        if "id" not in record:
            raise InputError("not a line of haechi generate", file=str(out), line=number)
        if record.get("fingerprint") != fingerprint or record.get("settings") != wanted:
            raise InputError(
                "written by another model or with other settings",
                file=str(out),
                line=number,
                hint="write to another --out, or delete the file to start over",
            )
        ids.add(str(record["id"]))
    return ids


def _request(
    prompt: SuitePrompt, settings: GenerationSettings, template: ChatTemplate | None
) -> GenerationRequest:
    return build_request(
        prompt.conversation(settings.system),
        template,
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        seed=prompt_seed(settings.seed, prompt.id),
        n=settings.n,
    )


def _record(
    model: LanguageModel,
    prompt: SuitePrompt,
    request: GenerationRequest,
    generation: Generation,
    settings: GenerationSettings,
) -> dict[str, Any]:
    messages = prompt.messages
    record: dict[str, Any] = {
        "id": prompt.id,
        "category": prompt.category,
        "prompt": prompt.prompt,
        "messages": [{"role": m.role, "content": m.content} for m in messages]
        if messages
        else None,
        "response": generation.text,
        "finish_reason": generation.finish_reasons[0],
    }
    if settings.n > 1:
        record.update(
            responses=list(generation.texts), finish_reasons=list(generation.finish_reasons)
        )
    return record | {
        "model": model.name,
        "fingerprint": model.fingerprint,
        "settings": settings.model_dump(),
        "seed": request.seed,
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.completion_tokens,
    }


def _configuration(
    model: LanguageModel, suite: Suite, settings: GenerationSettings, batch_size: int
) -> dict[str, Any]:
    return {
        "model": model.name,
        "fingerprint": model.fingerprint,
        "model_config": model.describe(),
        "settings": settings.model_dump(),
        "batch_size": batch_size,
        "suite": {
            "name": suite.name,
            "path": str(suite.path),
            "sha256": suite.sha256,
            "prompts": len(suite.prompts),
            "categories": suite.categories(),
        },
        "versions": package_versions(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
