"""Korean sentences and speech levels through Kiwi (``kiwipiepy``, extra ``ko``; its model
ships as a package, so nothing is downloaded).

A sentence's speech level is read from its last sentence-final ending (Kiwi's tag ``EF``):
합쇼체 for -(스)ㅂ니다, -(스)ㅂ니까, -(으)십시오, -(으)ㅂ시다 and -소서; 해요체 for an
ending in -요 (어요, 세요, 네요, 군요, 는데요, ...) or -죠, or a sentence closed by the
particle 요 (저요?, 여기요.); 반말 for any other ending (-다, -어, -야, -자, -니, -지, ...).
A sentence without one (a heading, a list item, an interjection) and the note style -음
show no level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from haechi.errors import MissingExtraError

SpeechLevel = Literal["합쇼체", "해요체", "반말"]

# Kiwi writes the ㅂ of -ㅂ니다 as the jamo final consonant ᆸ (U+11B8): match on the tail.
_HAPSYO = ("니다", "니까", "시오", "ᆸ시다", "소서")
_NOTE_STYLE = ("음", "ᆷ")  # 개조식 -음/-ㅁ: a note, not a sentence spoken to anyone

# English sentences Kiwi keeps together: a stop, spaces, then a capital letter, except
# after a title or a single initial ("Mr. Kim", "J. R. R. Tolkien").
_LATIN_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z])")
_ABBREVIATION = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|vs|etc|e\.g|i\.e)|\b[A-Z])\.$")


@dataclass(frozen=True)
class Morpheme:
    form: str
    tag: str


@dataclass(frozen=True)
class Sentence:
    text: str
    morphemes: tuple[Morpheme, ...]


@lru_cache(maxsize=1)
def _kiwi() -> Any:
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        raise MissingExtraError("kiwipiepy", "ko") from None
    # Endings come from the model itself; the proper-noun and typo dictionaries only add
    # load time (about 4 s instead of 12 on the development machine).
    return Kiwi(num_workers=1, load_default_dict=False, load_multi_dict=False, load_typo_dict=False)


@lru_cache(maxsize=4096)  # loose scoring asks about the same text several times
def sentences(text: str) -> tuple[Sentence, ...]:
    """``text`` split into sentences by Kiwi, each with its morphemes."""
    if not text.strip():
        return ()
    found = _kiwi().split_into_sents(text, return_tokens=True)
    return tuple(Sentence(s.text, tuple(Morpheme(t.form, t.tag) for t in s.tokens)) for s in found)


def count_sentences(text: str) -> int:
    """Sentences in ``text``: Kiwi's, with English ones Kiwi leaves joined split at a stop
    followed by a capital letter."""
    return sum(len(_split_latin(s.text)) for s in sentences(text))


def _split_latin(text: str) -> list[str]:
    parts, start = [], 0
    for match in _LATIN_BREAK.finditer(text):
        if _ABBREVIATION.search(text[start : match.start()].rstrip("\"')]")):
            continue
        parts.append(text[start : match.start()])
        start = match.end()
    return [*parts, text[start:]]


def speech_level(sentence: Sentence) -> SpeechLevel | None:
    """The level the sentence's last final ending shows, or None (see the module doc)."""
    last = None
    for i, morpheme in enumerate(sentence.morphemes):
        if morpheme.tag == "EF":
            last = i
    words = [m for m in sentence.morphemes if not m.tag.startswith("S")]
    if words and words[-1].tag == "JX" and words[-1].form == "요":
        return (
            "해요체"  # 요 closing a sentence without an ending (저요?) or after one (먹어/EF 요/JX)
        )
    if last is None:
        return None
    form = sentence.morphemes[last].form
    if form.endswith(_HAPSYO):
        return "합쇼체"
    if form.endswith(("요", "죠")):
        return "해요체"
    if form in _NOTE_STYLE:
        return None
    return "반말"


def speech_levels(text: str) -> list[SpeechLevel]:
    """The level of every sentence of ``text`` that shows one, in order."""
    return [level for s in sentences(text) if (level := speech_level(s)) is not None]
