"""IFEval's instructions (Zhou et al. 2023), with the verdicts lm-evaluation-harness 0.4.13's
``ifeval`` gives: the same counts, separators and comparisons, written here from what each
instruction promises (tests/evaluate/test_ifeval_parity.py holds the two side by side).

Where lm-eval reads a keyword, marker or splitter as a regular expression, these read it
as literal text, so a keyword such as "C++" is looked for rather than failing; the verdicts
agree for every argument without regex metacharacters (all of IFEval's). Two checks count
with other tools than lm-eval's, which needs nltk's downloadable punkt models:
``length_constraints:number_sentences`` (sentences as ``morphology.count_sentences``
splits them) and ``change_case:capital_word_frequency`` (whitespace-separated words).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, model_validator

from haechi.errors import MissingExtraError
from haechi.evaluate.instructions.base import Check, Count, Relation, Text, Words, compare
from haechi.evaluate.instructions.morphology import count_sentences

_WORD = re.compile(r"\w+")


def _occurrences(needle: str, text: str, *, whole_word: bool = False) -> int:
    """Non-overlapping case-insensitive occurrences of ``needle`` as literal text."""
    pattern = re.escape(needle)
    if whole_word:
        pattern = rf"\b{pattern}\b"
    return len(re.findall(pattern, text, flags=re.IGNORECASE))


@lru_cache(maxsize=1)
def _language_detector() -> Any:
    try:
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
    except ImportError:
        raise MissingExtraError("langdetect", "ko") from None
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)  # langdetect samples; a fixed seed makes a text's verdict repeatable
    return factory


def detected_language(text: str) -> str | None:
    """langdetect's ISO 639-1 code for ``text`` ("ko", "en", "zh-cn"), or None when it
    finds nothing to go by (no letters)."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _language_detector().create()
    detector.append(text)
    try:
        return str(detector.detect())
    except LangDetectException:
        return None


class ResponseLanguage(Check):
    """The whole response is in ``language`` (as langdetect sees it; a text it cannot
    judge, such as digits only, passes, as in IFEval)."""

    needs = ("langdetect",)

    language: Text

    def follows(self, response: str) -> bool:
        found = detected_language(response)
        return found is None or found == self.language


class NumberSentences(Check):
    """Fewer than / at least ``num_sentences`` sentences."""

    needs = ("kiwipiepy",)

    num_sentences: Count
    relation: Relation

    def follows(self, response: str) -> bool:
        return compare(count_sentences(response), self.relation, self.num_sentences)


class NumberWords(Check):
    """Fewer than / at least ``num_words`` words (runs of letters, digits and "_")."""

    num_words: Count
    relation: Relation

    def follows(self, response: str) -> bool:
        return compare(len(_WORD.findall(response)), self.relation, self.num_words)


class NumberParagraphs(Check):
    """Exactly ``num_paragraphs`` paragraphs separated by markdown dividers (``***``); an
    empty paragraph between two dividers fails, a divider at either end does not count."""

    num_paragraphs: Count

    def follows(self, response: str) -> bool:
        parts = re.split(r"\s?\*\*\*\s?", response)
        inner_empty = any(not p.strip() for p in parts[1:-1])
        counted = [p for p in parts if p.strip()]
        return not inner_empty and len(counted) == self.num_paragraphs


class NthParagraphFirstWord(Check):
    """Exactly ``num_paragraphs`` paragraphs separated by blank lines ("\\n\\n"), and
    paragraph ``nth_paragraph`` (counted in the split, empty pieces included) starts with
    ``first_word`` (case-insensitive; leading quotes and trailing punctuation dropped)."""

    num_paragraphs: Count
    nth_paragraph: Count
    first_word: Text

    @model_validator(mode="after")
    def _nth_within(self) -> NthParagraphFirstWord:
        if self.nth_paragraph > self.num_paragraphs:
            raise ValueError("nth_paragraph must not exceed num_paragraphs")
        return self

    def follows(self, response: str) -> bool:
        parts = response.split("\n\n")
        count = sum(1 for p in parts if p.strip())
        if self.nth_paragraph > count:
            return False
        paragraph = parts[self.nth_paragraph - 1].strip()
        if not paragraph:
            return False
        word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
        first = re.split(r"""[.,?!'"]""", word, maxsplit=1)[0].lower()
        return count == self.num_paragraphs and first == self.first_word.lower()


class Placeholders(Check):
    """At least ``num_placeholders`` placeholders in square brackets, such as [address]."""

    num_placeholders: Count

    def follows(self, response: str) -> bool:
        return len(re.findall(r"\[.*?\]", response)) >= self.num_placeholders


class Postscript(Check):
    """A postscript marked ``postscript_marker`` (P.S. or P.P.S, with optional spaces
    between the letters), in any case."""

    postscript_marker: Text

    def follows(self, response: str) -> bool:
        marker = self.postscript_marker.strip()
        text = response.lower()
        if marker == "P.P.S":
            return re.search(r"p\.\s?p\.\s?s", text) is not None
        if marker == "P.S.":
            return re.search(r"p\.\s?s\.", text) is not None
        return marker.lower() in text


class BulletList(Check):
    """Exactly ``num_bullets`` markdown bullets: lines starting with "* " (one asterisk)
    or "-"."""

    num_bullets: Count

    def follows(self, response: str) -> bool:
        stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
        dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
        return len(stars) + len(dashes) == self.num_bullets


CONSTRAINED_ANSWERS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


