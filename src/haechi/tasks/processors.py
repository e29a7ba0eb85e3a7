"""Named document processors a task spec can apply (``process_docs: NAME``).

Each takes one document's fields and returns them with the fields the spec's templates
read added; the original fields stay, so samples can still point back into the file.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from collections.abc import Callable
from typing import Any

from haechi.errors import InputError

Fields = dict[str, Any]


def _clean_wikihow(text: str) -> str:
    # HellaSwag's WikiHow items carry bracketed markup such as "[title]" and "[step]".
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def hellaswag(doc: Fields) -> Fields:
    """HellaSwag schema (activity_label, ctx_a, ctx_b, endings, label) → query/choices/gold."""
    context = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
    return {
        **doc,
        "query": _clean_wikihow(doc["activity_label"] + ": " + context),
        "choices": [_clean_wikihow(e) for e in doc["endings"]],
        "gold": int(doc["label"]),
    }


def kobest_hellaswag(doc: Fields) -> Fields:
    """KoBEST HellaSwag (context, ending_1..4, label) → query ("문장: ..."), choices, gold."""
    return {
        **doc,
        "query": f"문장: {doc['context']}",
        "choices": [doc[f"ending_{i}"] for i in range(1, 5)],
        "gold": int(doc["label"]),
    }


def ko_commongen_v2(doc: Fields) -> Fields:
    """KoCommonGEN v2 (concept_set "a#b#c", options "1".."4", gold 1-4) → the authors'
    query ("concept set: {a, b, c}", numbered option lines, "정답:"), the option lines as
    choices and a 0-based ``gold_index``."""
    options = [f"{i}. {doc[str(i)]}" for i in range(1, 5)]
    concepts = str(doc["concept_set"]).replace("#", ", ")
    query = "concept set: {" + concepts + "}\n" + "\n".join(options) + "\n정답:"
    return {**doc, "query": query, "choices": options, "gold_index": int(doc["gold"]) - 1}


def kmmlu(doc: Fields) -> Fields:
    """KMMLU: ``subject`` from ``Category`` ("Korean History" → korean_history), which
    names the subtask as the harness names its task (kmmlu_korean_history)."""
    subject = re.sub(r"[\s\-]+", "_", str(doc["Category"]).strip().lower())
    return {**doc, "subject": subject}


def _clean_gpqa(text: Any) -> str:
    # As the harness's leaderboard GPQA does: a missing answer becomes a single space.
    if text is None:
        return " "
    return _clean_wikihow(str(text))


def gpqa(doc: Fields) -> Fields:
    """GPQA schema (Question, Correct Answer, Incorrect Answer 1-3) → choice1..4 and the
    correct letter as ``answer`` ("(A)".."(D)").

    The four answers are shuffled by a generator seeded from the question's text, so a
    question's order is the same on every run, machine and file order.
    """
    correct = _clean_gpqa(doc["Correct Answer"])
    choices = [_clean_gpqa(doc[f"Incorrect Answer {i}"]) for i in (1, 2, 3)] + [correct]
    seed = int.from_bytes(hashlib.sha256(str(doc["Question"]).encode("utf-8")).digest()[:8])
    random.Random(seed).shuffle(choices)
    letter = "ABCD"[choices.index(correct)]
    return {
        **doc,
        **{f"choice{i + 1}": choice for i, choice in enumerate(choices)},
        "answer": f"({letter})",
    }


def kobbq(doc: Fields) -> Fields:
    """KoBBQ's TSV row: ``choices`` arrives as a Python-style list literal; parse it."""
    choices = doc["choices"]
    if isinstance(choices, str):
        choices = ast.literal_eval(choices)
    if not isinstance(choices, list) or len(choices) != 3:
        raise ValueError(f"choices must be a list of 3 answers, got {choices!r}")
    return {**doc, "choices": [str(c) for c in choices]}


def ifeval(doc: Fields) -> Fields:
    """IFEval's schema (key, prompt, instruction_id_list, kwargs): every instruction id and
    its arguments are checked against haechi's instruction table, and the packages its
    checks need are looked for, when the documents load: before a model runs."""
    # evaluate imports this package, so this import waits for a document
    from haechi.evaluate.instructions import instructions_of, require_packages

    require_packages(instructions_of(doc))
    return doc


LOGICKOR_TURNS = 2


def logickor(doc: Fields) -> Fields:
    """LogicKor's ``questions.jsonl`` row (``id``, ``category``, ``questions``: [turn 1,
    turn 2], optional ``references``: [text or null, text or null]) checked, with
    ``subject`` (the category's name in parentheses, lower-cased: "추론(Reasoning)" →
    reasoning), ``turns`` and ``refs`` (padded with nulls) added.

    Only the first two questions are asked (LogicKor is two-turn; its own file has a row
    with a repeated third question)."""
    questions, references = doc["questions"], doc.get("references") or []
    if not isinstance(questions, list) or len(questions) < LOGICKOR_TURNS:
        raise ValueError(
            f"expected 'questions' to be a list of {LOGICKOR_TURNS} texts, got {questions!r}"
        )
    if not all(isinstance(q, str) and q.strip() for q in questions[:LOGICKOR_TURNS]):
        raise ValueError("expected every question to be a non-empty text")
    if not isinstance(references, list) or len(references) > LOGICKOR_TURNS:
        raise ValueError(
            f"expected 'references' to be a list of at most {LOGICKOR_TURNS} texts or nulls, "
            f"got {references!r}"
        )
    if not all(r is None or isinstance(r, str) for r in references):
        raise ValueError("expected every reference to be a text or null")
    category = str(doc["category"]).strip()
    if not category:
        raise ValueError("expected a non-empty 'category'")
    inner = re.search(r"\(([^()]+)\)\s*$", category)
    subject = re.sub(r"\W+", "_", (inner.group(1) if inner else category).strip().lower())
    refs = [*references, *[None] * (LOGICKOR_TURNS - len(references))]
    return {**doc, "subject": subject, "turns": questions[:LOGICKOR_TURNS], "refs": refs}


PROCESSORS: dict[str, Callable[[Fields], Fields]] = {
    "kobbq": kobbq,
    "gpqa": gpqa,
    "hellaswag": hellaswag,
    "ifeval": ifeval,
    "kmmlu": kmmlu,
    "logickor": logickor,
    "ko_commongen_v2": ko_commongen_v2,
    "kobest_hellaswag": kobest_hellaswag,
}


def get_processor(name: str, source: str) -> Callable[[Fields], Fields]:
    try:
        return PROCESSORS[name]
    except KeyError:
        raise InputError(
            f"unknown document processor {name!r}",
            file=source,
            field="process_docs",
            hint=f"known: {', '.join(sorted(PROCESSORS))}",
        ) from None
