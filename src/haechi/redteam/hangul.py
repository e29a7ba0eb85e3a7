"""Hangul arithmetic: jamo decomposition and recomposition, Revised Romanization.

A precomposed syllable (U+AC00..U+D7A3) is ``0xAC00 + (initial * 21 + vowel) * 28 + final``
with 19 initials, 21 vowels and 28 finals (index 0: none). Decomposition writes the
letters as Hangul Compatibility Jamo (U+3131..U+3163), the letters people type and
read (한글 → ㅎㅏㄴㄱㅡㄹ), not the conjoining jamo of U+1100 that renderers fuse back
into syllables.

Compound letters. By default a compound final (ㄳ ㄵ ㄶ ㄺ ㄻ ㄼ ㄽ ㄾ ㄿ ㅀ ㅄ) and a
compound vowel (ㅘ ㅙ ㅚ ㅝ ㅞ ㅟ ㅢ) stay one letter, as in Unicode's own canonical
decomposition: every syllable becomes exactly two or three letters. With ``split=True``
they are written as their parts (ㄺ → ㄹㄱ, ㅘ → ㅗㅏ), which is how they are typed on
the standard two-set keyboard; the double consonants ㄲ ㄸ ㅃ ㅆ ㅉ are single keys and
stay whole. ``recompose_jamo`` reads both forms.

Round trip. ``recompose_jamo(decompose_jamo(t)) == t`` for every text ``t`` without
compatibility jamo of its own (U+3131..U+318E); text that already has loose letters next
to syllables (가ㅋ) is ambiguous once decomposed (ㄱㅏㅋ reads as 갘). Conjoining jamo
(U+1100..U+11FF, NFD text) are left alone: NFC-normalise first.
"""

from __future__ import annotations

SYLLABLE_FIRST = 0xAC00
SYLLABLE_LAST = 0xD7A3
N_VOWELS = 21
N_FINALS = 28

INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
# index 0 is "no final"
FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")

COMPOUND_FINALS = {
    "ㄳ": "ㄱㅅ",
    "ㄵ": "ㄴㅈ",
    "ㄶ": "ㄴㅎ",
    "ㄺ": "ㄹㄱ",
    "ㄻ": "ㄹㅁ",
    "ㄼ": "ㄹㅂ",
    "ㄽ": "ㄹㅅ",
    "ㄾ": "ㄹㅌ",
    "ㄿ": "ㄹㅍ",
    "ㅀ": "ㄹㅎ",
    "ㅄ": "ㅂㅅ",
}
COMPOUND_VOWELS = {
    "ㅘ": "ㅗㅏ",
    "ㅙ": "ㅗㅐ",
    "ㅚ": "ㅗㅣ",
    "ㅝ": "ㅜㅓ",
    "ㅞ": "ㅜㅔ",
    "ㅟ": "ㅜㅣ",
    "ㅢ": "ㅡㅣ",
}
_JOIN_FINALS = {parts: whole for whole, parts in COMPOUND_FINALS.items()}
_JOIN_VOWELS = {parts: whole for whole, parts in COMPOUND_VOWELS.items()}
_INITIAL_INDEX = {ch: i for i, ch in enumerate(INITIALS)}
_VOWEL_INDEX = {ch: i for i, ch in enumerate(VOWELS)}
_FINAL_INDEX = {ch: i for i, ch in enumerate(FINALS) if ch}


def is_syllable(ch: str) -> bool:
    """Whether ``ch`` is one precomposed Hangul syllable (가..힣)."""
    return len(ch) == 1 and SYLLABLE_FIRST <= ord(ch) <= SYLLABLE_LAST


def has_hangul(text: str) -> bool:
    """Whether ``text`` holds at least one Hangul syllable."""
    return any(is_syllable(ch) for ch in text)


def syllable_letters(ch: str) -> tuple[str, str, str]:
    """The (initial, vowel, final) compatibility letters of one syllable; final may be ""."""
    index = ord(ch) - SYLLABLE_FIRST
    if not 0 <= index <= SYLLABLE_LAST - SYLLABLE_FIRST:
        raise ValueError(f"{ch!r} is not a precomposed Hangul syllable")
    initial, rest = divmod(index, N_VOWELS * N_FINALS)
    vowel, final = divmod(rest, N_FINALS)
    return INITIALS[initial], VOWELS[vowel], FINALS[final]


