"""Declarative tasks: YAML specs, documents, prompts and few-shot sampling."""

from haechi.documents import Document
from haechi.tasks.prompts import FewshotSampler, Prompt, build_prompt
from haechi.tasks.registry import bundled_tasks, check_data, groups, load_documents, resolve
from haechi.tasks.sources import DocumentSource
from haechi.tasks.spec import TaskSpec, load_spec

__all__ = [
    "Document",
    "DocumentSource",
    "FewshotSampler",
    "Prompt",
    "TaskSpec",
    "build_prompt",
    "bundled_tasks",
    "check_data",
    "groups",
    "load_documents",
    "load_spec",
    "resolve",
]
