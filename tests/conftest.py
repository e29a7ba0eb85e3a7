"""Shared fixtures: tiny random-init models with locally trained tokenizers, isolated homes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point haechi's data, cache and default store at a per-test folder."""
    home = tmp_path / "haechi-home"
    monkeypatch.setenv("HAECHI_HOME", str(home))
    monkeypatch.setenv("HAECHI_CACHE", str(home / "cache"))
    monkeypatch.delenv("HAECHI_DB", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    yield home


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Llama-family checkpoint with a SentencePiece (byte-fallback) tokenizer + BOS."""
    from haechi.models.smoke import build_tiny_model

    return build_tiny_model(
        tmp_path_factory.mktemp("models") / "tiny-llama", family="llama", tokenizer="sentencepiece"
    )


@pytest.fixture(scope="session")
def tiny_qwen2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Qwen2-family checkpoint with a byte-level BPE tokenizer and no BOS token."""
    from haechi.models.smoke import build_tiny_model

    return build_tiny_model(
        tmp_path_factory.mktemp("models") / "tiny-qwen2", family="qwen2", tokenizer="bpe", seed=1
    )