def decompose_jamo(text: str, *, split: bool = False) -> str:
    """Write every Hangul syllable of ``text`` as its letters; everything else is kept.

    ``split`` also writes compound finals and vowels as their parts (see the module doc).
    """
    out: list[str] = []
    for ch in text:
        if not is_syllable(ch):
            out.append(ch)
            continue
        initial, vowel, final = syllable_letters(ch)
        if split:
            vowel = COMPOUND_VOWELS.get(vowel, vowel)
            final = COMPOUND_FINALS.get(final, final)
        out.append(initial + vowel + final)
    return "".join(out)


def _syllable(initial: str, vowel: str, final: str) -> str:
    index = (_INITIAL_INDEX[initial] * N_VOWELS + _VOWEL_INDEX[vowel]) * N_FINALS
    return chr(SYLLABLE_FIRST + index + (_FINAL_INDEX[final] if final else 0))


def recompose_jamo(text: str) -> str:
    """Join runs of compatibility letters back into syllables; everything else is kept.

    Reads both letter forms of ``decompose_jamo``. A syllable starts at an initial
    followed by a vowel (two vowels that make a compound vowel join); the consonants
    after it are its final unless the last of them starts the next syllable, i.e. is
    followed by a vowel. Letters that fit no syllable (ㅋㅋ, a lone ㅏ) stay as they are.
    """
    out: list[str] = []
    i, n = 0, len(text)

    def vowel_at(j: int) -> bool:
        return j < n and text[j] in _VOWEL_INDEX

    def starts_syllable(j: int) -> bool:
        return j < n and text[j] in _INITIAL_INDEX and vowel_at(j + 1)

    while i < n:
        if not starts_syllable(i):
            out.append(text[i])
            i += 1
            continue
        initial, vowel = text[i], text[i + 1]
        i += 2
        if vowel_at(i) and vowel + text[i] in _JOIN_VOWELS:
            vowel = _JOIN_VOWELS[vowel + text[i]]
            i += 1
        final = ""
        if i < n and text[i] in _FINAL_INDEX and not starts_syllable(i):
            pair = text[i : i + 2]
            if pair in _JOIN_FINALS and not starts_syllable(i + 1):
                final = _JOIN_FINALS[pair]
                i += 2
            else:
                final = text[i]
                i += 1
        out.append(_syllable(initial, vowel, final))
    return "".join(out)


# --- Revised Romanization of Korean (Ministry of Culture and Tourism, 2000) -------------

_ROMAN_INITIAL = {
    "ㄱ": "g", "ㄲ": "kk", "ㄴ": "n", "ㄷ": "d", "ㄸ": "tt", "ㄹ": "r", "ㅁ": "m",
    "ㅂ": "b", "ㅃ": "pp", "ㅅ": "s", "ㅆ": "ss", "ㅇ": "", "ㅈ": "j", "ㅉ": "jj",
    "ㅊ": "ch", "ㅋ": "k", "ㅌ": "t", "ㅍ": "p", "ㅎ": "h",
}  # fmt: skip
_ROMAN_VOWEL = {
    "ㅏ": "a", "ㅐ": "ae", "ㅑ": "ya", "ㅒ": "yae", "ㅓ": "eo", "ㅔ": "e", "ㅕ": "yeo",
    "ㅖ": "ye", "ㅗ": "o", "ㅘ": "wa", "ㅙ": "wae", "ㅚ": "oe", "ㅛ": "yo", "ㅜ": "u",
    "ㅝ": "wo", "ㅞ": "we", "ㅟ": "wi", "ㅠ": "yu", "ㅡ": "eu", "ㅢ": "ui", "ㅣ": "i",
}  # fmt: skip
# The seven sounds a final can have before a consonant or at the end of a word.
_FINAL_SOUND = {
    **dict.fromkeys("ㄱㄲㅋㄳㄺ", "k"),
    **dict.fromkeys("ㄴㄵㄶ", "n"),
    **dict.fromkeys("ㄷㅅㅆㅈㅊㅌㅎ", "t"),
    **dict.fromkeys("ㄹㄼㄽㄾㅀ", "l"),
    **dict.fromkeys("ㅁㄻ", "m"),
    **dict.fromkeys("ㅂㅍㅄㄿ", "p"),
    "ㅇ": "ng",
}
_NASAL = {"k": "ng", "t": "n", "p": "m"}
_ASPIRATED = {"ㄱ": "k", "ㄷ": "t", "ㅈ": "ch"}
_PALATAL = {"ㄷ": "j", "ㅌ": "ch"}


