"""Putting items into a review campaign: from a jsonl file (read by
``haechi.review.import_files``), red-team attempts, or SQuARe's crowd labels.

Import lines (jsonl): ``prompt``, ``response``, optional ``id`` (else a hash of the text),
``category``, ``turns`` (a list of ``{role, content}``), ``verdicts`` (shown to reviewers
after they label), ``control`` (a benign control prompt: it measures over-refusal and is
kept out of attack-success rates) and ``labels`` (``[{reviewer, values, flagged?}]``:
labels given elsewhere, stored as annotators who cannot log in). Our own jsonl export
reads back as it was (an adjudicated ``gold`` included); ``haechi generate`` output and a
judge's scored output are read too. A file is imported all or nothing (a new
campaign included); importing again skips ids already there.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Collection, Sequence
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
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.errors import InputError
from haechi.progress import progress_bar
from haechi.redteam.metrics import refused
from haechi.review.accounts import ensure_annotator, valid_username
from haechi.review.campaigns import CampaignInfo, add_members_in, open_campaign
from haechi.review.label_schema import LabelSchema, parse_schema_text
from haechi.store import Store
from haechi.store.attempts import AttemptRecord, load_attempts
from haechi.store.review_schema import ReviewAssignment, ReviewGold, ReviewItem, ReviewLabel

AttemptFilter = Literal["all", "flagged", "sampled"]
_BATCH = 500


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    content: str


class ImportedLabel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reviewer: str
    values: dict[str, Any]
    flagged: bool = False
    seconds: float | None = Field(None, ge=0)
    updated_at: datetime | None = None

    @field_validator("reviewer")
    @classmethod
    def _user_name(cls, name: str) -> str:
        if not valid_username(name):
            raise ValueError("a reviewer name is 1–64 letters, digits or . _ - @")
        return name


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
    control: bool = False
    labels: list[ImportedLabel] = []
    source: str | None = Field(None, max_length=255)  # else where it is imported from
    gold: dict[str, Any] | None = None  # kept when adjudicated (unanimous gold is derived)
    gold_source: Literal["adjudicated", "unanimous"] | None = None
    _where: tuple[str, int] | None = PrivateAttr(None)  # (file, line) it was read from

    @model_validator(mode="after")
    def _one_label_per_reviewer(self) -> ImportLine:
        reviewers = [label.reviewer for label in self.labels]
        if len(set(reviewers)) != len(reviewers):
            raise ValueError("each reviewer may label an item once")
        return self

    @model_validator(mode="after")
    def _arena_pair(self) -> ImportLine:
        """A side-by-side item (``chain.arena``) needs both answers and both models."""
        if "arena" not in self.chain:
            return self
        pair = self.chain["arena"]
        if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in "ab"):
            raise ValueError("chain.arena must be {'a': answer, 'b': answer}")
        sides = {v.get("detector"): v.get("model") for v in self.verdicts}
        if not all(isinstance(sides.get(k), str) for k in "AB"):
            raise ValueError(
                "a side-by-side item needs verdicts {'detector': 'A', 'model': ...} and 'B'"
            )
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


def redteam_source(run_id: str) -> str:
    """The ``source`` of review items imported from red-team run ``run_id``."""
    return f"redteam:{run_id}"


def attempt_item_id(run_id: str, key: str) -> str:
    """The review item id of the run's attempt ``key``."""
    return f"{run_id[:8]}-{key}"


def lines_from_attempts(
    store: Store,
    run_id: str,
    which: AttemptFilter = "all",
    sample: int | None = None,
    seed: int = 0,
    controls: bool | None = None,
    keys: Collection[str] | None = None,
) -> list[ImportLine]:
    """Red-team attempts of a run as review items: ``all``, the attacks a detector
    ``flagged`` (decided successful), or a seeded random ``sampled`` subset of ``sample``;
    with ``keys``, only the attempts of those keys.

    Benign controls (items marked ``control``) come with ``all``; with ``flagged`` and
    ``sampled`` only when ``controls`` is true, and then ``flagged`` takes the controls
    the refusal detector saw refused (over-refusals). ``controls=False`` leaves them out.
    Attempts without a response (``error``) are never items."""
    attempts = [a for a in load_attempts(store, run_id) if a.error is None]
    if keys is not None:
        wanted = set(keys)
        attempts = [a for a in attempts if a.key in wanted]
    if not (which == "all" if controls is None else controls):
        attempts = [a for a in attempts if not a.benign]
    if which == "flagged":
        attempts = [a for a in attempts if (refused(a) if a.benign else a.success)]
    elif which == "sampled":
        if sample is None or sample < 1:
            raise InputError("sampling needs a sample size of at least 1", field="sample")
        attempts = random.Random(seed).sample(attempts, min(sample, len(attempts)))
    return [_attempt_line(run_id, a) for a in attempts]