class ConstrainedResponse(Check):
    """Contains one of IFEval's fixed answers ("My answer is yes." / no. / maybe.)."""

    def follows(self, response: str) -> bool:
        return any(answer in response for answer in CONSTRAINED_ANSWERS)


class HighlightedSections(Check):
    """At least ``num_highlights`` non-empty markdown highlights on one line: each
    ``*text*`` counts, and each ``**text**`` counts once more."""

    num_highlights: Count

    def follows(self, response: str) -> bool:
        single = re.findall(r"\*[^\n\*]*\*", response)
        double = re.findall(r"\*\*[^\n\*]*\*\*", response)
        found = sum(1 for h in single if h.strip("*").strip())
        found += sum(1 for h in double if h[2:-2].strip())
        return found >= self.num_highlights


class Sections(Check):
    """At least ``num_sections`` sections, each begun by ``section_spliter`` and a number
    ("SECTION 1")."""

    section_spliter: Text
    num_sections: Count

    def follows(self, response: str) -> bool:
        marker = re.escape(self.section_spliter.strip())
        return len(re.split(rf"\s?{marker}\s?\d+\s?", response)) - 1 >= self.num_sections


class JsonFormat(Check):
    """The whole response is one JSON value, optionally inside a markdown code fence."""

    def follows(self, response: str) -> bool:
        text = response.strip()
        for fence in ("```json", "```Json", "```JSON", "```"):
            text = text.removeprefix(fence)
        text = text.removesuffix("```").strip()
        try:
            json.loads(text)
        except (ValueError, RecursionError):  # deep nesting in hostile output, too
            return False
        return True


class Title(Check):
    """A non-empty title in double angular brackets on one line, such as <<poem of joy>>."""

    def follows(self, response: str) -> bool:
        titles = re.findall(r"<<[^\n]+>>", response)
        return any(t.lstrip("<").rstrip(">").strip() for t in titles)


class TwoResponses(Check):
    """Two different responses separated by six asterisks (``******``)."""

    def follows(self, response: str) -> bool:
        parts = response.split("******")
        if any(not p.strip() for p in parts[1:-1]):
            return False
        answers = [p.strip() for p in parts if p.strip()]
        return len(answers) == 2 and answers[0] != answers[1]


class RepeatPrompt(Check):
    """Starts by repeating ``prompt_to_repeat`` (case-insensitive)."""

    prompt_to_repeat: Text

    def follows(self, response: str) -> bool:
        return response.strip().lower().startswith(self.prompt_to_repeat.strip().lower())


class EndPhrase(Check):
    """Ends with ``end_phrase`` (case-insensitive; surrounding double quotes ignored)."""

    end_phrase: Text

    def follows(self, response: str) -> bool:
        text = response.strip().strip('"').lower()
        return text.endswith(self.end_phrase.strip().lower())


class Quotation(Check):
    """The whole response is wrapped in double quotation marks."""

    def follows(self, response: str) -> bool:
        text = response.strip()
        return len(text) > 1 and text[0] == '"' and text[-1] == '"'


class IncludeKeywords(Check):
    """Every one of ``keywords`` appears (case-insensitive, anywhere, inside words too)."""

    keywords: Words

    def follows(self, response: str) -> bool:
        return all(_occurrences(k, response) for k in self.keywords)


class KeywordFrequency(Check):
    """``keyword`` appears fewer than / at least ``frequency`` times (case-insensitive)."""

    keyword: Text
    frequency: Count
    relation: Relation

    def follows(self, response: str) -> bool:
        found = _occurrences(self.keyword.strip(), response)
        return compare(found, self.relation, self.frequency)


class ForbiddenWords(Check):
    """None of ``forbidden_words`` appears as a whole word (case-insensitive)."""

    forbidden_words: Words

    def follows(self, response: str) -> bool:
        return not any(_occurrences(w, response, whole_word=True) for w in self.forbidden_words)


class LetterFrequency(Check):
    """The letter ``letter`` (either case) appears fewer than / at least ``let_frequency``
    times."""

    letter: Annotated[str, Field(pattern=r"^[A-Za-z]$")]
    let_frequency: Count
    let_relation: Relation

    def follows(self, response: str) -> bool:
        found = response.lower().count(self.letter.lower())
        return compare(found, self.let_relation, self.let_frequency)


def _english_in(response: str, cased: bool) -> bool:
    """``cased`` and English as langdetect sees it; a text it cannot judge passes on its
    case alone."""
    if not cased:
        return False
    found = detected_language(response)
    return found is None or found == "en"


class EnglishCapital(Check):
    """The whole response is English, in capital letters."""

    needs = ("langdetect",)

    def follows(self, response: str) -> bool:
        return _english_in(response, response.isupper())


class EnglishLowercase(Check):
    """The whole response is English, in lowercase letters."""

    needs = ("langdetect",)

    def follows(self, response: str) -> bool:
        return _english_in(response, response.islower())


class CapitalWordFrequency(Check):
    """Words in capital letters appear fewer than / at least ``capital_frequency`` times
    (words: whitespace-separated, leading and trailing punctuation dropped)."""

    capital_frequency: Count
    capital_relation: Relation

    def follows(self, response: str) -> bool:
        words = (w.strip(".,;:!?()[]{}\"'") for w in response.split())
        return compare(_capitals(words), self.capital_relation, self.capital_frequency)


def _capitals(words: Iterable[str]) -> int:
    return sum(1 for w in words if w.isupper())


class NoComma(Check):
    """No comma (",") anywhere."""

    def follows(self, response: str) -> bool:
        return "," not in response
