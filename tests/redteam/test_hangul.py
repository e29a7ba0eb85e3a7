"""Hangul jamo decomposition and recomposition, and Revised Romanization, against goldens."""

from __future__ import annotations

import random

import pytest

from haechi.redteam.hangul import (
    decompose_jamo,
    has_hangul,
    is_syllable,
    recompose_jamo,
    romanize,
    syllable_letters,
)

ALL_SYLLABLES = "".join(chr(c) for c in range(0xAC00, 0xD7A4))


def test_there_are_11172_syllables_in_three_or_fewer_letters() -> None:
    assert len(ALL_SYLLABLES) == 11172
    assert all(is_syllable(s) for s in ALL_SYLLABLES)
    assert not is_syllable("ㄱ") and not is_syllable("a") and not is_syllable("가나")
    lengths = [len(decompose_jamo(s)) for s in ALL_SYLLABLES]
    # 19 × 21 syllables without a final, the other 27 finals each with all 399 pairs
    assert lengths.count(2) == 399 and lengths.count(3) == 399 * 27


@pytest.mark.parametrize("split", [False, True])
def test_every_syllable_round_trips_alone_and_as_one_string(split: bool) -> None:
    for syllable in ALL_SYLLABLES:
        letters = decompose_jamo(syllable, split=split)
        assert all(0x3131 <= ord(c) <= 0x3163 for c in letters), syllable
        assert recompose_jamo(letters) == syllable, (syllable, letters)
    whole = decompose_jamo(ALL_SYLLABLES, split=split)
    assert recompose_jamo(whole) == ALL_SYLLABLES
    # and backwards, so every final is followed by every kind of next initial
    backwards = ALL_SYLLABLES[::-1]
    assert recompose_jamo(decompose_jamo(backwards, split=split)) == backwards


DECOMPOSED = [
    ("한글", "ㅎㅏㄴㄱㅡㄹ", "ㅎㅏㄴㄱㅡㄹ"),
    ("닭", "ㄷㅏㄺ", "ㄷㅏㄹㄱ"),
    ("값어치", "ㄱㅏㅄㅇㅓㅊㅣ", "ㄱㅏㅂㅅㅇㅓㅊㅣ"),
    ("과자", "ㄱㅘㅈㅏ", "ㄱㅗㅏㅈㅏ"),
    ("의사", "ㅇㅢㅅㅏ", "ㅇㅡㅣㅅㅏ"),
    ("뷁", "ㅂㅞㄺ", "ㅂㅜㅔㄹㄱ"),
    ("까닭", "ㄲㅏㄷㅏㄺ", "ㄲㅏㄷㅏㄹㄱ"),  # double consonants are single keys
    ("있었다", "ㅇㅣㅆㅇㅓㅆㄷㅏ", "ㅇㅣㅆㅇㅓㅆㄷㅏ"),
    ("Hello, 세계! 123", "Hello, ㅅㅔㄱㅖ! 123", "Hello, ㅅㅔㄱㅖ! 123"),
]


@pytest.mark.parametrize(("text", "kept", "split"), DECOMPOSED)
def test_decomposition_goldens(text: str, kept: str, split: str) -> None:
    assert decompose_jamo(text) == kept
    assert decompose_jamo(text, split=True) == split
    assert recompose_jamo(kept) == text and recompose_jamo(split) == text


def test_syllable_letters() -> None:
    assert syllable_letters("가") == ("ㄱ", "ㅏ", "")
    assert syllable_letters("힣") == ("ㅎ", "ㅣ", "ㅎ")
    # ㅃ is initial 8, ㅞ vowel 15, ㄻ final 10
    assert syllable_letters(chr(0xAC00 + (8 * 21 + 15) * 28 + 10)) == ("ㅃ", "ㅞ", "ㄻ")
    with pytest.raises(ValueError, match="not a precomposed"):
        syllable_letters("a")


@pytest.mark.parametrize(
    ("letters", "expected"),
    [
        ("ㄱㅏㄱㅅㅏ", "각사"),  # the consonant before a vowel starts the next syllable
        ("ㄱㅏㄱㅅㅇㅏ", "갃아"),  # both before ㅇ: one compound final
        ("ㄱㅏㄳㅇㅏ", "갃아"),
        ("ㄱㅏㄴㅇㅏ", "간아"),
        ("ㄱㅏㄴㅏ", "가나"),
        ("ㅋㅋㅋ", "ㅋㅋㅋ"),  # letters that make no syllable stay
        ("ㄱㅅ", "ㄱㅅ"),
        ("ㅏㅏ", "ㅏㅏ"),
        ("ㄸㅏㄸ", "따ㄸ"),  # ㄸ is never a final
        ("ㄱㅏㄳㄱ", "갃ㄱ"),
        ("ㅎㅏ ㄴㅏ", "하 나"),  # a space ends a syllable
        ("ㅎㅏㄴ1ㄱㅡㄹ", "한1글"),
        ("ㄱㅗㅏㄹㅇㅣ", "괄이"),
        ("ㄱㅗㅏㅏ", "과ㅏ"),
    ],
)
def test_recomposition_of_letter_runs(letters: str, expected: str) -> None:
    assert recompose_jamo(letters) == expected