def lines_from_square(path: Path) -> tuple[list[ImportLine], LabelSchema]:
    """SQuARe's raw annotation files (three crowd workers per item) as items carrying
    their labels, with the label schema that fits the file (see ``haechi.review.square``)."""
    from haechi.review.square import square_import_lines, square_schema

    lines = []
    for record in square_import_lines(path):
        try:
            lines.append(ImportLine.model_validate(record))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(
                f"{record['id']}: {first['msg']}", file=str(path), field=where
            ) from None
    kind: Literal["response", "question"] = (
        "response" if lines and (lines[0].id or "").startswith("square-response") else "question"
    )
    return lines, parse_schema_text(square_schema(kind), f"square_{kind}.yaml")


def _attempt_line(run_id: str, attempt: AttemptRecord) -> ImportLine:
    turns = [  # PAIR's turns also name their round
        Turn(role=t["role"], content=t["content"])
        for t in attempt.chain.get("turns", [])
        if "role" in t
    ]
    prompt = next((t.content for t in reversed(turns) if t.role == "user"), "")
    return ImportLine(
        id=attempt_item_id(run_id, attempt.key),
        prompt=prompt,
        response=str(attempt.chain.get("response", "")),
        category=attempt.category,
        turns=turns,
        chain={k: v for k, v in attempt.chain.items() if k not in ("turns", "response")},
        verdicts=[v.model_dump(mode="json") for v in attempt.verdicts],
        detector_success=attempt.success,
        control=attempt.benign,
    )


def import_lines(
    store: Store,
    campaign: CampaignInfo,
    lines: Sequence[ImportLine],
    source: str,
    *,
    progress: bool = False,
) -> ImportSummary:
    """Add the lines to an existing campaign in one transaction (see ``import_items``)."""
    return store.transact(lambda s: _add_lines(s, campaign, lines, source, progress), write=True)


def import_items(
    store: Store,
    campaign: str,
    lines: Sequence[ImportLine],
    source: str,
    *,
    label_schema: LabelSchema | None = None,
    overlap: int | None = None,
    reviewers: Sequence[str] = (),
    progress: bool = False,
) -> tuple[CampaignInfo, ImportSummary]:
    """Add the lines to campaign ``campaign`` (created with ``label_schema`` and
    ``overlap`` when new) and make ``reviewers`` its members, all in one transaction:
    any bad label or unknown reviewer leaves the store as it was, with no new campaign.
    Ids already in the campaign are skipped; carried labels are validated against the
    campaign's schema (errors name the line's file and line)."""

    def work(session: Session) -> tuple[CampaignInfo, ImportSummary]:
        info = open_campaign(session, campaign, label_schema, overlap)
        summary = _add_lines(session, info, lines, source, progress)
        add_members_in(session, info.id, list(reviewers))
        return info, summary

    return store.transact(work, write=True)


def _add_lines(
    session: Session,
    campaign: CampaignInfo,
    lines: Sequence[ImportLine],
    source: str,
    progress: bool,
) -> ImportSummary:
    for line in lines:
        checks = [(f"labels.{i}.values", label.values) for i, label in enumerate(line.labels)]
        if _adjudicated(line) is not None:
            checks.append(("gold", line.gold or {}))
        for where, values in checks:
            try:
                campaign.label_schema.validate_values(values)
            except InputError as exc:
                file, number = line._where or (None, None)
                raise InputError(
                    exc.message, file=file, line=number, field=f"{where}.{exc.field}"
                ) from None
    added = skipped = labels = 0
    with progress_bar("import", len(lines), show=progress, unit="items") as advance:
        for start in range(0, len(lines), _BATCH):
            batch = lines[start : start + _BATCH]
            a, s, n = _add_batch(session, campaign, batch, source)
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
            source=line.source or source,
            turns={"turns": [t.model_dump() for t in line.turns]},
            chain=line.chain,
            verdicts={
                "verdicts": line.verdicts,
                "success": line.detector_success,
                "control": line.control,
            },
            created_at=now,
        )
        session.add(item)
        session.flush()
        added += 1
        gold = _adjudicated(line)
        if gold is not None:
            values = campaign.label_schema.validate_values(gold)
            session.add(
                ReviewGold(item_id=item.id, user_id=None, label_values=values, created_at=now)
            )
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
                    seconds=label.seconds,
                    created_at=label.updated_at or now,
                    updated_at=label.updated_at or now,
                )
            )
            labels += 1
    return added, skipped, labels


def _adjudicated(line: ImportLine) -> dict[str, Any] | None:
    return line.gold if line.gold_source == "adjudicated" and line.gold else None
