"""Putting items into a review campaign: from a jsonl file, red-team attempts, or a judge's
scored output.

Import lines (jsonl): ``prompt``, ``response``, optional ``id`` (else a hash of the text),
``category``, ``turns`` (a list of ``{role, content}``), ``verdicts`` (shown to reviewers
after they label) and ``labels`` (``[{reviewer, values, flagged?}]``: labels given
elsewhere, stored as login-less reviewers). Importing again skips ids already there, so an
interrupted import resumes.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.errors import InputError
from haechi.io import read_jsonl_objects
from haechi.progress import progress_bar
from haechi.review.accounts import ensure_annotator
from haechi.review.campaigns import CampaignInfo
from haechi.review.label_schema import LabelSchema, parse_schema_text
from haechi.store import Store
from haechi.store.attempts import AttemptRecord, load_attempts
from haechi.store.review_schema import ReviewAssignment, ReviewItem, ReviewLabel

AttemptFilter = Literal["all", "flagged", "sampled"]
_BATCH = 500


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    content: str


class ImportedLabel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reviewer: str = Field(min_length=1, max_length=64)
    values: dict[str, Any]
    flagged: bool = False


class ImportLine(BaseModel):
    """One item to review (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(None, min_length=1, max_length=255)
    prompt: str
    response: str
    category: str = Field("", max_length=255)
    turns: list[Turn] = []
    chain: dict[str, Any] = {}
    verdicts: list[dict[str, Any]] = []
    detector_success: bool | None = None
    labels: list[ImportedLabel] = []
    _where: tuple[str, int] | None = PrivateAttr(None)  # (file, line) it was read from

    @model_validator(mode="after")
    def _one_label_per_reviewer(self) -> ImportLine:
        reviewers = [label.reviewer for label in self.labels]
        if len(set(reviewers)) != len(reviewers):
            raise ValueError("each reviewer may label an item once")
        return self

    def external_id(self) -> str:
        if self.id is not None:
            return self.id
        blob = json.dumps([self.prompt, self.response], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ImportSummary:
    added: int
    skipped: int
    labels: int


def read_import_file(path: Path) -> list[ImportLine]:
    """Parse an import jsonl; a judge's scored output (``source``, ``output``, ``scores``)
    is read as prompt, response and verdicts. Errors name the file, line and field."""
    lines = []
    for number, data in read_jsonl_objects(path):
        try:
            line = ImportLine.model_validate(_from_judge(data))
            line._where = (str(path), number)
            lines.append(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(first["msg"], file=str(path), line=number, field=where) from None
    return lines


def _from_judge(data: dict[str, Any]) -> dict[str, Any]:
    if "prompt" in data or "output" not in data or "scores" not in data:
        return data
    return {
        "id": str(data.get("id", "")) or None,
        "prompt": data.get("source", ""),
        "response": data["output"],
        "category": str(data.get("system") or ""),
        "verdicts": [
            {"detector": f"judge:{name}", "score": score}
            for name, score in (data.get("scores") or {}).items()
        ],
    }


def lines_from_attempts(
    store: Store,
    run_id: str,
    which: AttemptFilter = "all",
    sample: int | None = None,
    seed: int = 0,
) -> list[ImportLine]:
    """Red-team attempts of a run as review items: ``all``, those a detector ``flagged``
    (decided successful), or a seeded random ``sampled`` subset of ``sample`` attempts."""
    attempts = [a for a in load_attempts(store, run_id) if a.error is None]
    if which == "flagged":
        attempts = [a for a in attempts if a.success]
    elif which == "sampled":
        if sample is None or sample < 1:
            raise InputError("sampling needs a sample size of at least 1", field="sample")
        attempts = random.Random(seed).sample(attempts, min(sample, len(attempts)))
    return [_attempt_line(run_id, a) for a in attempts]


def lines_from_square(path: Path) -> tuple[list[ImportLine], LabelSchema]:
    """SQuARe's raw annotation files (three crowd workers per item) as items carrying
    their labels, with the label schema that fits the file (see ``haechi.review.square``)."""
    from haechi.review.square import square_import_lines, square_schema

    lines = [ImportLine.model_validate(line) for line in square_import_lines(path)]
    kind: Literal["response", "question"] = (
        "response" if lines and (lines[0].id or "").startswith("square-response") else "question"
    )
    return lines, parse_schema_text(square_schema(kind), f"square_{kind}.yaml")


def _attempt_line(run_id: str, attempt: AttemptRecord) -> ImportLine:
    turns = [Turn.model_validate(t) for t in attempt.chain.get("turns", []) if "role" in t]
    prompt = next((t.content for t in reversed(turns) if t.role == "user"), "")
    return ImportLine(
        id=f"{run_id[:8]}-{attempt.key}",
        prompt=prompt,
        response=str(attempt.chain.get("response", "")),
        category=attempt.category,
        turns=turns,
        chain={k: v for k, v in attempt.chain.items() if k not in ("turns", "response")},
        verdicts=[v.model_dump(mode="json") for v in attempt.verdicts],
        detector_success=attempt.success,
    )


def import_lines(
    store: Store,
    campaign: CampaignInfo,
    lines: Sequence[ImportLine],
    source: str,
    *,
    progress: bool = False,
) -> ImportSummary:
    """Add the lines to the campaign in batches (each batch all or nothing); ids already in
    the campaign are skipped. Carried labels are validated against the campaign's schema."""
    for line in lines:
        for index, label in enumerate(line.labels):
            try:
                campaign.label_schema.validate_values(label.values)
            except InputError as exc:
                file, number = line._where or (None, None)
                raise InputError(
                    exc.message,
                    file=file,
                    line=number,
                    field=f"labels.{index}.values.{exc.field}",
                ) from None
    added = skipped = labels = 0
    with progress_bar("import", len(lines), show=progress, unit="items") as advance:
        for start in range(0, len(lines), _BATCH):
            batch = lines[start : start + _BATCH]

            def work(session: Session, batch: Sequence[ImportLine] = batch) -> tuple[int, int, int]:
                return _add_batch(session, campaign, batch, source)

            a, s, n = store.transact(work, write=True)
            added, skipped, labels = added + a, skipped + s, labels + n
            advance(len(batch))
    return ImportSummary(added, skipped, labels)


def _add_batch(
    session: Session, campaign: CampaignInfo, batch: Sequence[ImportLine], source: str
) -> tuple[int, int, int]:
    ids = [line.external_id() for line in batch]
    existing = set(
        session.scalars(
            select(ReviewItem.external_id).where(
                ReviewItem.campaign_id == campaign.id, ReviewItem.external_id.in_(ids)
            )
        )
    )
    now = datetime.now(UTC)
    added = skipped = labels = 0
    for line, external_id in zip(batch, ids, strict=True):
        if external_id in existing:
            skipped += 1
            continue
        existing.add(external_id)
        item = ReviewItem(
            campaign_id=campaign.id,
            external_id=external_id,
            prompt=line.prompt,
            response=line.response,
            category=line.category,
            source=source,
            turns={"turns": [t.model_dump() for t in line.turns]},
            chain=line.chain,
            verdicts={"verdicts": line.verdicts, "success": line.detector_success},
            created_at=now,
        )
        session.add(item)
        session.flush()
        added += 1
        for slot, label in enumerate(line.labels):
            user_id = ensure_annotator(session, label.reviewer)
            session.add(
                ReviewAssignment(
                    item_id=item.id, user_id=user_id, slot=slot, status="submitted", assigned_at=now
                )
            )
            session.add(
                ReviewLabel(
                    item_id=item.id,
                    user_id=user_id,
                    label_values=campaign.label_schema.validate_values(label.values),
                    flagged=label.flagged,
                    seconds=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            labels += 1
    return added, skipped, labels
