"""The English IFEval checks give lm-eval 0.4.13's per-instruction verdicts, strict and loose,
on the same responses (English and Korean, well-formed and broken).

lm-eval's two checks that need nltk's punkt models, which cannot be downloaded here
(``length_constraints:number_sentences``, ``change_case:capital_word_frequency``), are left
out; tests/evaluate/test_instructions.py tests ours on their own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from haechi.evaluate.instructions import INSTRUCTIONS, follow, instructions_of

pytest.importorskip("langdetect", reason="the language checks need langdetect (extra ko)")
pytest.importorskip("immutabledict", reason="lm-eval's ifeval needs immutabledict (extra dev)")
nltk = pytest.importorskip("nltk", reason="lm-eval's ifeval needs nltk (extra dev)")

NEEDS_PUNKT = {"length_constraints:number_sentences", "change_case:capital_word_frequency"}

RESPONSES = [
    "",
    "   \n  ",
    "Sure, here is my answer.\nMy answer is yes.\nLet me know if you need more.",
    "My answer is maybe",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG. IT IS A SUNNY DAY IN SEOUL.",
    "the quick brown fox jumps over the lazy dog. it is a sunny day in seoul.",
    "The Quick Brown Fox jumps over the lazy dog, and then it rests.",
    '"The whole answer is quoted, as asked."',
    '"',
    '  "Spaces around the quotes"  ',
    "<<A Poem of Joy>>\nRoses are red, violets are blue.",
    "<< >> is an empty title and <<>> too",
    "<<Title one>> and <<Title two>>",
    "* first point\n* second point\n* third point",
    "- one\n- two\n  - nested three\n-four",
    "**bold line**\n* real bullet\n*\n* another",
    "Paragraph one.\n***\nParagraph two.\n***\nParagraph three.",
    "***\nLeading divider paragraph.\n***\nSecond one.\n***",
    "One.\n***\n\n***\nThree.",
    'First paragraph starts here.\n\nSecond paragraph: Summer is hot.\n\n"Third" paragraph.',
    "\n\nSummer, is here.\n\nWinter comes after.",
    "SECTION 1\nIntro text.\nSECTION 2\nBody text.\nSection 3 lower.",
    "Section1 tight\nSection 2\nSECTION3",
    "Fill in [name] at [address] on [date].",
    "No placeholders here [] but one [x]",
    "Thanks for reading.\nP.S. I will write again soon.",
    "Thanks.\np. s. lowercase spaced postscript",
    "Done.\nP.P.S extra note\nP.S. note",
    "Response one is here.\n******\nResponse two is different.",
    "Same.\n******\nSame.",
    "A\n******\n\n******\nB",
    "******\nOnly one response\n******",
    '```json\n{"name": "haechi", "tasks": ["ko_ifeval"]}\n```',
    "```JSON\n[1, 2, 3]\n```",
    '{"unterminated": [1, 2}',
    'Some text before {"a": 1}',
    "   42   ",
    "Write a story about a cat. Once upon a time, a cat lived in Busan.",
    "write a story about a cat! Here it is.",
    "Is there anything else I can help with?",
    'The end. "Is there anything else I can help with?"',
    "We apple the apples; APPLE pie, pineapple and an apple.",
    "banana bananas Banana band",
    "eeee eee letter e count E",
    "*highlighted one* and *another* and ** empty ** and **double bold**",
    "*\n*",
    "안녕하세요. 저는 서울에 사는 학생입니다. 오늘 날씨가 좋네요.",
    "사과를 먹었다. 사과는 맛있다! 정말 사과가 좋아?",
    "* 첫째 항목\n* 둘째 항목\n- 셋째 항목",
    "첫 문단입니다.\n\n둘째 문단입니다.\n\n셋째 문단입니다.",
    '```json\n{"이름": "해치", "점수": 95}\n```',
    "결론: 한국어 응답, 쉼표 포함.",
    "P.S. 다음에 또 만나요.",
    "<<제목>>\n본문입니다.",
    "中文回答，没有韩文。",
    "Bonjour tout le monde, ceci est une réponse en français.",
    "12345 67890",
    "Mixed 한국어 and English words in one response.",
]

# Per instruction: argument sets chosen so that the responses above give both verdicts.
ARGUMENTS: dict[str, list[dict[str, Any]]] = {
    "keywords:existence": [
        {"keywords": ["apple"]},
        {"keywords": ["cat", "story"]},
        {"keywords": ["사과"]},
    ],
    "keywords:frequency": [
        {"keyword": "apple", "frequency": 3, "relation": "at least"},
        {"keyword": "banana", "frequency": 2, "relation": "less than"},
        {"keyword": " 사과 ", "frequency": 2, "relation": "at least"},
    ],
    "keywords:forbidden_words": [
        {"forbidden_words": ["apple", "dog"]},
        {"forbidden_words": ["band"]},
        {"forbidden_words": ["사과"]},
    ],
    "keywords:letter_frequency": [
        {"letter": "e", "let_frequency": 5, "let_relation": "at least"},
        {"letter": "A", "let_frequency": 2, "let_relation": "less than"},
    ],
    "language:response_language": [{"language": "en"}, {"language": "ko"}, {"language": "fr"}],
    "length_constraints:number_paragraphs": [
        {"num_paragraphs": 3},
        {"num_paragraphs": 2},
        {"num_paragraphs": 1},
    ],
    "length_constraints:number_words": [
        {"num_words": 10, "relation": "at least"},
        {"num_words": 5, "relation": "less than"},
    ],
    "length_constraints:nth_paragraph_first_word": [
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "second"},
        {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "summer"},
        {"num_paragraphs": 3, "nth_paragraph": 3, "first_word": "Third"},
        {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "첫"},
    ],
    "detectable_content:number_placeholders": [{"num_placeholders": 3}, {"num_placeholders": 1}],
    "detectable_content:postscript": [
        {"postscript_marker": "P.S."},
        {"postscript_marker": "P.P.S"},
        {"postscript_marker": "Note"},
    ],
    "detectable_format:number_bullet_lists": [
        {"num_bullets": 3},
        {"num_bullets": 4},
        {"num_bullets": 2},
    ],
    "detectable_format:constrained_response": [{}],
    "detectable_format:number_highlighted_sections": [{"num_highlights": 2}, {"num_highlights": 4}],
    "detectable_format:multiple_sections": [
        {"section_spliter": "SECTION", "num_sections": 2},
        {"section_spliter": " Section ", "num_sections": 3},
    ],
    "detectable_format:json_format": [{}],
    "detectable_format:title": [{}],
    "combination:two_responses": [{}],
    "combination:repeat_prompt": [
        {"prompt_to_repeat": "Write a story about a cat."},
        {"prompt_to_repeat": "안녕하세요."},
    ],
    "startend:end_checker": [
        {"end_phrase": "Is there anything else I can help with?"},
        {"end_phrase": "help with? "},
        {"end_phrase": "좋네요."},
    ],
    "startend:quotation": [{}],
    "change_case:english_capital": [{}],
    "change_case:english_lowercase": [{}],
    "punctuation:no_comma": [{}],
}


@pytest.fixture(scope="module")
def peer() -> Iterator[Any]:
    """lm-eval's ifeval scorer, imported without letting nltk reach the network, with
    langdetect seeded as ours is (it samples; unseeded, two calls may disagree)."""
    from langdetect.detector_factory import DetectorFactory

    patch = pytest.MonkeyPatch()
    patch.setattr(nltk, "download", lambda *args, **kwargs: False)
    patch.setattr(DetectorFactory, "seed", 0)
    from lm_eval.tasks.ifeval import utils

    yield utils
    patch.undo()


def _peer_verdicts(
    peer: Any, ids: list[str], kwargs: list[dict[str, Any]], response: str
) -> tuple[list[bool], list[bool]]:
    doc = peer.InputExample(key=0, instruction_id_list=ids, prompt="", kwargs=kwargs)
    strict = peer.test_instruction_following_strict(doc, response).follow_instruction_list
    loose = peer.test_instruction_following_loose(doc, response).follow_instruction_list
    return strict, loose


def test_every_english_instruction_is_compared() -> None:
    english = {i for i in INSTRUCTIONS if not i.startswith("ko_")}
    assert english - NEEDS_PUNKT == set(ARGUMENTS)


@pytest.mark.parametrize("instruction_id", sorted(ARGUMENTS))
def test_verdicts_match_lm_eval(peer: Any, instruction_id: str) -> None:
    seen = set()
    for kwargs, response in itertools.product(ARGUMENTS[instruction_id], RESPONSES):
        ours = follow(
            response, instructions_of({"instruction_id_list": [instruction_id], "kwargs": [kwargs]})
        )
        strict, loose = _peer_verdicts(peer, [instruction_id], [kwargs], response)
        assert (list(ours.strict), list(ours.loose)) == (strict, loose), (kwargs, response)
        seen.update(strict + loose)
    assert seen == {True, False}  # the responses exercise both verdicts


def test_documents_with_several_instructions_match(peer: Any) -> None:
    """Whole documents in IFEval's file schema, with the null-padded kwargs its rows carry."""
    ids = [
        "punctuation:no_comma",
        "detectable_format:title",
        "keywords:existence",
        "startend:end_checker",
    ]
    names = {"keywords", "end_phrase", "num_words", "relation"}
    given = [{}, {}, {"keywords": ["poem"]}, {"end_phrase": "blue."}]
    kwargs = [{name: part.get(name) for name in names} for part in given]
    for response in [
        *RESPONSES,
        "<<Poem>>\nA poem, in red and blue.",
        "<<Poem>>\nA poem in red and blue.",
    ]:
        ours = follow(response, instructions_of({"instruction_id_list": ids, "kwargs": kwargs}))
        # lm-eval drops falsy arguments before building each check, as we drop None
        strict, loose = _peer_verdicts(peer, ids, kwargs, response)
        assert (list(ours.strict), list(ours.loose)) == (strict, loose), response
