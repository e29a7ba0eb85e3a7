"""Prompts for multiple-choice documents: description, few-shot examples, the question.

The layout follows lm-evaluation-harness 0.4.13 so prompts are byte-identical:
``description + Σ(question + target_delimiter + answer + fewshot_delimiter) + question``,
and each choice is scored as the continuation ``target_delimiter + choice``. The pieces are
turns (``turns.py``), so a chat template renders the same ones (``PromptStyle``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from haechi.documents import Document
from haechi.errors import InputError
from haechi.models.base import ChatMessage
from haechi.tasks.spec import TaskSpec
from haechi.tasks.templates import expression_value, render
from haechi.tasks.turns import Turn, as_messages, as_text, join_instruction

SamplingMode = Literal["haechi", "lm-eval"]


@dataclass(frozen=True)
class Prompt:
    """A document ready to run.

    Multiple choice: ``pairs`` holds one (context, continuation) per choice and ``target``
    the gold index. Generation: the model continues ``context`` and ``answer`` is the
    reference text (``target`` is -1, ``choices`` empty). Judged: ``context`` asks the
    first of ``turns`` (the user's turns, each with its entry in ``references``) after the
    ``system`` turn; ``next_turn`` builds the later ones.
    """

    doc_id: int
    context: str
    choices: tuple[str, ...]
    target: int
    fewshot_ids: tuple[int, ...]
    pairs: tuple[tuple[str, str], ...] = ()
    answer: str = ""
    labels: tuple[int, ...] | None = None
    messages: tuple[ChatMessage, ...] | None = None  # the conversation, under a chat template
    turns: tuple[str, ...] = ()
    references: tuple[str | None, ...] = ()
    system: str = ""

    @property
    def prompt_hash(self) -> str:
        parts = [self.context, *(c + "\x1e" + x for c, x in self.pairs)]
        if self.messages is not None:
            parts += [m.role + "\x1d" + m.content for m in self.messages]
        if self.turns:  # later turns and references are part of what a judged task asks
            parts += [*self.turns, *("\x00" if r is None else r for r in self.references)]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


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


@dataclass(frozen=True)
class PromptStyle:
    """How a prompt's turns become text, as lm-eval 0.4.13's ``--system_instruction``,
    ``--apply_chat_template`` and ``--fewshot_as_multiturn``.

    ``chat`` sends the turns through a chat template: ``render`` (the conversation → the
    prompt text ending in the assistant's turn), or, without one, only as messages for a
    server to render (generation only). Under a chat template the target delimiter is
    dropped: the choice follows the assistant header directly.
    """

    system_instruction: str | None = None
    chat: bool = False
    multiturn: bool = False
    render: Callable[[Sequence[ChatMessage]], str] | None = None

    def context(self, turns: Sequence[Turn]) -> tuple[str, tuple[ChatMessage, ...] | None]:
        """The prompt text (empty when only a server can render it) and the messages."""
        if not self.chat:
            return as_text(turns), None
        messages = as_messages(turns, multiturn=self.multiturn)
        return (self.render(messages) if self.render else ""), messages


PLAIN = PromptStyle()


def build_prompt(
    spec: TaskSpec, doc: Document, fewshot: Sequence[Document], style: PromptStyle = PLAIN
) -> Prompt:
    """The context (description, few-shot examples, question) and what is scored after it."""
    description = render(spec.description, doc.fields, where=doc.origin, field="description")
    system = join_instruction(style.system_instruction, description, spec.fewshot_delimiter)
    head = [Turn("system", system)] if system else []
    ids = tuple(s.doc_id for s in fewshot)
    delim = "" if style.chat else spec.target_delimiter
    if spec.output_type == "judged":
        questions, references = doc_turns(spec, doc)
        prompt = Prompt(
            doc.doc_id, "", (), -1, ids, turns=questions, references=references, system=system
        )
        context, messages = next_turn(prompt, (), style, spec.fewshot_delimiter)
        return replace(prompt, context=context, messages=messages)
    if spec.output_type == "generate_until":
        shots = _shots(spec, [(doc_text(spec, s), doc_answer(spec, s)) for s in fewshot])
        context, messages = style.context([*head, *shots, Turn("user", doc_text(spec, doc))])
        return Prompt(
            doc.doc_id, context, (), -1, ids, answer=doc_answer(spec, doc), messages=messages
        )
    if spec.doc_to_continuation is not None:
        # the choices are alternative contexts, each followed by the same continuation
        shots = _shots(spec, [(_gold_choice(spec, s), _continuation(spec, s)) for s in fewshot])
        choices = doc_choices(spec, doc)
        target = doc_target(spec, doc, choices)
        continuation = delim + _continuation(spec, doc)
        pairs = tuple(
            (style.context([*head, *shots, Turn("user", c)])[0], continuation) for c in choices
        )
        return Prompt(doc.doc_id, as_text([*head, *shots]), tuple(choices), target, ids, pairs)
    shots = _shots(spec, [(doc_text(spec, s), _gold_choice(spec, s)) for s in fewshot])
    context, messages = style.context([*head, *shots, Turn("user", doc_text(spec, doc))])
    choices = doc_choices(spec, doc)
    return Prompt(
        doc_id=doc.doc_id,
        context=context,
        choices=tuple(choices),
        target=doc_target(spec, doc, choices),
        fewshot_ids=ids,
        pairs=tuple((context, delim + c) for c in choices),
        labels=doc_labels(spec, doc, len(choices)),
        messages=messages,
    )


def next_turn(
    prompt: Prompt, answers: Sequence[str], style: PromptStyle, delimiter: str
) -> tuple[str, tuple[ChatMessage, ...] | None]:
    """The prompt asking ``prompt.turns[len(answers)]`` after the earlier turns and the
    model's ``answers`` to them: plain text (each turn followed by ``delimiter``), or the
    conversation turn by turn under a chat template (never joined into one user message:
    the model sees its own earlier answers as its own)."""
    turns = [Turn("system", prompt.system, delimiter)] if prompt.system else []
    for question, answer in zip(prompt.turns, answers, strict=False):
        turns += [Turn("user", question, delimiter), Turn("assistant", answer, delimiter)]
    turns.append(Turn("user", prompt.turns[len(answers)]))
    return replace(style, multiturn=True).context(turns)


def doc_turns(spec: TaskSpec, doc: Document) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """A judged document's user turns (``doc_to_turns``) and one reference per turn
    (``doc_to_target``: a list, ``None`` entries where there is none)."""
    turns = expression_value(
        spec.doc_to_turns or "", doc.fields, where=doc.origin, field="doc_to_turns"
    )
    if (
        not isinstance(turns, list | tuple)
        or not turns
        or not all(isinstance(t, str) for t in turns)
    ):
        raise doc.error(f"turns must be a non-empty list of texts, got {turns!r}", field="turns")
    refs = expression_value(spec.doc_to_target, doc.fields, where=doc.origin, field="doc_to_target")
    if not isinstance(refs, list | tuple) or len(refs) != len(turns):
        raise doc.error(
            f"references must be a list of {len(turns)} texts or nulls, got {refs!r}",
            field="references",
        )
    return tuple(turns), tuple(None if r is None else str(r) for r in refs)


def _shots(spec: TaskSpec, examples: Sequence[tuple[str, str]]) -> list[Turn]:
    """Each example as a user turn (the question, then the target delimiter) and an
    assistant turn (the answer, then the few-shot delimiter)."""
    return [
        turn
        for question, answer in examples
        for turn in (
            Turn("user", question, spec.target_delimiter),
            Turn("assistant", answer, spec.fewshot_delimiter),
        )
    ]


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
