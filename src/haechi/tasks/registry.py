"""Finding tasks: bundled specs by name, groups of them, or a user's YAML file by path."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from haechi.documents import Document
from haechi.errors import InputError
from haechi.tasks.processors import get_processor
from haechi.tasks.sources import DocumentSource, load_split
from haechi.tasks.spec import GroupSpec, TaskSpec, load_spec

GROUPS_FILE = "groups.yaml"


def _specs_folder() -> Path:
    return Path(str(resources.files("haechi.tasks").joinpath("specs")))


@lru_cache(maxsize=1)
def bundled_tasks() -> dict[str, TaskSpec]:
    """Every task spec shipped in ``haechi/tasks/specs``, by name."""
    specs = [
        load_spec(path)
        for path in sorted(_specs_folder().glob("*.yaml"))
        if path.name != GROUPS_FILE
    ]
    return {spec.task: spec for spec in specs}


@lru_cache(maxsize=1)
def groups() -> dict[str, GroupSpec]:
    """The bundled groups (``specs/groups.yaml``): name → member tasks and aggregation."""
    path = _specs_folder() / GROUPS_FILE
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = {}
    for name, body in raw.items():
        try:
            found[name] = GroupSpec.model_validate(body)
        except ValidationError as exc:
            raise InputError(str(exc.errors()[0]["msg"]), file=str(path), field=name) from None
        unknown = [t for t in found[name].tasks if t not in bundled_tasks()]
        if unknown:
            raise InputError(
                f"group {name} names unknown tasks {unknown}", file=str(path), field=name
            )
    return found


def resolve(names: str | list[str]) -> tuple[list[TaskSpec], dict[str, GroupSpec]]:
    """Expand ``a,b,GROUP,path/to/task.yaml`` into specs (in order, no repeats) and the
    groups that were asked for."""
    items = names.split(",") if isinstance(names, str) else names
    known, named_groups = bundled_tasks(), groups()
    specs: dict[str, TaskSpec] = {}
    asked_groups: dict[str, GroupSpec] = {}
    for item in (i.strip() for i in items if i.strip()):
        if item.endswith((".yaml", ".yml")):
            spec = load_spec(Path(item))
            specs.setdefault(spec.task, spec)
        elif item in named_groups:
            asked_groups[item] = named_groups[item]
            for name in named_groups[item].tasks:
                specs.setdefault(name, known[name])
        elif item in known:
            specs.setdefault(item, known[item])
        else:
            raise InputError(
                f"unknown task or group {item!r}",
                field="tasks",
                hint="see `haechi tasks list`, or pass the path of a task YAML file",
            )
    if not specs:
        raise InputError("no tasks given", field="tasks")
    return list(specs.values()), asked_groups


def load_documents(spec: TaskSpec, split: str, source: DocumentSource) -> list[Document]:
    """Load a split and apply the spec's processor; a document missing a field the spec
    reads is an ``InputError`` naming its file and line."""
    docs = load_split(spec.task, split, source, spec.dataset)
    for doc in docs:
        missing = [name for name in spec.fields if name not in doc.fields]
        if missing:
            raise InputError(
                f"document lacks field {missing[0]!r}",
                file=doc.origin,
                field=missing[0],
                hint=f"task {spec.task} reads: {', '.join(spec.fields)}",
            )
    if spec.process_docs:
        process = get_processor(spec.process_docs, spec.source)
        processed = []
        for doc in docs:
            try:
                processed.append(Document(doc.doc_id, process(doc.fields), doc.origin))
            except KeyError as exc:
                raise InputError(f"document lacks field {exc}", file=doc.origin) from None
            except (ValueError, TypeError, SyntaxError) as exc:
                raise InputError(f"unreadable document: {exc}", file=doc.origin) from None
        docs = processed
    return docs


def check_data(
    specs: list[TaskSpec], source: DocumentSource, num_fewshot: int | None = None
) -> None:
    """Read every split a run of ``specs`` will read (the evaluated one, and the few-shot
    one when shots are drawn from it), so a missing file or field is an ``InputError``
    before a model is loaded rather than after."""
    for spec in specs:
        splits, fewshot = [spec.dataset.test_split], spec.dataset.fewshot_split
        shots = spec.num_fewshot if num_fewshot is None else num_fewshot
        if shots and fewshot is not None and fewshot not in splits:
            splits.append(fewshot)
        for split in splits:
            load_documents(spec, split, source)
