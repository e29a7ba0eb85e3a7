"""Writing a campaign's labels out: jsonl, csv, parquet (loadable with Hugging Face
``datasets``) and Argilla FeedbackDataset records.

Every format carries ``control`` (a benign control prompt, not an attack).

- ``jsonl``: one item a line with its ``labels`` (reviewer, values, flagged, seconds),
  ``gold`` and ``gold_source``, and its ``chain`` (an arena item's A and B answers, which
  ``haechi build train --objective dpo --data-format arena`` reads); text exactly as stored.
- ``csv``: one label a row (items without labels get one row with empty label columns);
  one column per schema field, ``multi`` values joined with ``;``. A cell that a
  spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
  carriage return, and not a plain number such as ``-3``) gets a leading ``'``, as OWASP
  recommends against CSV injection.
- ``parquet``: one item a row, every field a typed column (``labels`` a list of structs).
- ``argilla``: FeedbackRecord dicts (``fields``, ``external_id``, ``metadata``,
  ``responses`` with ``{question: {"value": ...}}``, detector ``suggestions``), plus
  ``<out>.settings.json`` describing the questions made from the schema.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from haechi.errors import MissingExtraError
from haechi.io import write_json_atomic, write_text_atomic
from haechi.review.label_schema import LabelField, LabelSchema
from haechi.review.results import CampaignResults, ReviewedItem, StoredLabel

ExportFormat = Literal["jsonl", "csv", "parquet", "argilla"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv", "parquet", "argilla")


def export_results(results: CampaignResults, fmt: ExportFormat, out: Path) -> Path:
    """Write ``results`` to ``out`` in ``fmt`` (atomically); returns the path written."""
    writers: dict[str, Callable[[CampaignResults, Path], None]] = {
        "jsonl": _write_jsonl,
        "csv": _write_csv,
        "parquet": _write_parquet,
        "argilla": _write_argilla,
    }
    writers[fmt](results, out)
    return out


def item_record(item: ReviewedItem) -> dict[str, Any]:
    """One item as plain JSON types (the jsonl line)."""
    return {
        "id": item.external_id,
        "prompt": item.prompt,
        "response": item.response,
        "category": item.category,
        "source": item.source,
        "turns": item.turns,
        "chain": item.chain,
        "verdicts": item.verdicts,
        "detector_success": item.detector_success,
        "control": item.control,
        "labels": [
            {
                "reviewer": label.reviewer,
                "values": label.values,
                "flagged": label.flagged,
                "seconds": label.seconds,
                "updated_at": label.updated_at.isoformat(),
            }
            for label in item.labels
        ],
        "gold": item.gold,
        "gold_source": item.gold_source,
    }


def _write_jsonl(results: CampaignResults, out: Path) -> None:
    lines = (json.dumps(item_record(i), ensure_ascii=False) + "\n" for i in results.items)
    write_text_atomic(out, "".join(lines))


def _cell(field: LabelField, value: Any) -> str:
    if value is None:
        return ""
    return ";".join(value) if field.kind == "multi" else str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    if cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _write_csv(results: CampaignResults, out: Path) -> None:
    fields = results.label_schema.fields
    header = ["id", "category", "prompt", "response", "detector_success", "control", "reviewer"]
    header += [f.name for f in fields] + ["flagged", "seconds"]
    header += [f"gold_{f.name}" for f in fields if f.kind != "text"] + ["gold_source"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(c) for c in header])
    for item in results.items:
        base = [item.external_id, item.category, item.prompt, item.response]
        base.append("" if item.detector_success is None else str(item.detector_success).lower())
        base.append(str(item.control).lower())
        gold = [_cell(f, (item.gold or {}).get(f.name)) for f in fields if f.kind != "text"] + [
            item.gold_source or ""
        ]
        labels: list[StoredLabel | None] = [*item.labels] or [None]
        for label in labels:
            if label is None:
                cells = ["", *["" for _ in fields], "", ""]
            else:
                cells = [label.reviewer]
                cells += [_cell(f, label.values.get(f.name)) for f in fields]
                cells += [
                    str(label.flagged).lower(),
                    "" if label.seconds is None else f"{label.seconds:.1f}",
                ]
            writer.writerow([spreadsheet_safe(c) for c in base + cells + gold])
    write_text_atomic(out, buffer.getvalue())


def _arrow_schema(schema: LabelSchema) -> Any:
    import pyarrow as pa

    def values_type() -> Any:
        return pa.struct(
            [
                pa.field(f.name, pa.list_(pa.string()) if f.kind == "multi" else pa.string())
                for f in schema.fields
            ]
        )

    turn = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
    label = pa.struct(
        [
            pa.field("reviewer", pa.string()),
            pa.field("values", values_type()),
            pa.field("flagged", pa.bool_()),
            pa.field("seconds", pa.float64()),
            pa.field("updated_at", pa.string()),
        ]
    )
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("prompt", pa.string()),
            pa.field("response", pa.string()),
            pa.field("category", pa.string()),
            pa.field("source", pa.string()),
            pa.field("turns", pa.list_(turn)),
            pa.field("verdicts_json", pa.string()),
            pa.field("detector_success", pa.bool_()),
            pa.field("control", pa.bool_()),
            pa.field("labels", pa.list_(label)),
            pa.field("gold", values_type()),
            pa.field("gold_source", pa.string()),
        ]
    )


def _write_parquet(results: CampaignResults, out: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtraError("pyarrow", "web") from exc
    rows = []
    for item in results.items:
        record = item_record(item)
        # detectors' raw outputs differ in shape, so they travel as one JSON string
        record["verdicts_json"] = json.dumps(record.pop("verdicts"), ensure_ascii=False)
        record.pop("chain")  # attack chains differ in shape too; the jsonl export keeps them
        rows.append(record)
    table = pa.Table.from_pylist(rows, schema=_arrow_schema(results.label_schema))
    partial = out.with_name(out.name + ".partial")
    pq.write_table(table, partial)
    partial.replace(out)


def _question(field: LabelField) -> dict[str, Any]:
    kinds = {
        "choice": "label_selection",
        "boolean": "label_selection",
        "multi": "multi_label_selection",
        "ordinal": "rating",
        "text": "text",
    }
    question: dict[str, Any] = {
        "name": field.name,
        "title": field.title("en"),
        "type": kinds[field.kind],
        "required": field.required,
    }
    if field.kind == "ordinal":
        question["values"] = list(range(len(field.options)))
    elif field.options:
        question["labels"] = {o.value: o.text("en") for o in field.options}
    return question


def _argilla_value(field: LabelField, value: Any) -> Any:
    """Rating questions take the option's rank; the others the value itself."""
    if field.kind == "ordinal" and value is not None:
        return field.values.index(value)
    return value


