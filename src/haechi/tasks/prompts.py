"""Prompts for multiple-choice documents: description, few-shot examples, the question.

The layout follows lm-evaluation-harness 0.4.13 so prompts are byte-identical:
``description + Σ(question + target_delimiter + answer + fewshot_delimiter) + question``,
and each choice is scored as the continuation ``target_delimiter + choice``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from haechi.documents import Document
from haechi.errors import InputError
from haechi.tasks.spec import TaskSpec
from haechi.tasks.templates import expression_value, render

SamplingMode = Literal["haechi", "lm-eval"]


@dataclass(frozen=True)
class Prompt:
    """A document ready to run.

    Multiple choice: ``pairs`` holds one (context, continuation) per choice and ``target``
    the gold index. Generation: the model continues ``context`` and ``answer`` is the
    reference text (``target`` is -1, ``choices`` empty).
    """

    doc_id: int
    context: str
    choices: tuple[str, ...]
    target: int
    fewshot_ids: tuple[int, ...]
    pairs: tuple[tuple[str, str], ...] = ()
    answer: str = ""
    labels: tuple[int, ...] | None = None

    @property
    def prompt_hash(self) -> str:
        blob = "\x1f".join((self.context, *(c + "\x1e" + x for c, x in self.pairs)))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def doc_text(spec: TaskSpec, doc: Document) -> str:
    return render(spec.doc_to_text, doc.fields, where=doc.origin, field="doc_to_text")


def doc_choices(spec: TaskSpec, doc: Document) -> list[str]:
    value = expression_value(
        spec.doc_to_choice or "", doc.fields, where=doc.origin, field="doc_to_choice"
    )
    if not isinstance(value, list | tuple) or not value:
        raise InputError(
            f"choices must be a non-empty list, got {value!r}", file=doc.origin, field="choices"
        )
    return [str(c) for c in value]


def doc_target(spec: TaskSpec, doc: Document, choices: Sequence[str]) -> int:
    """The gold choice's index; a target given as text must be one of the choices."""
    value = expression_value(
        spec.doc_to_target, doc.fields, where=doc.origin, field="doc_to_target"
    )
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, str):
        if value not in choices:
            raise InputError(
                f"target {value!r} is not one of the choices", file=doc.origin, field="target"
            )
        return choices.index(value)
    if not isinstance(value, int) or not 0 <= value < len(choices):
        raise InputError(
            f"label {value!r} is not a valid index into {len(choices)} choices",
            file=doc.origin,
            field="label",
        )
    return value


def build_prompt(spec: TaskSpec, doc: Document, fewshot: Sequence[Document]) -> Prompt:
    """The context (description, few-shot examples, question) and what is scored after it."""
    description = render(spec.description, doc.fields, where=doc.origin, field="description")
    ids = tuple(s.doc_id for s in fewshot)
    delim, shot_end = spec.target_delimiter, spec.fewshot_delimiter
    if spec.output_type == "generate_until":
        shots = "".join(doc_text(spec, s) + delim + doc_answer(spec, s) + shot_end for s in fewshot)
        context = description + shots + doc_text(spec, doc)
        return Prompt(doc.doc_id, context, (), -1, ids, answer=doc_answer(spec, doc))
    if spec.doc_to_continuation is not None:
        # the choices are alternative contexts, each followed by the same continuation
        shots = "".join(
            _gold_choice(spec, s) + delim + _continuation(spec, s) + shot_end for s in fewshot
        )
        choices = doc_choices(spec, doc)
        target = doc_target(spec, doc, choices)
        continuation = delim + _continuation(spec, doc)
        pairs = tuple((description + shots + c, continuation) for c in choices)
        return Prompt(doc.doc_id, description + shots, tuple(choices), target, ids, pairs)
    shots = "".join(doc_text(spec, s) + delim + _gold_choice(spec, s) + shot_end for s in fewshot)
    context = description + shots + doc_text(spec, doc)
    choices = doc_choices(spec, doc)
    return Prompt(
        doc_id=doc.doc_id,
        context=context,
        choices=tuple(choices),
        target=doc_target(spec, doc, choices),
        fewshot_ids=ids,
        pairs=tuple((context, delim + c) for c in choices),
        labels=doc_labels(spec, doc, len(choices)),
    )


def doc_answer(spec: TaskSpec, doc: Document) -> str:
    """A generation task's reference answer (``doc_to_target`` as text)."""
    return str(
        expression_value(spec.doc_to_target, doc.fields, where=doc.origin, field="doc_to_target")
    )


def _gold_choice(spec: TaskSpec, doc: Document) -> str:
    choices = doc_choices(spec, doc)
    return choices[doc_target(spec, doc, choices)]


def _continuation(spec: TaskSpec, doc: Document) -> str:
    template = spec.doc_to_continuation or ""
    return render(template, doc.fields, where=doc.origin, field="doc_to_continuation")


def doc_labels(spec: TaskSpec, doc: Document, n_choices: int) -> tuple[int, ...] | None:
    """Which choices are true (1) or false (0), for tasks with several true answers (mc2)."""
    if not spec.doc_to_labels:
        return None
    value = expression_value(
        spec.doc_to_labels, doc.fields, where=doc.origin, field="doc_to_labels"
    )
    if not isinstance(value, list | tuple) or len(value) != n_choices:
        raise InputError(
            f"labels must be a list of {n_choices} 0/1 values, got {value!r}",
            file=doc.origin,
            field="labels",
        )
    return tuple(int(v) for v in value)


class FewshotSampler:
    """Draws few-shot examples for each evaluated document.

    ``haechi`` mode seeds one generator per document from (seed, task, doc_id), so a
    document's examples do not depend on ``--limit`` or on which documents came before.
    ``lm-eval`` mode reproduces lm-evaluation-harness 0.4.13: one generator seeded once,
    drawing per evaluated document, in order, ``k`` documents — or ``k + 1`` and dropping
    the document itself where lm-eval does (``lm_eval_draws_extra``).
    """

    def __init__(
        self,
        spec: TaskSpec,
        pool: Sequence[Document],
        *,
        same_split: bool,
        seed: int,
        mode: SamplingMode = "haechi",
    ) -> None:
        self.spec = spec
        self.pool = list(pool)
        self.same_split = same_split
        self.seed = seed
        self.mode = mode
        self._shared = random.Random(seed)

    def draw(self, doc: Document, k: int) -> list[Document]:
        if k == 0:
            return []
        pool = [d for d in self.pool if not (self.same_split and d.fields == doc.fields)]
        if self.spec.fewshot_sampler == "first_n":
            return pool[:k]
        if self.mode == "lm-eval":
            extra = self.spec.lm_eval_draws_extra
            if extra if extra is not None else self.same_split:
                drawn = self._shared.sample(self.pool, min(k + 1, len(self.pool)))
                return [d for d in drawn if d.fields != doc.fields][:k]
            return self._shared.sample(self.pool, min(k, len(self.pool)))
        rng = random.Random(f"{self.seed}:{self.spec.task}:{doc.doc_id}")
        return rng.sample(pool, min(k, len(pool)))