def romanize(text: str) -> str:
    """Romanize the Hangul in ``text`` (lower case); everything else is kept as it is.

    Sound changes are applied within a word (a run of syllables), never across spaces
    or punctuation, as the standard prescribes. Applied:

    - linking: a final moves onto a following ㅇ (한국어 hangugeo, 있어 isseo); of a
      compound final only the second part moves (닭이 dalgi); ㅎ before ㅇ is silent
      (좋아 joa, 많이 mani);
    - nasalisation: k/t/p before ㄴ or ㅁ become ng/n/m (합니다 hamnida, 백마 baengma);
    - ㄹ: ㄴ+ㄹ, ㄹ+ㄴ and ㄹ+ㄹ are ll (신라 silla, 별내 byeollae); after any other final
      ㄹ is n, and k/t/p before it nasalise (종로 jongno, 독립 dongnip);
    - palatalisation: ㄷ/ㅌ before 이 are j/ch (굳이 guji, 같이 gachi), ㄷ+히 is chi;
    - aspiration after ㅎ: ㅎ+ㄱ/ㄷ/ㅈ are k/t/ch (좋고 joko), ㅎ+ㅅ is ss.

    Not applied: tensification (the standard does not write it: 압구정 apgujeong);
    aspiration of ㄱ/ㄷ/ㅂ before ㅎ, which the standard writes only outside nouns and
    which needs a part-of-speech tagger (we follow the noun rule: 묵호 mukho, 잡혀 japhyeo
    rather than japyeo); ㄴ-insertion (솜이불 somibul, not somnibul); ㄴ+ㄹ read as nn in
    some compounds (신문로 sinmullo, not sinmunno); the ㄼ→p and ㄺ→l exceptions (밟다
    balda); word-internal boundaries in compounds (맛없다 maseopda). No hyphens,
    capitals or name-specific rules. Loose compatibility letters (ㅋㅋ) are kept as they are.
    """
    out: list[str] = []
    word: list[str] = []
    for ch in text:
        if is_syllable(ch):
            word.append(ch)
            continue
        if word:
            out.append(_romanize_word(word))
            word = []
        out.append(ch)
    if word:
        out.append(_romanize_word(word))
    return "".join(out)


def _romanize_word(syllables: list[str]) -> str:
    letters = [syllable_letters(s) for s in syllables]
    heads = [_ROMAN_INITIAL[initial] for initial, _, _ in letters]
    tails = [_FINAL_SOUND.get(final, "") for _, _, final in letters]
    for j in range(len(letters) - 1):
        final = letters[j][2]
        if final:
            tails[j], heads[j + 1] = _boundary(final, letters[j + 1][0], letters[j + 1][1])
    return "".join(
        head + _ROMAN_VOWEL[vowel] + tail
        for head, (_, vowel, _), tail in zip(heads, letters, tails, strict=True)
    )


def _boundary(final: str, initial: str, vowel: str) -> tuple[str, str]:
    """How a final and the next syllable's initial are written: (tail, head)."""
    # of a compound final the first part stays, the second takes part in the change
    parts = COMPOUND_FINALS.get(final, final)
    stay, move = parts[:-1], parts[-1]
    if initial == "ㅇ":  # linking
        if final == "ㅇ":
            return "ng", ""
        if move == "ㅎ":  # silent: what stood before it moves instead (싫어 sireo)
            stay, move = "", stay
        head = _ROMAN_INITIAL[move] if move else ""
        if vowel == "ㅣ" and move in _PALATAL:
            head = _PALATAL[move]
        return (_FINAL_SOUND[stay] if stay else ""), head
    if move == "ㅎ":  # ㅎ, ㄶ, ㅀ: aspiration
        tail = _FINAL_SOUND[stay] if stay else ""
        if initial in _ASPIRATED:
            return tail, _ASPIRATED[initial]
        if initial == "ㅅ":
            return tail, "ss"
    if final == "ㄷ" and initial == "ㅎ" and vowel == "ㅣ":
        return "", "ch"
    sound = _FINAL_SOUND[final]
    if initial == "ㄹ":
        if sound in ("n", "l"):
            return "l", "l"
        return _NASAL.get(sound, sound), "n"
    if initial == "ㄴ" and sound == "l":
        return "l", "l"
    if initial in ("ㄴ", "ㅁ"):
        return _NASAL.get(sound, sound), _ROMAN_INITIAL[initial]
    return sound, _ROMAN_INITIAL[initial]
