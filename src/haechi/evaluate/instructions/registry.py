"""Every verifiable instruction, declared once: its id (IFEval's ``group:name``) and the
check that decides it, whose fields are the keyword arguments a document gives it."""

from __future__ import annotations

from haechi.evaluate.instructions import english as en
from haechi.evaluate.instructions import korean as ko
from haechi.evaluate.instructions.base import Check

INSTRUCTIONS: dict[str, type[Check]] = {
    # IFEval's, with lm-eval 0.4.13's verdicts (english.py says where the counting differs)
    "keywords:existence": en.IncludeKeywords,
    "keywords:frequency": en.KeywordFrequency,
    "keywords:forbidden_words": en.ForbiddenWords,
    "keywords:letter_frequency": en.LetterFrequency,
    "language:response_language": en.ResponseLanguage,
    "length_constraints:number_sentences": en.NumberSentences,
    "length_constraints:number_paragraphs": en.NumberParagraphs,
    "length_constraints:number_words": en.NumberWords,
    "length_constraints:nth_paragraph_first_word": en.NthParagraphFirstWord,
    "detectable_content:number_placeholders": en.Placeholders,
    "detectable_content:postscript": en.Postscript,
    "detectable_format:number_bullet_lists": en.BulletList,
    "detectable_format:constrained_response": en.ConstrainedResponse,
    "detectable_format:number_highlighted_sections": en.HighlightedSections,
    "detectable_format:multiple_sections": en.Sections,
    "detectable_format:json_format": en.JsonFormat,
    "detectable_format:title": en.Title,
    "combination:two_responses": en.TwoResponses,
    "combination:repeat_prompt": en.RepeatPrompt,
    "startend:end_checker": en.EndPhrase,
    "startend:quotation": en.Quotation,
    "change_case:capital_word_frequency": en.CapitalWordFrequency,
    "change_case:english_capital": en.EnglishCapital,
    "change_case:english_lowercase": en.EnglishLowercase,
    "punctuation:no_comma": en.NoComma,
    # Korean (korean.py)
    "ko_script:hangul_only": ko.HangulOnly,
    "ko_script:no_latin": ko.NoLatin,
    "ko_script:no_hanja": ko.NoHanja,
    "ko_style:speech_level": ko.SpeechLevel,
    "ko_startend:end_phrase": ko.EndPhrase,
    "ko_length:characters": ko.Characters,
    "ko_length:eojeol": ko.Eojeol,
    "ko_length:sentences": ko.Sentences,
    "ko_format:paragraphs": ko.Paragraphs,
    "ko_format:bullets": ko.Bullets,
    "ko_keywords:include": ko.IncludeKeywords,
    "ko_keywords:exclude": ko.ExcludeKeywords,
    "ko_keywords:frequency": ko.KeywordFrequency,
}
