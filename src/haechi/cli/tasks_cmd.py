"""``haechi tasks``: list tasks and show what data each expects."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from haechi.cli.console import console
from haechi.errors import InputError
from haechi.tasks import TaskSpec, bundled_tasks, groups, load_spec
from haechi.tasks.sources import data_dir_layouts

app = typer.Typer(help="List the bundled tasks and show the splits and fields each expects.")


@app.command("list")
def list_tasks() -> None:
    """Every bundled task with its few-shot count, headline metric and groups."""
    named = groups()
    member_of: dict[str, list[str]] = {}
    for name, group in named.items():
        for task in group.tasks:
            member_of.setdefault(task, []).append(name)
    table = Table("task", "shots", "metric", "groups", "public data")
    for spec in bundled_tasks().values():
        table.add_row(
            spec.task,
            str(spec.num_fewshot),
            spec.primary_metric,
            ", ".join(member_of.get(spec.task, [])),
            _public_data(spec),
        )
    console.print(table)
    groups_table = Table("group", "aggregation", "tasks")
    for name, group in named.items():
        groups_table.add_row(name, group.aggregation, ", ".join(group.tasks))
    console.print(groups_table)


def _public_data(spec: TaskSpec) -> str:
    if spec.dataset.bundled:
        return "bundled with haechi"
    if spec.dataset.path:
        return spec.dataset.path
    released = spec.dataset.data_files.get(spec.dataset.test_split)
    if released:
        return f"--data-dir DIR with DIR/{released[0]}"
    return "—  (--data-dir DIR: see tasks show)"


@app.command("show")
def show(
    task: Annotated[str, typer.Argument(help="A task name, or the path of a task YAML.")],
) -> None:
    """The splits, files and document fields a task expects, and its prompt template."""
    from pathlib import Path

    specs = bundled_tasks()
    if task.endswith((".yaml", ".yml")):
        spec = load_spec(Path(task))
    elif task in specs:
        spec = specs[task]
    else:
        raise InputError(f"unknown task {task!r}", field="task", hint="see `haechi tasks list`")
    splits = [spec.dataset.test_split]
    if spec.dataset.fewshot_split and spec.dataset.fewshot_split not in splits:
        splits.append(spec.dataset.fewshot_split)
    console.print(f"[bold]{spec.task}[/] (version {spec.version})")
    console.print(f"spec: {spec.source}", markup=False)
    console.print(
        f"evaluated split: {spec.dataset.test_split}; few-shot split: {spec.dataset.fewshot_split or spec.dataset.test_split}"
    )
    console.print(
        f"{spec.num_fewshot}-shot ({spec.fewshot_sampler}); metrics: {', '.join(spec.metrics)} (headline {spec.primary_metric})"
    )
    if spec.dataset.path:
        console.print(
            f"public dataset: {spec.dataset.path}"
            + (f" ({spec.dataset.name})" if spec.dataset.name else "")
        )
    if spec.dataset.bundled:
        console.print("data: bundled with haechi (read unless --data-dir or --samples is given)")
    console.print("with --data-dir DIR it reads:", markup=False)
    for split in splits:
        layouts = " or ".join(
            f"DIR/{layout}" for layout in data_dir_layouts(spec.task, spec.dataset, split)
        )
        console.print(f"  {split}: {layouts}", markup=False, highlight=False)
    fields = Table("field", "meaning")
    for name, meaning in spec.fields.items():
        fields.add_row(name, meaning)
    console.print(fields)
    # templates are user text: print them verbatim, not as rich markup
    if spec.doc_to_turns:
        console.print("turns:   " + spec.doc_to_turns, markup=False, highlight=False)
        console.print(f"judge:   {spec.judge_criterion} (--judge SPEC)", markup=False)
    else:
        console.print("prompt:  " + repr(spec.doc_to_text), markup=False, highlight=False)
    if spec.doc_to_choice:
        console.print("choices: " + spec.doc_to_choice, markup=False, highlight=False)
    if spec.doc_to_continuation:
        console.print("continuation: " + spec.doc_to_continuation, markup=False, highlight=False)
    console.print("target:  " + spec.doc_to_target, markup=False, highlight=False)
    if spec.process_docs == "ifeval":
        from haechi.evaluate.instructions import INSTRUCTIONS

        checks = Table("instruction id", "checks", "kwargs")
        for name, check in INSTRUCTIONS.items():
            doc = " ".join((check.__doc__ or "").split("\n\n")[0].split()).replace("``", "")
            checks.add_row(name, Text(doc), ", ".join(check.model_fields))
        console.print(checks)