def _write_argilla(results: CampaignResults, out: Path) -> None:
    fields = results.label_schema.fields
    lines = []
    for item in results.items:
        record = {
            "external_id": item.external_id,
            "fields": {"prompt": item.prompt, "response": item.response},
            "metadata": {
                "category": item.category,
                "source": item.source,
                "control": str(item.control).lower(),
            },
            "responses": [
                {
                    "user_id": label.reviewer,
                    "values": {
                        f.name: {"value": _argilla_value(f, label.values.get(f.name))}
                        for f in fields
                        if label.values.get(f.name) not in (None, "", [])
                    },
                    "status": "submitted",
                }
                for label in item.labels
            ],
            "suggestions": [
                {
                    "question_name": f.name,
                    "value": _argilla_value(f, item.gold[f.name]),
                    "agent": item.gold_source,
                }
                for f in fields
                if item.gold and item.gold.get(f.name) not in (None, "", [])
            ],
        }
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    write_text_atomic(out, "".join(lines))
    settings = {
        "name": results.name,
        "fields": [{"name": "prompt", "type": "text"}, {"name": "response", "type": "text"}],
        "questions": [_question(f) for f in fields],
        "metadata_properties": [
            {"name": "category", "type": "terms"},
            {"name": "source", "type": "terms"},
            {"name": "control", "type": "terms"},
        ],
    }
    write_json_atomic(out.with_name(out.name + ".settings.json"), settings)
