"""Tokenizer efficiency: exact counts on tokenizers built here, text inputs, chart and CLI."""

from __future__ import annotations

import json
import sys
import types
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from haechi.build import tokens, tokens_chart
from haechi.build.tokens import (
    TokenizerStats,
    compare,
    dataset_texts,
    read_texts,
    tokenizer_stats,
)
from haechi.build.tokens_chart import CHART_METRICS, chart_format, chart_svg, write_chart
from haechi.cli.build_tokens_cmd import tokens_command
from haechi.errors import HaechiError, InputError, MissingExtraError
from haechi.models.smoke import build_tokenizer, corpus_lines

RARE = "뷁"  # a Hangul syllable the smoke corpus never uses
CHAR_VOCAB_TEXT = "안녕 세상hello"


def char_tokenizer(alphabet: str = CHAR_VOCAB_TEXT) -> Any:
    """One token per character (spaces included); characters outside ``alphabet`` → [UNK]."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(alphabet))
    vocab = {"[UNK]": 0, **{char: i + 1 for i, char in enumerate(chars)}}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    return PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")


@pytest.fixture(scope="module")
def sentencepiece_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tok") / "sp"
    build_tokenizer(out, "sentencepiece")
    return out


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tok") / "bpe"
    build_tokenizer(out, "bpe")
    return out


@pytest.fixture(scope="module")
def char_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tok") / "char"
    char_tokenizer().save_pretrained(out)
    return out


def test_rare_syllable_is_not_in_the_smoke_corpus() -> None:
    assert all(RARE not in line for line in corpus_lines())


def test_character_tokenizer_counts_by_hand() -> None:
    # "안녕 세상": 5 characters, 4 syllables × 3 bytes + 1 space = 13 bytes, 2 eojeol.
    # "hello 뷁": 7 characters, 5 + 1 + 3 = 9 bytes, 2 eojeol; 뷁 is [UNK].
    # Hangul eojeol: 안녕 (2 tokens), " 세상" (3, with the space before it), " 뷁" (2).
    texts = [unicodedata.normalize("NFD", "안녕 세상"), "hello 뷁"]  # NFD: jamo in, NFC counted
    stats = tokenizer_stats(char_tokenizer(), texts, name="char")
    assert stats == TokenizerStats(
        tokenizer="char",
        vocab_size=10,  # 9 distinct characters + [UNK]
        byte_scheme="none",
        documents=2,
        characters=12,
        utf8_bytes=22,
        eojeol=4,
        tokens=12,
        byte_tokens=0,
        unknown_tokens=1,
        hangul_syllables=5,
        hangul_tokens=5,  # the spaces are tokens, but not Hangul ones
        hangul_byte_tokens=0,
        hangul_unknown_tokens=1,
        hangul_eojeol=3,
        hangul_eojeol_tokens=7,
    )
    ratios = stats.ratios()
    assert ratios["chars_per_token"] == 1.0
    assert ratios["bytes_per_token"] == pytest.approx(22 / 12)
    assert ratios["eojeol_per_token"] == pytest.approx(4 / 12)
    assert ratios["tokens_per_eojeol"] == 3.0
    assert ratios["unknown_rate"] == pytest.approx(1 / 12)
    assert ratios["byte_fallback_rate"] == 0.0
    assert ratios["hangul_chars_per_token"] == 1.0
    assert ratios["hangul_bytes_per_token"] == 3.0
    assert ratios["hangul_tokens_per_eojeol"] == pytest.approx(7 / 3)
    assert ratios["hangul_unknown_rate"] == pytest.approx(1 / 5)


def test_unknown_rate_of_a_word_level_tokenizer() -> None:
    # t, d and g are not in the alphabet: 3 of 7 character tokens are [UNK]
    stats = tokenizer_stats(char_tokenizer(), ["the dog"])
    assert (stats.tokens, stats.unknown_tokens) == (7, 3)
    assert stats.ratios()["unknown_rate"] == pytest.approx(3 / 7)
    assert stats.hangul_tokens == 0 and stats.ratios()["hangul_chars_per_token"] is None


def test_sentencepiece_byte_fallback_counts(sentencepiece_dir: Path) -> None:
    # 뷁 is outside the vocabulary, so each occurrence is its 3 UTF-8 bytes as <0xNN>
    # pieces; "▁" (the word boundary) stays a token of its own and carries no Hangul.
    stats = tokenizer_stats(sentencepiece_dir, [f"{RARE} {RARE}"])
    assert stats.byte_scheme == "byte-fallback"
    assert (stats.characters, stats.utf8_bytes, stats.eojeol) == (3, 7, 2)
    assert (stats.tokens, stats.byte_tokens, stats.unknown_tokens) == (8, 6, 0)
    assert (stats.hangul_syllables, stats.hangul_tokens, stats.hangul_byte_tokens) == (2, 6, 6)
    assert (stats.hangul_eojeol, stats.hangul_eojeol_tokens) == (2, 8)
    assert stats.ratios()["hangul_chars_per_token"] == pytest.approx(2 / 6)
    assert stats.ratios()["hangul_byte_fallback_rate"] == 1.0
    mixed = tokenizer_stats(sentencepiece_dir, [f"안녕하세요 {RARE}"])
    assert (mixed.byte_tokens, mixed.hangul_byte_tokens) == (3, 3)
    # character_coverage=1.0: every character of the training corpus has its own piece
    assert tokenizer_stats(sentencepiece_dir, corpus_lines()).byte_tokens == 0


def test_byte_level_partial_character_tokens(bpe_dir: Path) -> None:
    ascii_only = tokenizer_stats(bpe_dir, ["The quick brown fox.", "ABC xyz 123"])
    assert ascii_only.byte_scheme == "byte-level"
    assert ascii_only.byte_tokens == 0  # a byte below 0x80 is a whole character
    # the byte stand-ins are those the tokenizers library itself uses
    from tokenizers import pre_tokenizers

    assert set(tokens._byte_level_alphabet()) == set(pre_tokenizers.ByteLevel.alphabet())
    rare = tokenizer_stats(bpe_dir, [RARE])
    # no merge in the vocabulary builds 뷁, so every token holds part of its 3 bytes
    assert rare.tokens >= 2
    assert rare.byte_tokens == rare.tokens == rare.hangul_tokens == rare.hangul_byte_tokens
    assert rare.ratios()["hangul_bytes_per_token"] == pytest.approx(3 / rare.tokens)


def test_compare_keeps_order_and_accepts_objects(sentencepiece_dir: Path) -> None:
    stats = compare([char_tokenizer(), str(sentencepiece_dir)], ["안녕 세상"])
    assert [s.tokenizer for s in stats][1] == str(sentencepiece_dir)
    assert [s.characters for s in stats] == [5, 5]
    raw = char_tokenizer().backend_tokenizer  # a bare tokenizers.Tokenizer
    assert tokenizer_stats(raw, ["안녕 뷁"], name="raw").unknown_tokens == 1


def test_read_texts_from_text_jsonl_and_csv(tmp_path: Path) -> None:
    plain = tmp_path / "docs.txt"
    plain.write_text(unicodedata.normalize("NFD", "한글\n\n  \nsecond line\r\n"), "utf-8")
    assert read_texts(plain) == ["한글", "second line"]
    assert read_texts(plain, limit=1) == ["한글"]
    rows = tmp_path / "docs.jsonl"
    rows.write_text('{"body": "가나"}\n{"body": ""}\n{"body": "다라"}\n', "utf-8")
    assert read_texts(rows, field="body") == ["가나", "다라"]
    table = tmp_path / "docs.csv"
    table.write_text("id,comments\n1,첫째\n2,둘째\n", "utf-8")
    assert read_texts(table, field="comments", limit=1) == ["첫째"]
    with pytest.raises(InputError) as missing:
        read_texts(table)
    assert (missing.value.line, missing.value.field) == (2, "text")
    assert "comments" in str(missing.value)
    rows.write_text('{"text": "ok"}\n{"text": 3}\n', "utf-8")
    with pytest.raises(InputError, match="expected text") as wrong:
        read_texts(rows)
    assert wrong.value.line == 2
    with pytest.raises(InputError, match="no such file"):
        read_texts(tmp_path / "absent.txt")


def test_dataset_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def load_dataset(path: str, config: str | None, *, split: str, streaming: bool) -> Any:
        calls.append((path, config, split, streaming))
        if path == "offline/none":
            raise ConnectionError("no network")
        return iter([{"text": "하나"}, {"text": "둘"}, {"text": "셋"}])

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    assert dataset_texts("org/set") == ["하나", "둘", "셋"]
    assert dataset_texts("org/set:cfg:test", limit=2) == ["하나", "둘"]
    assert calls == [("org/set", None, "train", False), ("org/set", "cfg", "test", True)]
    with pytest.raises(InputError, match="no such field"):
        dataset_texts("org/set", field="body")
    with pytest.raises(HaechiError, match="Offline") as offline:
        dataset_texts("offline/none")
    assert not isinstance(offline.value, InputError)
    with pytest.raises(InputError, match="PATH:CONFIG:SPLIT"):
        dataset_texts("a:b:c:d")
    monkeypatch.setitem(sys.modules, "datasets", None)  # import fails: not installed
    with pytest.raises(MissingExtraError, match="datasets"):
        dataset_texts("org/set")


def _stats(name: str, characters: int, tokens: int) -> TokenizerStats:
    return TokenizerStats(name, 100, "none", 1, characters, 2 * characters, 3, tokens,
                          *[0] * 8)  # fmt: skip


def test_svg_chart_has_one_bar_per_tokenizer_and_metric(tmp_path: Path) -> None:
    stats = [_stats("a & <b>", 10, 4), _stats("c", 10, 5), _stats("empty", 0, 0)]
    root = ET.fromstring(chart_svg(stats))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]
    assert len(bars) == len(stats) * len(CHART_METRICS)
    found = {(b.get("data-tokenizer"), b.get("data-metric")): b.get("data-value") for b in bars}
    assert found[("a & <b>", "chars_per_token")] == "2.5"
    assert found[("c", "bytes_per_token")] == "4.0"
    assert found[("c", "eojeol_per_token")] == "0.6"
    assert found[("empty", "chars_per_token")] == ""  # no tokens: no ratio, a zero-height bar
    out = tmp_path / "chart.svg"
    write_chart(stats, out)
    ET.parse(out)


def test_chart_format_refuses_bad_names_and_missing_matplotlib(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=r"\.svg"):
        chart_format(tmp_path / "chart.pdf")
    monkeypatch.setattr(tokens_chart, "find_spec", lambda name: None)
    with pytest.raises(HaechiError, match="'matplotlib'"):
        chart_format(tmp_path / "chart.png")


def test_png_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "chart.png"
    write_chart([_stats("a", 10, 4), _stats("b", 10, 5)], out)
    assert out.read_bytes().startswith(b"\x89PNG")


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    build = typer.Typer()
    build.command("tokens")(tokens_command)
    app.add_typer(build, name="build")
    return app


def test_cli_json_table_and_chart(
    sentencepiece_dir: Path, bpe_dir: Path, char_dir: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs.txt"
    docs.write_text("안녕하세요 세상\nThe quick brown fox.\n뷁 뷁\n", "utf-8")
    chart = tmp_path / "out" / "chart.svg"
    names = [str(sentencepiece_dir), str(bpe_dir), str(char_dir)]
    runner = CliRunner()
    result = runner.invoke(
        _app(), ["build", "tokens", *names, "--text", str(docs), "--json", "--chart", str(chart)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["source"] == str(docs)
    assert [t["tokenizer"] for t in report["tokenizers"]] == names
    keys = {
        "vocab_size", "byte_scheme", "documents", "characters", "utf8_bytes", "eojeol",
        "tokens", "byte_tokens", "unknown_tokens", "hangul_syllables", "hangul_tokens",
        "chars_per_token", "bytes_per_token", "eojeol_per_token", "tokens_per_eojeol",
        "byte_fallback_rate", "unknown_rate", "hangul_chars_per_token",
        "hangul_bytes_per_token", "hangul_tokens_per_eojeol", "hangul_byte_fallback_rate",
    }  # fmt: skip
    assert keys <= report["tokenizers"][0].keys()
    assert report["tokenizers"][2]["chars_per_token"] == 1.0
    assert report["tokenizers"][0]["byte_tokens"] == 6  # the two 뷁
    bars = [r for r in ET.parse(chart).iter() if r.get("class") == "bar"]
    assert len(bars) == 3 * len(CHART_METRICS)
    table = runner.invoke(_app(), ["build", "tokens", str(char_dir), "--text", str(docs)])
    assert table.exit_code == 0, table.output
    assert "characters / token" in table.stdout and "1.000" in table.stdout
    limited = runner.invoke(
        _app(), ["build", "tokens", str(char_dir), "--text", str(docs), "--limit", "1", "--json"]
    )
    assert json.loads(limited.stdout)["tokenizers"][0]["documents"] == 1


def test_cli_bad_input_is_an_input_error(char_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(_app(), ["build", "tokens", str(char_dir)])
    assert isinstance(neither.exception, InputError) and neither.exception.exit_code == 2
    docs = tmp_path / "docs.txt"
    docs.write_text("가\n", "utf-8")
    both = runner.invoke(
        _app(), ["build", "tokens", str(char_dir), "--text", str(docs), "--dataset", "x"]
    )
    assert isinstance(both.exception, InputError)
    bad_chart = runner.invoke(
        _app(), ["build", "tokens", str(char_dir), "--text", str(docs), "--chart", "c.jpg"]
    )
    assert isinstance(bad_chart.exception, InputError) and "c.jpg" in str(bad_chart.exception)
    missing = runner.invoke(
        _app(), ["build", "tokens", str(tmp_path / "no-such-tokenizer"), "--text", str(docs)]
    )
    assert isinstance(missing.exception, InputError)
