"""Instructions that make sense in Korean and that IFEval has no counterpart for: which
scripts a response may use, its speech level (존댓말 or 반말) throughout, lengths in
characters (글자) or 어절, sentences, paragraphs and bullets as Korean text lays them
out, and keywords that may carry a particle (사과 matches 사과를).

Text is NFC-normalised before every check, so a syllable is one character however the
model's tokenizer spelled it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from haechi.evaluate.instructions.base import Check, Count, Relation, Text, Words, compare
from haechi.evaluate.instructions.morphology import count_sentences, speech_levels


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _is_hangul(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("HANGUL", "HALFWIDTH HANGUL"))


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("LATIN", "FULLWIDTH LATIN"))


def _is_hanja(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"))


def _letters(text: str) -> list[str]:
    """The letters of ``text`` (Unicode category L): not digits, punctuation, symbols or
    emoji."""
    return [c for c in _nfc(text) if unicodedata.category(c).startswith("L")]


class HangulOnly(Check):
    """Every letter is Hangul (digits, punctuation, symbols and emoji may appear), and
    there is at least one."""

    def follows(self, response: str) -> bool:
        letters = _letters(response)
        return bool(letters) and all(_is_hangul(c) for c in letters)


class NoLatin(Check):
    """No Latin letter (English words, romanisation), full-width ones included."""

    def follows(self, response: str) -> bool:
        return not any(_is_latin(c) for c in _letters(response))


class NoHanja(Check):
    """No Hanja (CJK ideograph, compatibility ideographs included)."""

    def follows(self, response: str) -> bool:
        return not any(_is_hanja(c) for c in _letters(response))


class SpeechLevel(Check):
    """Every sentence that shows a speech level shows ``level``, and at least one does:
    ``존댓말`` is 합쇼체 or 해요체, ``합쇼체`` and ``해요체`` only that one, ``반말`` neither
    (levels as ``morphology.speech_level`` reads them)."""

    needs = ("kiwipiepy",)

    level: Literal["존댓말", "합쇼체", "해요체", "반말"]

    def follows(self, response: str) -> bool:
        allowed = ("합쇼체", "해요체") if self.level == "존댓말" else (self.level,)
        levels = speech_levels(_nfc(response))
        return bool(levels) and all(level in allowed for level in levels)


# Quotation marks a response may close with after the phrase (“…”, 「…」 and ASCII).
_CLOSING_QUOTES = "\"'“”‘’「」『』"


class EndPhrase(Check):
    """The response ends with ``end_phrase``, exactly (Latin letters in either case),
    with only whitespace or closing quotation marks after it."""

    end_phrase: Text

    def follows(self, response: str) -> bool:
        text = _nfc(response).strip().rstrip(_CLOSING_QUOTES).rstrip()
        return text.casefold().endswith(_nfc(self.end_phrase).strip().casefold())


class Characters(Check):
    """Fewer than / at least ``num_chars`` characters (글자수, NFC), counting whitespace
    unless ``spaces`` is false ("공백 제외")."""

    num_chars: Count
    relation: Relation
    spaces: bool = True

    def follows(self, response: str) -> bool:
        text = _nfc(response).strip()
        count = len(text) if self.spaces else sum(1 for c in text if not c.isspace())
        return compare(count, self.relation, self.num_chars)


def eojeol(text: str) -> list[str]:
    """The 어절 of ``text``: units between spaces that hold a letter or a digit (a lone
    bullet mark or dash is not one)."""
    return [w for w in _nfc(text).split() if any(c.isalnum() for c in w)]


class Eojeol(Check):
    """Fewer than / at least ``num_eojeol`` 어절 (Korean's unit of spacing, which is what
    a "word" count means in Korean)."""

    num_eojeol: Count
    relation: Relation

    def follows(self, response: str) -> bool:
        return compare(len(eojeol(response)), self.relation, self.num_eojeol)


class Sentences(Check):
    """Fewer than / at least ``num_sentences`` sentences as Kiwi splits them (a sentence
    may end without punctuation: "섬이에요 바다가 맑아요" is two)."""

    needs = ("kiwipiepy",)

    num_sentences: Count
    relation: Relation

    def follows(self, response: str) -> bool:
        return compare(count_sentences(_nfc(response)), self.relation, self.num_sentences)


class Paragraphs(Check):
    """Exactly ``num_paragraphs`` paragraphs separated by blank lines."""

    num_paragraphs: Count

    def follows(self, response: str) -> bool:
        parts = re.split(r"\n[ \t\u3000]*\n", _nfc(response).strip())
        return sum(1 for p in parts if p.strip()) == self.num_paragraphs


# Bullet marks Korean documents use, each followed by a space: - * • · ○ ● ■ □ ▪ ◦ ※
_BULLET = re.compile(r"^[ \t\u3000]*[-*•·○●■□▪◦※][ \t\u3000]+\S", flags=re.MULTILINE)


class Bullets(Check):
    """Exactly ``num_bullets`` bullet lines: a mark (- * • · ○ ● ■ □ ▪ ◦ ※) then a space
    and text (so **굵게** and a --- rule are not bullets)."""

    num_bullets: Count

    def follows(self, response: str) -> bool:
        return len(_BULLET.findall(_nfc(response))) == self.num_bullets


def keyword_count(keyword: str, text: str) -> int:
    """Occurrences of ``keyword`` that begin an 어절 or follow punctuation, whatever
    follows it: 조사 and 어미 attach to the word (사과 is in 사과를, 사과는, "사과"; not in
    감사과정). Latin letters match in either case."""
    pattern = r"(?<!\w)" + re.escape(_nfc(keyword).strip())
    return len(re.findall(pattern, _nfc(text), flags=re.IGNORECASE))


class IncludeKeywords(Check):
    """Every one of ``keywords`` appears (as ``keyword_count`` finds them)."""

    keywords: Words

    def follows(self, response: str) -> bool:
        return all(keyword_count(k, response) for k in self.keywords)


class ExcludeKeywords(Check):
    """None of ``forbidden_words`` appears (as ``keyword_count`` finds them)."""

    forbidden_words: Words

    def follows(self, response: str) -> bool:
        return not any(keyword_count(k, response) for k in self.forbidden_words)


class KeywordFrequency(Check):
    """``keyword`` appears fewer than / at least ``frequency`` times."""

    keyword: Text
    frequency: Count
    relation: Relation

    def follows(self, response: str) -> bool:
        return compare(keyword_count(self.keyword, response), self.relation, self.frequency)
