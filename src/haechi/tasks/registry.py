"""Finding tasks: bundled specs by name, groups of them, or a user's YAML file by path."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from haechi.errors import InputError
from haechi.tasks.documents import Document, DocumentSource, load_split
from haechi.tasks.processors import get_processor
from haechi.tasks.spec import TaskSpec, load_spec


@lru_cache(maxsize=1)
def bundled_tasks() -> dict[str, TaskSpec]:
    """Every task spec shipped in ``haechi/tasks/specs``, by name."""
    folder = Path(str(resources.files("haechi.tasks").joinpath("specs")))
    specs = [load_spec(path) for path in sorted(folder.glob("*.yaml"))]
    return {spec.task: spec for spec in specs}


def groups() -> dict[str, list[str]]:
    """Group name → member task names (a task lists its groups in its spec)."""
    members: dict[str, list[str]] = {}
    for spec in bundled_tasks().values():
        for group in spec.groups:
            members.setdefault(group, []).append(spec.task)
    return members


def resolve(names: str | list[str]) -> tuple[list[TaskSpec], dict[str, list[str]]]:
    """Expand ``a,b,GROUP,path/to/task.yaml`` into specs (in order, no repeats) and the
    groups that were asked for."""
    items = names.split(",") if isinstance(names, str) else names
    known, member_map = bundled_tasks(), groups()
    specs: dict[str, TaskSpec] = {}
    asked_groups: dict[str, list[str]] = {}
    for item in (i.strip() for i in items if i.strip()):
        if item.endswith((".yaml", ".yml")):
            spec = load_spec(Path(item))
            specs.setdefault(spec.task, spec)
        elif item in member_map:
            asked_groups[item] = member_map[item]
            for name in member_map[item]:
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
        docs = [Document(d.doc_id, process(d.fields), d.origin) for d in docs]
    return docs
