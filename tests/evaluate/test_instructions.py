"""The Korean instruction checks (each with responses that follow it and responses that do
not), the English checks that lm-eval counts with nltk's punkt, and how a document's
instructions are read and judged strictly and loosely."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from haechi.evaluate.instructions import INSTRUCTIONS, follow, instructions_of, loose_variants

pytest.importorskip("kiwipiepy", reason="the Korean checks need kiwipiepy (extra ko)")


def followed(instruction_id: str, kwargs: dict[str, Any], response: str) -> bool:
    doc = {"instruction_id_list": [instruction_id], "kwargs": [kwargs]}
    (verdict,) = follow(response, instructions_of(doc)).strict
    return verdict


DECOMPOSED = unicodedata.normalize(
    "NFD", "한글만 썼습니다"
)  # jamo sequences, as some tokenizers emit

# (instruction id, kwargs, responses that follow it, responses that do not)
CASES: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    ("ko_script:hangul_only", {},
     ["한글만 썼습니다. 숫자 2024와 기호 ~!?도 괜찮아요 😀", DECOMPOSED, "ㅋㅋ 재밌다"],
     ["한글과 English", "학교(學校)", "カタカナ도", "12345 ...", ""]),
    ("ko_script:no_latin", {},
     ["인공지능은 똑똑해요.", "가격은 3,000원입니다.", "中文도 괜찮다"],
     ["AI는 똑똑해요.", "ＡＩ 전각 글자", "café는 프랑스어"]),
    ("ko_script:no_hanja", {},
     ["학교에 갑니다.", "English is fine", "한자 없는 글"],
     ["학교(學校)에 갑니다.", "大韓民國", "豈 호환 한자"]),
    ("ko_style:speech_level", {"level": "존댓말"},
     ["안녕하세요. 저는 학생입니다. 밥 드셨어요?", "어서 오십시오.\n- 메뉴판\n- 물\n주문하시겠어요?", "저요? 여기요."],
     ["안녕하세요. 나는 학생이야.", "밥 먹었어?", "- 사과\n- 배", "결론: 좋음."]),
    ("ko_style:speech_level", {"level": "반말"},
     ["나는 학생이야. 밥 먹었어? 같이 가자.", "오늘은 맑았다. 일기를 쓴다.", "<<일기>>\n\n좋은 하루였다."],
     ["나는 학생이야. 고마워요.", "감사합니다.", "<<제목>>"]),
    ("ko_style:speech_level", {"level": "합쇼체"},
     ["출시를 알려 드립니다. 많은 관심 부탁드립니다. 함께 갑시다.", "어디 가십니까? 이리 오십시오."],
     ["출시를 알려 드립니다. 많이 사랑해 주세요.", "좋아요."]),
    ("ko_style:speech_level", {"level": "해요체"},
     ["이 메뉴가 맛있어요. 한번 드셔 보세요. 그렇죠?", "저요? 학생이에요."],
     ["이 메뉴가 맛있습니다.", "맛있어요. 먹어 봐."]),
    ("ko_startend:end_phrase", {"end_phrase": "감사합니다."},
     ["도와주셔서 감사합니다.", "“정말 감사합니다.”  \n", unicodedata.normalize("NFD", "늘 감사합니다.")],
     ["감사합니다. 또 오세요.", "감사합니다", "감사합니다.!"]),
    ("ko_startend:end_phrase", {"end_phrase": "Thank you!"},
     ["정말로 THANK YOU!"], ["Thank you! 😀"]),
    ("ko_length:characters", {"num_chars": 10, "relation": "at least"},
     ["열 글자는 넘는 문장이에요", DECOMPOSED * 2], ["짧은 글", DECOMPOSED]),
    ("ko_length:characters", {"num_chars": 6, "relation": "less than", "spaces": False},
     ["가 나 다 라 마", "  한 글  "], ["가나다라마바", "가 나 다 라 마 바"]),
    ("ko_length:eojeol", {"num_eojeol": 4, "relation": "at least"},
     ["나는 오늘 학교에 갔다.", "- 하나 - 둘 - 셋 - 넷"], ["나는 학교에 갔다.", "- - - 하나 둘"]),
    ("ko_length:eojeol", {"num_eojeol": 3, "relation": "less than"},
     ["한줄 요약", "좋아요!"], ["한 줄 요약", "세 어절 이상의 문장"]),
    ("ko_length:sentences", {"num_sentences": 2, "relation": "at least"},
     ["제주도는 섬이에요 바다가 맑아요", "첫째입니다. 둘째입니다."], ["한 문장뿐입니다.", ""]),
    ("ko_length:sentences", {"num_sentences": 2, "relation": "less than"},
     ["행복은 나누는 것입니다."], ["행복은 나눔이다. 그리고 웃음이다."]),
    ("ko_format:paragraphs", {"num_paragraphs": 3},
     ["첫 문단.\n\n둘째 문단.\n\n셋째 문단.", "\n\n첫째\n \n둘째\n\u3000\n셋째\n\n"],
     ["첫 문단.\n둘째 문단.\n셋째 문단.", "하나\n\n둘"]),
    ("ko_format:bullets", {"num_bullets": 3},
     ["- 사과\n- 배\n- 감", "• 하나\n· 둘\n  ○ 셋\n**굵게**\n---"],
     ["- 사과\n- 배", "-사과\n-배\n-감", "* 하나\n* 둘\n* 셋\n* 넷"]),
    ("ko_keywords:include", {"keywords": ["사과", "배"]},
     ["사과를 먹고 배도 먹었다.", "\"사과\"와 (배)"],
     ["사과만 먹었다.", "감사과정을 마치고 배웠다 ... 사과"[:9]]),
    ("ko_keywords:exclude", {"forbidden_words": ["중독"]},
     ["스마트폰을 덜 쓰는 방법", "무중독 상태"], ["스마트폰 중독이 문제다", "중독은 위험해"]),
    ("ko_keywords:frequency", {"keyword": "바다", "frequency": 3, "relation": "at least"},
     ["바다가 좋다. 바다는 넓다. 겨울 바다!"], ["바다가 좋다. 밤바다와 바닷가."]),
    # English checks lm-eval counts with nltk's punkt (not downloadable here): ours
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"},
     ["Hello world. This is a test! Is it?", "첫째다. 둘째다. 셋째다."], ["Mr. Smith went to Washington. He said hi."]),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     ["The API and the CPU.", "U.S.A. and NASA"], ["Only one API here.", "API가 하나"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("instruction_id", "kwargs", "good", "bad"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_check_passes_and_fails(
    instruction_id: str, kwargs: dict[str, Any], good: list[str], bad: list[str]
) -> None:
    assert [followed(instruction_id, kwargs, r) for r in good] == [True] * len(good)
    assert [followed(instruction_id, kwargs, r) for r in bad] == [False] * len(bad)


def test_every_korean_check_has_cases() -> None:
    korean = {i for i in INSTRUCTIONS if i.startswith("ko_")}
    assert korean <= {c[0] for c in CASES}


def test_loose_accepts_a_preamble_and_asterisks_strict_does_not() -> None:
    doc = {
        "instruction_id_list": ["ko_style:speech_level", "detectable_format:json_format"],
        "kwargs": [{"level": "반말"}, {}],
    }
    response = '물론이죠! 여기 있습니다:\n{"답": "좋아"}'
    verdicts = follow(response, instructions_of(doc))
    assert verdicts.strict == (False, False)
    assert verdicts.loose == (True, True)  # without the first line, both hold
    assert "물론이죠" not in loose_variants(response)[1]
    bold = follow("**나는 학생이야.**", instructions_of({**doc, "kwargs": [{"level": "반말"}, {}]}))
    assert bold.ids == ("ko_style:speech_level", "detectable_format:json_format")


def test_blank_response_follows_nothing() -> None:
    doc = {"instruction_id_list": ["ko_keywords:exclude"], "kwargs": [{"forbidden_words": ["x"]}]}
    assert follow("  \n ", instructions_of(doc)).strict == (False,)
    assert follow("  \n ", instructions_of(doc)).loose == (False,)


def test_ifeval_rows_with_null_padding_and_csv_text_read() -> None:
    padded = {
        "instruction_id_list": ["ko_length:eojeol"],
        "kwargs": [{"num_eojeol": 3, "relation": "at least", "keywords": None, "language": None}],
    }
    assert followed("ko_length:eojeol", padded["kwargs"][0], "하나 둘 셋")
    as_text = {
        "instruction_id_list": '["punctuation:no_comma"]',
        "kwargs": "[{}]",
    }
    assert [i.id for i in instructions_of(as_text)] == ["punctuation:no_comma"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"instruction_id_list": ["ko_script:cyrillic"], "kwargs": [{}]}, "unknown instruction"),
        ({"instruction_id_list": ["ko_length:eojeol"], "kwargs": [{"num_eojeol": 0, "relation": "at least"}]}, "kwargs[0] of ko_length:eojeol: num_eojeol"),
        ({"instruction_id_list": ["ko_style:speech_level"], "kwargs": [{"level": "하오체"}]}, "level"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"extra": 1}]}, "extra"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, "2 entries for 1"),
        ({"instruction_id_list": [], "kwargs": []}, "empty"),
        ({"instruction_id_list": "not json", "kwargs": []}, "not a JSON list"),
        ({"instruction_id_list": ["length_constraints:nth_paragraph_first_word"], "kwargs": [{"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"}]}, "nth_paragraph"),
    ],
)  # fmt: skip
def test_bad_instructions_say_what_is_wrong(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        instructions_of(doc)
