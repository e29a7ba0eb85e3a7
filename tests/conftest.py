"""Shared fixtures: tiny random-init models with locally trained tokenizers, isolated homes,
and llama.cpp's OpenAI-compatible server on loopback serving the tiny Llama."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.models.servers import (
    convert_to_gguf,
    extract_converter,
    llama_cpp_sdist,
    llama_server,
    vocab_tokenizer,
)
from tests.postgres import db_url, postgres_server, postgres_url

__all__ = ["db_url", "postgres_server", "postgres_url"]  # fixtures shared by every test folder


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


@pytest.fixture(scope="session")
def qwen2_chat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Qwen2 checkpoint with Qwen2's real tokenizer and chat template (from
    llama.cpp's ``ggml-vocab-qwen2.gguf``; 151,936 tokens, so the model is kept narrow)."""
    pytest.importorskip("gguf", reason="loading a GGUF tokenizer needs the gguf package")
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(vocab_tokenizer("qwen2"))
    out = tmp_path_factory.mktemp("models") / "qwen2-chat"
    tokenizer.save_pretrained(out)
    ids = {"bos_token_id": None, "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>")}
    torch.manual_seed(2)
    model = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=2048, tie_word_embeddings=False,
            pad_token_id=tokenizer.pad_token_id, **ids,
        )
    )  # fmt: skip
    model.generation_config = GenerationConfig(pad_token_id=tokenizer.pad_token_id, **ids)
    model.save_pretrained(out)
    return out


# What ``python -m llama_cpp.server`` imports beyond llama_cpp (its [server] extra).
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


@pytest.fixture(scope="session")
def llama_cpp_server_installed() -> None:
    """Skip (or, with ``HAECHI_REQUIRE_LLAMA_SERVER=1``, fail) without llama-cpp-python."""
    missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    reason = (
        f"llama-cpp-python's server is not installed (missing: {', '.join(missing)}); "
        "pip install 'llama-cpp-python[server]==0.3.36'"
    )
    if os.environ.get("HAECHI_REQUIRE_LLAMA_SERVER") == "1":
        pytest.fail(f"HAECHI_REQUIRE_LLAMA_SERVER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def llama_gguf(
    llama_cpp_server_installed: None,  # first: skip before building anything
    tiny_llama_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The tiny random Llama (SentencePiece tokenizer) as an f32 GGUF."""
    converter = extract_converter(llama_cpp_sdist())
    out = tmp_path_factory.mktemp("gguf") / "tiny-llama-f32.gguf"
    return convert_to_gguf(converter, tiny_llama_dir, out)


@pytest.fixture(scope="session")
def llama_server_url(llama_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of llama-cpp-python's server on ``llama_gguf``;
    the server is stopped when the session ends."""
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with llama_server(llama_gguf, log) as url:
        yield url
