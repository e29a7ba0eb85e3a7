"""G-Eval prompts: evaluation steps from the criterion (auto chain-of-thought), then a
form the judge fills with a score. English and Korean wording."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from haechi.judge.criteria import Criterion

HEADINGS = {
    "en": {
        "criteria": "Evaluation Criteria:",
        "steps": "Evaluation Steps:",
        "source": "Source:",
        "reference": "Reference:",
        "output": "Output:",
        "form": "Evaluation Form (scores ONLY):",
        "pair": "Which output is better on this criterion? Answer with A or B only.",
        "answer": "Answer:",
        "question_n": "[Question {n}]",
        "answer_n": "[Answer {n}]",
    },
    "ko": {
        "criteria": "평가 기준:",
        "steps": "평가 단계:",
        "source": "원문:",
        "reference": "참고 답안:",
        "output": "평가할 출력:",
        "form": "평가 양식 (점수만 쓰세요):",
        "pair": "이 기준에서 어느 출력이 더 나은가요? A 또는 B로만 답하세요.",
        "answer": "답:",
        "question_n": "[질문 {n}]",
        "answer_n": "[답변 {n}]",
    },
}


@dataclass(frozen=True)
class JudgeItem:
    """One output to grade: ``doc_id`` names its source document, ``system`` who wrote it."""

    id: str
    source: str
    output: str
    doc_id: str = ""
    system: str = ""
    reference: str | None = None


def _head(c: Criterion) -> dict[str, str]:
    return HEADINGS.get(c.language, HEADINGS["en"])


def steps_prompt(c: Criterion) -> str:
    """What the judge continues to write the evaluation steps once per criterion."""
    h = _head(c)
    return f"{c.task_introduction}\n\n{h['criteria']}\n\n{c.criterion}\n\n{h['steps']}\n"


def form_prompt(c: Criterion, steps: str, item: JudgeItem) -> str:
    """The filled-in evaluation prompt, ending where the score goes (after "- Label:")."""
    h = _head(c)
    parts = [
        c.task_introduction,
        f"{h['criteria']}\n\n{c.criterion}",
        f"{h['steps']}\n\n{steps.strip()}",
        f"{h['source']}\n\n{item.source}",
    ]
    if item.reference is not None:
        parts.append(f"{h['reference']}\n\n{item.reference}")
    parts.append(f"{h['output']}\n\n{item.output}")
    parts.append(f"{h['form']}\n\n- {c.label}:")
    return "\n\n".join(parts)


def pair_prompt(c: Criterion, steps: str, source: str, first: str, second: str) -> str:
    """Pairwise: the two outputs as A and B; the judge answers with a letter."""
    h = _head(c)
    return "\n\n".join(
        [
            c.task_introduction,
            f"{h['criteria']}\n\n{c.criterion}",
            f"{h['steps']}\n\n{steps.strip()}",
            f"{h['source']}\n\n{source}",
            f"A:\n\n{first}",
            f"B:\n\n{second}",
            f"{h['pair']}\n{h['answer']}",
        ]
    )


def conversation_source(c: Criterion, questions: Sequence[str], answers: Sequence[str]) -> str:
    """A conversation as the judge's source: each question, numbered, followed by its
    answer where one is given (the last question, being judged, has none)."""
    h = _head(c)
    parts = []
    for n, question in enumerate(questions, start=1):
        parts.append(f"{h['question_n'].format(n=n)}\n{question}")
        if n <= len(answers):
            parts.append(f"{h['answer_n'].format(n=n)}\n{answers[n - 1]}")
    return "\n\n".join(parts)


def numbered_answers(c: Criterion, answers: Sequence[str]) -> str:
    """One side's answers of a conversation, numbered (pairwise judging of later turns)."""
    h = _head(c)
    if len(answers) == 1:
        return answers[0]
    return "\n\n".join(f"{h['answer_n'].format(n=n)}\n{a}" for n, a in enumerate(answers, start=1))
