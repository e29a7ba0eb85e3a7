"""Korean tokenizer efficiency: how much text each token carries, and how much falls to bytes.

Every document is NFC-normalised, then encoded without special tokens. Lengths are counted
explicitly: *characters* are Unicode code points (whitespace included), *bytes* are UTF-8
bytes, *eojeol* are maximal runs of non-whitespace (what ``str.split()`` returns). Hangul
means the precomposed syllables U+AC00–U+D7A3 (three UTF-8 bytes each); compatibility jamo
such as ㅋ or ㅠ are not syllables and count only in the whole-text figures.

Token classes (each token is placed by its character offsets in the document):
- *byte token*: for a tokenizer with SentencePiece-style byte fallback, a ``<0xNN>`` piece;
  for a byte-level BPE (GPT-2 alphabet), a token whose bytes are not a whole number of
  UTF-8 characters (part of a character, possibly after complete ones, e.g. ``Ġ`` + a lead
  byte). Other tokenizers have none.
- *unknown token*: the tokenizer's unknown token (``unk_token`` of the wrapper or the model).
- *Hangul token*: a token whose offsets overlap at least one Hangul syllable and that is not
  whitespace only (SentencePiece's lone ``▁`` carries a space, not the syllable it abuts).
- *Hangul eojeol*: an eojeol holding at least one syllable; its tokens are those whose
  offsets overlap the eojeol or the whitespace before it (so a lone ``▁`` counts for the
  word it starts).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

from haechi.documents import SUFFIXES, Document, read_file
from haechi.errors import HaechiError, InputError, MissingExtraError

_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")
_EOJEOL = re.compile(r"\S+")


def is_hangul_syllable(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


@dataclass(frozen=True)
class TokenizerStats:
    """Counts for one tokenizer over a set of documents; the ratios are properties of them.

    ``byte_scheme`` is ``byte-fallback`` (``<0xNN>`` pieces), ``byte-level`` (GPT-2 bytes)
    or ``none``; ``vocab_size`` includes added tokens. See the module docstring for what
    each token class means. A ratio whose denominator is zero is ``None``.
    """

    tokenizer: str
    vocab_size: int
    byte_scheme: str
    documents: int
    characters: int
    utf8_bytes: int
    eojeol: int
    tokens: int
    byte_tokens: int
    unknown_tokens: int
    hangul_syllables: int
    hangul_tokens: int
    hangul_byte_tokens: int
    hangul_unknown_tokens: int
    hangul_eojeol: int
    hangul_eojeol_tokens: int

    def ratios(self) -> dict[str, float | None]:
        """Characters, bytes and eojeol per token (higher is better), and the rates."""
        return {
            "chars_per_token": _ratio(self.characters, self.tokens),
            "bytes_per_token": _ratio(self.utf8_bytes, self.tokens),
            "eojeol_per_token": _ratio(self.eojeol, self.tokens),
            "tokens_per_eojeol": _ratio(self.tokens, self.eojeol),
            "byte_fallback_rate": _ratio(self.byte_tokens, self.tokens),
            "unknown_rate": _ratio(self.unknown_tokens, self.tokens),
            "hangul_chars_per_token": _ratio(self.hangul_syllables, self.hangul_tokens),
            "hangul_bytes_per_token": _ratio(3 * self.hangul_syllables, self.hangul_tokens),
            "hangul_eojeol_per_token": _ratio(self.hangul_eojeol, self.hangul_eojeol_tokens),
            "hangul_tokens_per_eojeol": _ratio(self.hangul_eojeol_tokens, self.hangul_eojeol),
            "hangul_byte_fallback_rate": _ratio(self.hangul_byte_tokens, self.hangul_tokens),
            "hangul_unknown_rate": _ratio(self.hangul_unknown_tokens, self.hangul_tokens),
        }

    def as_dict(self) -> dict[str, Any]:
        """The counts and the ratios in one flat, JSON-ready mapping."""
        return {**asdict(self), **self.ratios()}


# The fields counted document by document: all after ``documents``.
_COUNTED = tuple(f.name for f in fields(TokenizerStats))[4:]


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def load_tokenizer(spec: str | Path) -> Any:
    """A transformers tokenizer from a local folder or a Hugging Face hub id."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise MissingExtraError("transformers", "hf") from None
    local = Path(spec).expanduser()
    try:
        return AutoTokenizer.from_pretrained(str(local) if local.exists() else str(spec))
    except Exception as exc:  # transformers raises OSError, ValueError and hub errors alike
        if local.exists():
            raise HaechiError(f"could not load the tokenizer in {local}: {exc}") from exc
        raise InputError(
            f"{spec!r} is no local folder, and the Hugging Face hub could not provide it: {exc}",
            field="tokenizer",
            hint="give a folder holding tokenizer files, or a hub id while online",
        ) from exc


