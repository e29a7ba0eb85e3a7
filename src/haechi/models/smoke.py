"""Tiny random-init causal LMs with locally trained tokenizers that cover Hangul.

They exist for the demo and for tests: no download is possible on every machine, and a
real (if random) transformer exercises the real code paths. Their outputs mean nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Literal

from haechi.paths import data_dir

Family = Literal["llama", "qwen2"]
TokenizerKind = Literal["sentencepiece", "bpe"]

CHAT_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SMOKE_MODEL_NAME = "smoke-llama"


def corpus_lines() -> list[str]:
    """The bundled Korean and English sentences the tiny tokenizers are trained on."""
    text = resources.files("haechi.models").joinpath("smoke_corpus.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


def build_tokenizer(out_dir: Path, kind: TokenizerKind, vocab_size: int = 512) -> None:
    """Train a tokenizer on the bundled corpus and save it in Hugging Face layout.

    ``sentencepiece``: a SentencePiece BPE model with byte fallback and BOS (Llama style,
    convertible to GGUF by llama.cpp). ``bpe``: a byte-level BPE without BOS (Qwen2 style).
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = corpus_lines()
    if kind == "sentencepiece":
        import sentencepiece as spm

        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus.txt"
            corpus.write_text("\n".join(lines), encoding="utf-8")
            spm.SentencePieceTrainer.train(
                input=str(corpus),
                model_prefix=str(out_dir / "tokenizer"),
                vocab_size=vocab_size,
                model_type="bpe",
                byte_fallback=True,
                character_coverage=1.0,
                hard_vocab_limit=False,
                unk_id=0,
                bos_id=1,
                eos_id=2,
                pad_id=-1,
                minloglevel=2,
            )
        (out_dir / "tokenizer.vocab").unlink()
        config = {
            "tokenizer_class": "LlamaTokenizer",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "add_bos_token": True,
            "add_eos_token": False,
        }
        (out_dir / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
        tokenizer = AutoTokenizer.from_pretrained(out_dir)
    else:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        raw = Tokenizer(models.BPE())
        raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        raw.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        raw.train_from_iterator(lines * 4, trainer)
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=raw, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
        )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out_dir)
    # transformers 5 can load a SentencePiece folder into a near-empty vocabulary without
    # complaint; refuse to build a model on such a tokenizer.
    reloaded = AutoTokenizer.from_pretrained(out_dir)
    if len(reloaded) < 300:
        raise RuntimeError(f"tokenizer in {out_dir} reloads with only {len(reloaded)} tokens")


def build_tiny_model(
    out_dir: Path,
    *,
    family: Family = "llama",
    tokenizer: TokenizerKind = "sentencepiece",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a random-init causal LM and its tokenizer to ``out_dir`` (safetensors)."""
    import torch
    from transformers import (
        AutoTokenizer,
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedModel,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    build_tokenizer(out_dir, tokenizer)
    tok = AutoTokenizer.from_pretrained(out_dir)
    common = dict(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model: PreTrainedModel
    if family == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )
    model.save_pretrained(out_dir)
    return out_dir


def smoke_model_dir(root: Path | None = None) -> Path:
    """Build (once) and return the demo's smoke model: a random tiny Llama, in the data dir."""
    target = (root or data_dir() / "models") / SMOKE_MODEL_NAME
    if (target / "model.safetensors").exists():
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    build_tiny_model(staging, family="llama", tokenizer="sentencepiece")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
