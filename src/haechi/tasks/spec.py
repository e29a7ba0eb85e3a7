"""Declarative task specs: one YAML file describes documents, prompts, choices and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from haechi.errors import InputError

Metric = Literal["acc", "acc_norm", "acc_bytes", "acc_tokens", "mc1", "mc2", "f1"]


class DatasetSpec(BaseModel):
    """Where documents come from when no ``--data-dir`` is given."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="Hugging Face datasets id")
    name: str | None = Field(None, description="datasets configuration name")
    test_split: str = "test"
    fewshot_split: str | None = None


class TaskSpec(BaseModel):
    """A task. ``doc_to_text`` is a Jinja2 template; ``doc_to_choice`` and ``doc_to_target``
    are Jinja2 expressions over the document's fields (a list of strings, and an index or
    the correct choice's text)."""

    model_config = ConfigDict(extra="forbid")

    task: str
    version: str = "1.0"
    dataset: DatasetSpec = DatasetSpec()
    output_type: Literal["multiple_choice"] = "multiple_choice"
    fields: dict[str, str] = Field(
        default_factory=dict, description="document fields the task reads, with their meaning"
    )
    process_docs: str | None = None
    subtask_field: str | None = Field(
        None, description="partition documents by this field into subtasks (e.g. MMLU subjects)"
    )
    subtask_aggregation: Literal["mean", "size_weighted"] = "mean"
    description: str = Field("", description="template rendered with the document and `subtask`")
    doc_to_text: str
    doc_to_choice: str
    doc_to_target: str
    doc_to_labels: str | None = Field(
        None, description="expression giving 1/0 per choice: which choices are true (mc2)"
    )
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    num_fewshot: int = 0
    fewshot_sampler: Literal["random", "first_n"] = "random"
    metrics: list[Metric] = ["acc"]
    primary_metric: str = "acc"
    source: str = Field("", exclude=True, description="the YAML file this spec came from")

    @model_validator(mode="after")
    def _primary_is_computed(self) -> TaskSpec:
        if self.primary_metric not in self.metrics:
            raise ValueError(f"primary_metric {self.primary_metric!r} is not in metrics")
        if "mc2" in self.metrics and not self.doc_to_labels:
            raise ValueError("metric mc2 needs doc_to_labels (which choices are true)")
        return self


class GroupSpec(BaseModel):
    """A named set of tasks reported together; its score aggregates their headline metrics."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str]
    aggregation: Literal["mean", "size_weighted"] = "mean"
    description: str = ""


def load_spec(path: Path) -> TaskSpec:
    """Read and validate one task YAML; errors name the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read task file: {exc.strerror}", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"not valid YAML: {problem}", file=str(path), line=line) from None
    if not isinstance(raw, dict):
        raise InputError("a task file must hold a mapping", file=str(path))
    try:
        return TaskSpec.model_validate({**raw, "source": str(path)})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(
            first["msg"], file=str(path), field=".".join(str(p) for p in first["loc"]) or None
        ) from None