def test_mixed_text_round_trips() -> None:
    rng = random.Random(20240611)
    alphabet = (
        [chr(rng.randrange(0xAC00, 0xD7A4)) for _ in range(300)]
        + list("abcXYZ019 .,!?'\"()[]\n\t-")
        + ["é", "漢", "字", "😀", "\u200b", "\u1100"]  # incl. one conjoining jamo, kept
    )
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        for split in (False, True):
            assert recompose_jamo(decompose_jamo(text, split=split)) == text, text


def test_loose_letters_next_to_syllables_are_the_documented_exception() -> None:
    assert recompose_jamo(decompose_jamo("가ㅋ")) == "갘"
    assert recompose_jamo(decompose_jamo("ㅋㅋ 가")) == "ㅋㅋ 가"


def test_has_hangul() -> None:
    assert has_hangul("abc 한") and not has_hangul("abc ㅎ") and not has_hangul("")


# Checked by hand against the 2000 Revised Romanization rules and their examples.
ROMANIZED = {
    # plain letters
    "한글": "hangeul",
    "서울": "seoul",
    "부산": "busan",
    "대한민국": "daehanminguk",
    "김치": "gimchi",
    "제주": "jeju",
    "인천": "incheon",
    "광주": "gwangju",
    "경기": "gyeonggi",
    "울산": "ulsan",
    "라면": "ramyeon",
    "희망": "huimang",  # ㅢ is ui even when said as i
    "의사": "uisa",
    "뷁": "bwek",
    "여덟": "yeodeol",
    "닭": "dak",
    "값": "gap",
    "까치": "kkachi",
    "짜장": "jjajang",
    "빵": "ppang",
    "떡": "tteok",
    # tensification is not written
    "압구정": "apgujeong",
    "낙동강": "nakdonggang",
    "합정": "hapjeong",
    "팔당": "paldang",
    "샛별": "saetbyeol",
    # linking
    "한국어": "hangugeo",
    "서울에": "seoure",
    "밖에": "bakke",
    "있어": "isseo",
    "강아지": "gangaji",
    "닭이": "dalgi",
    "앉아": "anja",
    "읽어": "ilgeo",
    "값이": "gapsi",
    "없어": "eopseo",
    "넓어": "neolbeo",
    "좋아": "joa",
    "많이": "mani",
    "싫어": "sireo",
    # nasalisation
    "합니다": "hamnida",
    "감사합니다": "gamsahamnida",
    "백마": "baengma",
    "국물": "gungmul",
    "읽는": "ingneun",
    "없는": "eomneun",
    "놓는": "nonneun",
    # ㄹ
    "신라": "silla",
    "전라": "jeolla",
    "대관령": "daegwallyeong",
    "별내": "byeollae",
    "설날": "seollal",
    "발리": "balli",
    "싫네": "sille",
    "종로": "jongno",
    "강릉": "gangneung",
    "왕십리": "wangsimni",
    "독립": "dongnip",
    "협력": "hyeomnyeok",
    "속리산": "songnisan",
    "주민등록번호": "jumindeungnokbeonho",
    # palatalisation
    "같이": "gachi",
    "굳이": "guji",
    "해돋이": "haedoji",
    "핥이": "halchi",
    "굳히다": "guchida",
    # aspiration after ㅎ; none before it (the noun rule)
    "좋고": "joko",
    "놓다": "nota",
    "낳지": "nachi",
    "많다": "manta",
    "싫다": "silta",
    "좋습니다": "josseumnida",
    "묵호": "mukho",
    "집현전": "jiphyeonjeon",
    "백화점": "baekhwajeom",
}


@pytest.mark.parametrize(("word", "expected"), list(ROMANIZED.items()))
def test_romanization_goldens(word: str, expected: str) -> None:
    assert romanize(word) == expected


def test_romanization_keeps_other_text_and_stops_at_word_boundaries() -> None:
    assert romanize("Hello, 세계! 123") == "Hello, segye! 123"
    assert romanize("같이 가요") == "gachi gayo"
    assert romanize("같 이") == "gat i"  # no linking across a space
    assert romanize("한국-어") == "hanguk-eo"
    assert romanize("ㅋㅋ 좋아") == "ㅋㅋ joa"
    assert romanize("") == ""


def test_documented_exceptions_stay_as_documented() -> None:
    """The rules the docstring says are not applied give what it says they give."""
    assert romanize("잡혀") == "japhyeo"  # the standard: japyeo (aspiration in verbs)
    assert romanize("신문로") == "sinmullo"  # the standard: sinmunno
    assert romanize("솜이불") == "somibul"  # ㄴ-insertion: somnibul
    assert romanize("밟다") == "balda"  # ㄼ exception: bapda