class _TokenClasses:
    """Classifies token ids of one fast tokenizer (cached: each id is looked at once)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        spec = json.loads(tokenizer.backend_tokenizer.to_str())
        model = spec.get("model") or {}
        if model.get("byte_fallback"):
            self.scheme = "byte-fallback"
        elif _mentions_byte_level(spec.get("pre_tokenizer")) or _mentions_byte_level(
            spec.get("decoder")
        ):
            self.scheme = "byte-level"
        else:
            self.scheme = "none"
        unknown = {tokenizer.unk_token_id}
        if isinstance(model.get("unk_token"), str):
            unknown.add(tokenizer.backend_tokenizer.token_to_id(model["unk_token"]))
        if isinstance(model.get("unk_id"), int):  # Unigram models name it by id
            unknown.add(model["unk_id"])
        self.unknown_ids = {i for i in unknown if i is not None}
        self._cache: dict[int, tuple[bool, bool, bool]] = {}

    def classify(self, token_id: int) -> tuple[bool, bool, bool]:
        """``(byte token, unknown token, whitespace only)`` for ``token_id``."""
        found = self._cache.get(token_id)
        if found is None:
            piece = self.tokenizer.convert_ids_to_tokens(token_id)
            is_byte = self._is_byte(piece)
            unknown = token_id in self.unknown_ids
            blank = not unknown and not self.tokenizer.decode([token_id]).strip()
            found = self._cache[token_id] = (is_byte, unknown, blank)
        return found

    def _is_byte(self, piece: str) -> bool:
        if self.scheme == "byte-fallback":
            return _BYTE_PIECE.fullmatch(piece) is not None
        if self.scheme == "byte-level":
            table = _byte_level_alphabet()
            if any(char not in table for char in piece):
                return False  # an added token written as plain text, not in byte alphabet
            try:
                bytes(table[char] for char in piece).decode("utf-8")
            except UnicodeDecodeError:
                return True
        return False


def _mentions_byte_level(component: Any) -> bool:
    if isinstance(component, dict):
        if component.get("type") == "ByteLevel":
            return True
        return any(_mentions_byte_level(value) for value in component.values())
    if isinstance(component, list):
        return any(_mentions_byte_level(value) for value in component)
    return False


@cache
def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte: printable Latin-1 bytes stand for
    themselves; the others, in byte order, take code points from 256 upwards."""
    kept = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    moved = [b for b in range(256) if b not in kept]
    return {chr(b): b for b in kept} | {chr(256 + n): b for n, b in enumerate(moved)}


def _as_fast_tokenizer(tokenizer: Any) -> Any:
    if isinstance(tokenizer, str | Path):
        tokenizer = load_tokenizer(tokenizer)
    elif type(tokenizer).__module__.startswith("tokenizers"):
        from transformers import PreTrainedTokenizerFast

        tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise HaechiError(
            f"{type(tokenizer).__name__} has no `tokenizers` backend, which token offsets need; "
            "load it with AutoTokenizer (a fast tokenizer) instead"
        )
    return tokenizer


def tokenizer_stats(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    name: str | None = None,
    progress: bool = False,
    batch_size: int = 256,
) -> TokenizerStats:
    """Count characters, UTF-8 bytes, eojeol and tokens of each class over ``texts``.

    ``tokenizer`` is a hub id or folder (loaded with AutoTokenizer), a transformers fast
    tokenizer or a ``tokenizers.Tokenizer``. Texts are NFC-normalised first; special tokens
    are not added. ``progress`` shows a bar on a terminal when the run takes over a second.
    """
    from tqdm import tqdm

    label = name or (str(tokenizer) if isinstance(tokenizer, str | Path) else None)
    tokenizer = _as_fast_tokenizer(tokenizer)
    label = label or getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    classes = _TokenClasses(tokenizer)
    docs = [unicodedata.normalize("NFC", text) for text in texts]
    counts: Counter[str] = Counter()
    with tqdm(
        total=len(docs), desc=label, unit="doc", disable=None if progress else True, delay=1.0
    ) as bar:
        for start in range(0, len(docs), batch_size):
            batch = docs[start : start + batch_size]
            for text, ids, offsets in _encode(tokenizer, batch):
                _count_document(counts, text, ids, offsets, classes)
            bar.update(len(batch))
    return TokenizerStats(
        tokenizer=label,
        vocab_size=len(tokenizer),
        byte_scheme=classes.scheme,
        documents=len(docs),
        **{key: counts[key] for key in _COUNTED},
    )


def compare(
    tokenizers: Sequence[Any], texts: Sequence[str], *, progress: bool = False
) -> list[TokenizerStats]:
    """:func:`tokenizer_stats` for each tokenizer over the same texts, in the order given."""
    return [tokenizer_stats(tok, texts, progress=progress) for tok in tokenizers]


def _encode(
    tokenizer: Any, batch: list[str]
) -> Iterator[tuple[str, list[int], list[tuple[int, int]]]]:
    encoded = tokenizer(
        batch,
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,  # documents longer than the model's context are fine to count
    )
    yield from zip(batch, encoded["input_ids"], encoded["offset_mapping"], strict=True)


