"""Declarative task specs: one YAML file describes documents, prompts, choices and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from haechi.errors import InputError
from haechi.tasks.templates import syntax_error
from haechi.yaml_files import line_of, read_yaml_mapping


class DatasetSpec(BaseModel):
    """Where documents come from: the Hub (or, for a ``bundled`` set, the files haechi
    ships) without ``--data-dir`` or ``--samples``; with it, ``DIR/<task>/<split>.*`` or else the split's
    ``data_files``."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="Hugging Face datasets id")
    name: str | None = Field(None, description="datasets configuration name")
    test_split: str = "test"
    fewshot_split: str | None = None
    data_files: dict[str, list[str]] = Field(
        default_factory=dict,
        description="split → glob(s) relative to --data-dir naming the set's released files",
    )
    bundled: bool = Field(
        False,
        description="the whole set ships with haechi (tasks/data/<task>/), read in place of "
        "the Hub",
    )

    @field_validator("data_files", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if isinstance(value, dict):
            return {split: [p] if isinstance(p, str) else p for split, p in value.items()}
        return value

    @field_validator("data_files")
    @classmethod
    def _relative(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for pattern in (p for patterns in value.values() for p in patterns):
            if not pattern or Path(pattern).is_absolute():
                raise ValueError(f"{pattern!r} must be a path relative to --data-dir")
        return value


class GenerationSpec(BaseModel):
    """How ``generate_until`` tasks generate: greedy unless ``temperature`` > 0."""

    model_config = ConfigDict(extra="forbid")

    until: list[str] = ["\n\n"]
    max_gen_toks: int = 256
    temperature: float = 0.0


class FilterStep(BaseModel):
    """One step of a filter pipeline applied to generated text.

    ``regex``: the ``group_select``-th match of ``regex_pattern`` (first non-empty group when
    the pattern has several), stripped, else ``fallback``; ``take_first``: keep the first
    answer; ``strip``: trim whitespace."""

    model_config = ConfigDict(extra="forbid")

    function: Literal["regex", "take_first", "strip"]
    regex_pattern: str | None = None
    group_select: int = 0
    fallback: str = "[invalid]"

    @model_validator(mode="after")
    def _regex_has_pattern(self) -> FilterStep:
        if self.function == "regex" and not self.regex_pattern:
            raise ValueError("a regex filter step needs regex_pattern")
        return self


class MatchOptions(BaseModel):
    """How ``exact_match`` compares the filtered answer and the target."""

    model_config = ConfigDict(extra="forbid")

    ignore_case: bool = False
    ignore_punctuation: bool = False
    regexes_to_ignore: list[str] = []


class TaskSpec(BaseModel):
    """A task. ``doc_to_text`` is a Jinja2 template; ``doc_to_choice`` and ``doc_to_target``
    are Jinja2 expressions over the document's fields (a list of strings, and an index or
    the correct choice's text).

    With ``doc_to_continuation`` (a template) the choices are alternative *contexts* that
    each precede the same continuation (Winogrande's partial scoring).

    A ``judged`` task is a conversation graded by a judge model: ``doc_to_turns`` (an
    expression) gives the user's turns, asked one after another with the model's own
    answers in between; ``doc_to_target`` gives one reference per turn (``None`` where
    there is none); ``judge_criterion`` names the judge's criterion (bundled or a YAML
    path)."""

    model_config = ConfigDict(extra="forbid")

    task: str
    version: str = "1.0"
    dataset: DatasetSpec = DatasetSpec()
    output_type: Literal["multiple_choice", "generate_until", "judged"] = "multiple_choice"
    fields: dict[str, str] = Field(
        default_factory=dict, description="document fields the task reads, with their meaning"
    )
    process_docs: str | None = None
    subtask_field: str | None = Field(
        None, description="partition documents by this field into subtasks (e.g. MMLU subjects)"
    )
    subtask_aggregation: Literal["mean", "size_weighted"] = "mean"
    description: str = Field("", description="template rendered with the document and `subtask`")
    doc_to_text: str = ""
    doc_to_choice: str | None = None
    doc_to_target: str
    doc_to_continuation: str | None = None
    doc_to_labels: str | None = Field(
        None, description="expression giving 1/0 per choice: which choices are true (mc2)"
    )
    doc_to_turns: str | None = Field(
        None, description="judged: expression giving the user's turns of the conversation"
    )
    judge_criterion: str | None = Field(
        None, description="judged: the judge's criterion (haechi.judge name or YAML path)"
    )
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    num_fewshot: int = 0
    fewshot_sampler: Literal["random", "first_n"] = "random"
    lm_eval_draws_extra: bool | None = Field(
        None,
        description=(
            "--fewshot-sampling lm-eval: draw k + 1 documents and drop the evaluated one, as "
            "lm-eval does when its configured few-shot and test splits compare equal "
            "(default: when the few-shot split is the evaluated split)"
        ),
    )
    metrics: list[str] = Field(
        ["acc"], description="names declared in haechi.evaluate.metrics.METRICS"
    )
    aggregations: list[str] = Field(
        default_factory=list,
        description="extra task-level metrics computed from all samples "
        "(haechi.evaluate.metrics.AGGREGATIONS)",
    )
    generation: GenerationSpec = GenerationSpec()
    filters: dict[str, list[FilterStep]] = Field(
        default_factory=lambda: {"none": [FilterStep(function="take_first")]},
        description="generate_until: named pipelines that extract the answer",
    )
    exact_match: MatchOptions = MatchOptions()
    primary_metric: str = "acc"
    source: str = Field("", exclude=True, description="the YAML file this spec came from")

    # The metric table lives in haechi.evaluate, which imports this module: it is read when
    # a spec is validated, not when this module is imported.
    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str]) -> list[str]:
        from haechi.evaluate.metrics import METRICS

        return _known(names, METRICS, "metric")

    @field_validator("aggregations")
    @classmethod
    def _known_aggregations(cls, names: list[str]) -> list[str]:
        from haechi.evaluate.metrics import AGGREGATIONS

        return _known(names, AGGREGATIONS, "aggregation")

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        from haechi.evaluate.metrics import METRICS, ChoiceMetric, output_type

        if self.primary_metric not in self.metric_names():
            raise ValueError(
                f"primary_metric {self.primary_metric!r} is not one of {self.metric_names()}"
            )
        for name in self.metrics:
            metric = METRICS[name]
            if output_type(metric) != self.output_type:
                raise ValueError(f"metric {name} scores {output_type(metric)} tasks")
            if isinstance(metric, ChoiceMetric) and metric.needs_labels and not self.doc_to_labels:
                raise ValueError(f"metric {name} needs doc_to_labels (which choices are true)")
        if self.output_type != "multiple_choice" and self.aggregations:
            raise ValueError("aggregations score multiple_choice tasks")
        if self.output_type == "multiple_choice" and not self.doc_to_choice:
            raise ValueError("multiple_choice tasks need doc_to_choice")
        if self.output_type == "judged":
            if not self.doc_to_turns or not self.judge_criterion:
                raise ValueError("judged tasks need doc_to_turns and judge_criterion")
        elif not self.doc_to_text and not self.doc_to_continuation:
            raise ValueError("doc_to_text is required (unless doc_to_continuation is given)")
        return self

    def metric_names(self) -> list[str]:
        """Names of every reported metric: ``<metric>,<filter>`` for each filter of a
        generate_until task, plus the numbers of the spec's aggregations."""
        from haechi.evaluate.metrics import AGGREGATIONS

        if self.output_type == "generate_until":
            names = [f"{metric},{name}" for metric in self.metrics for name in self.filters]
        else:
            names = list(self.metrics)
        return names + [m for a in self.aggregations for m in AGGREGATIONS[a].reports]


