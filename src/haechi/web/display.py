"""How item data reads on the review pages: attack-chain values as readable JSON (Korean
as Korean, not ``\\uXXXX``), chain keys and harm categories in the page's language,
detector verdicts as lines that say what each detector decided (``review.verdicts``), and
model text cut at ``MAX_SHOWN_CHARS``.

Why the cut: chromium's layout time grows faster than the text (two boxes side by side:
0.3 s at 20,000 characters each, 0.85 s at 40,000, 91 s at 240,000) when the first font
lacks Hangul and every word falls back to another font. The stylesheet names Korean fonts
first (240,000 characters: about 1 s); the cut bounds what other scripts and fonts cost.
An answer within usual generation limits is far shorter.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2

from haechi.redteam.taxonomy import KOREAN_NAMES
from haechi.review.verdicts import verdict_lines
from haechi.web.i18n import Language, translate


def chain_text(value: Any) -> str:
    """A chain value as text: strings as they are, anything else as indented JSON with
    every character as itself (the template escapes it)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


MAX_SHOWN_CHARS = 50_000  # characters of one text a page lays out


def shown_text(text: str) -> tuple[str, int]:
    """The part of ``text`` a page shows and how many characters it leaves out."""
    if len(text) <= MAX_SHOWN_CHARS:
        return text, 0
    return text[:MAX_SHOWN_CHARS], len(text) - MAX_SHOWN_CHARS


def chain_key(key: str, language: Language) -> str:
    """A chain key's name (``converters`` → 변환기); keys we do not know as they are."""
    name = translate(f"chain_{key}", language)
    return key if name == f"chain_{key}" else name


def category_name(key: str, language: Language) -> str:
    """A harm category's Korean name in Korean pages; the key otherwise, or when it is
    not one of the taxonomy's."""
    return KOREAN_NAMES.get(key, key) if language == "ko" else key


def register(environment: jinja2.Environment) -> None:
    """Make these available to the templates."""
    environment.filters["chain_text"] = chain_text
    environment.globals.update(
        chain_key=chain_key,
        category_name=category_name,
        shown_text=shown_text,
        verdict_lines=verdict_lines,
    )