def _count_document(
    counts: Counter[str],
    text: str,
    ids: list[int],
    offsets: list[tuple[int, int]],
    classes: _TokenClasses,
) -> None:
    n_chars = len(text)  # code points
    counts["characters"] += n_chars
    counts["utf8_bytes"] += len(text.encode("utf-8"))
    # hangul_before[i]: syllables in text[:i], so a span [s, e) holds hangul_before[e] - [s]
    hangul_before = [0] * (n_chars + 1)
    for i, char in enumerate(text):
        hangul_before[i + 1] = hangul_before[i] + is_hangul_syllable(char)
    counts["hangul_syllables"] += hangul_before[-1]
    # eojeol_at[i]: the eojeol whose region (leading whitespace + the word) holds position i
    eojeol_at = [-1] * n_chars
    hangul_eojeol: set[int] = set()
    region_start = 0
    for index, word in enumerate(_EOJEOL.finditer(text)):
        eojeol_at[region_start : word.end()] = [index] * (word.end() - region_start)
        region_start = word.end()
        counts["eojeol"] += 1
        if hangul_before[word.end()] > hangul_before[word.start()]:
            hangul_eojeol.add(index)
    counts["hangul_eojeol"] += len(hangul_eojeol)
    for token_id, (start, end) in zip(ids, offsets, strict=True):
        is_byte, unknown, blank = classes.classify(token_id)
        counts["tokens"] += 1
        counts["byte_tokens"] += is_byte
        counts["unknown_tokens"] += unknown
        if not blank and hangul_before[end] > hangul_before[start]:
            counts["hangul_tokens"] += 1
            counts["hangul_byte_tokens"] += is_byte
            counts["hangul_unknown_tokens"] += unknown
        # an empty span (a trimmed space) sits at its start position
        touched = eojeol_at[start:end] if end > start else eojeol_at[start : start + 1]
        if hangul_eojeol.intersection(touched):
            counts["hangul_eojeol_tokens"] += 1


def read_texts(path: Path, *, field: str = "text", limit: int | None = None) -> list[str]:
    """Documents from a file, NFC-normalised, blank ones skipped, at most ``limit``.

    ``.jsonl``/``.json``/``.csv``/``.tsv``/``.parquet``: the ``field`` of each row; any other
    suffix: plain UTF-8 text, one document a line.
    """
    if not path.is_file():
        raise InputError("no such file", file=str(path), hint="give --text an existing file")
    if path.suffix not in SUFFIXES:
        try:
            with path.open(encoding="utf-8") as f:
                lines = (line.rstrip("\r\n") for line in f)
                kept = (unicodedata.normalize("NFC", ln) for ln in lines if ln.strip())
                return list(islice(kept, limit))
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", file=str(path)) from None
    texts = []
    for doc in read_file(path):
        texts.append(_field_text(doc, field))
    return [text for text in texts if text.strip()][:limit]


def _field_text(doc: Document, field: str) -> str:
    if field not in doc.fields:
        fields = ", ".join(map(str, doc.fields)) or "none"
        raise doc.error("no such field", field, f"fields here: {fields}; choose one with --field")
    value = doc.fields[field]
    if not isinstance(value, str):
        raise doc.error(f"expected text, found {type(value).__name__}", field)
    return unicodedata.normalize("NFC", value)


def dataset_texts(dataset_id: str, *, field: str = "text", limit: int | None = None) -> list[str]:
    """Documents from a Hugging Face dataset given as ``PATH``, ``PATH:SPLIT`` or
    ``PATH:CONFIG:SPLIT`` (split ``train`` by default); needs the network and ``datasets``.
    With ``limit`` the dataset is streamed and only the first rows are read."""
    try:
        import datasets
    except ImportError:
        raise MissingExtraError("datasets", "train") from None
    parts = dataset_id.split(":")
    if len(parts) > 3 or not all(parts):
        raise InputError(
            f"cannot read dataset id {dataset_id!r}",
            field="dataset",
            hint="write PATH, PATH:SPLIT or PATH:CONFIG:SPLIT",
        )
    path, config, split = parts[0], parts[1] if len(parts) == 3 else None, parts[-1]
    split = split if len(parts) > 1 else "train"
    try:
        rows = datasets.load_dataset(path, config, split=split, streaming=limit is not None)
        taken = [dict(row) for row in islice(rows, limit)]
    except Exception as exc:  # datasets raises many unrelated types for "cannot fetch"
        raise HaechiError(
            f"could not load dataset {dataset_id!r}: {exc}. Offline? Save the texts to a "
            "file (one a line, or .jsonl with --field) and pass it with --text."
        ) from exc
    texts = [
        _field_text(Document(i, row, f"{dataset_id}#{i}"), field) for i, row in enumerate(taken)
    ]
    return [text for text in texts if text.strip()]