def _known(names: list[str], table: Mapping[str, object], kind: str) -> list[str]:
    for name in names:
        if name not in table:
            raise ValueError(f"unknown {kind} {name!r}: one of {', '.join(table)}")
    return names


class GroupSpec(BaseModel):
    """A named set of tasks reported together; its score aggregates their headline metrics."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str]
    aggregation: Literal["mean", "size_weighted"] = "mean"
    description: str = ""


# The spec's Jinja2 sources: templates render text, expressions compute values.
TEMPLATE_FIELDS = ("description", "doc_to_text", "doc_to_continuation")
EXPRESSION_FIELDS = ("doc_to_choice", "doc_to_target", "doc_to_labels", "doc_to_turns")


def load_spec(path: Path) -> TaskSpec:
    """Read and validate one task YAML, its Jinja2 syntax included; errors name the file,
    the line and the field."""
    raw, text = read_yaml_mapping(path, "task file")
    try:
        spec = TaskSpec.model_validate({**raw, "source": str(path)})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(
            first["msg"],
            file=str(path),
            line=line_of(text, first["loc"]),
            field=".".join(str(p) for p in first["loc"]) or None,
        ) from None
    for field in (*TEMPLATE_FIELDS, *EXPRESSION_FIELDS):
        source = getattr(spec, field)
        problem = source and syntax_error(source, expression=field in EXPRESSION_FIELDS)
        if problem:
            raise InputError(problem, file=str(path), line=line_of(text, [field]), field=field)
    return spec
