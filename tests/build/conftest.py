"""Tiny random checkpoints of each decoder family, saved the way transformers saves them."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Tiny:
    """A tiny checkpoint to build: family, depth, tied embeddings, sharded files, dtype."""

    family: str
    layers: int = 6
    tied: bool = False
    sharded: bool = False
    dtype: str = "float32"
    extra: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def label(self) -> str:
        parts = [self.family, f"n{self.layers}", "tied" if self.tied else "untied"]
        parts += ["sharded" if self.sharded else "single", self.dtype]
        return "-".join(parts)


# Family settings beyond the shared tiny sizes. Sliding windows are 4 tokens so that the
# tests' 12-token inputs tell sliding layers from full ones.
FAMILIES: dict[str, dict[str, Any]] = {
    "llama": {"model_type": "llama"},
    "mistral": {"model_type": "mistral", "sliding_window": 4},
    # layers ≥ max_window_layers use the sliding window: full ×3, then sliding
    "qwen2": {
        "model_type": "qwen2",
        "use_sliding_window": True,
        "sliding_window": 4,
        "max_window_layers": 3,
    },
    "gemma": {"model_type": "gemma", "head_dim": 8},
    # alternating sliding / full layers
    "gemma2": {"model_type": "gemma2", "head_dim": 8, "sliding_window": 4},
}


def build_checkpoint(out: Path, spec: Tiny, seed: int = 0) -> Path:
    """Save a random model of ``spec`` with safetensors; every tensor is distinct."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    settings = dict(FAMILIES[spec.family])
    model_type = settings.pop("model_type")
    settings.update(dict(spec.extra))
    config = AutoConfig.for_model(
        model_type,
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=spec.layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=spec.tied,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        **settings,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    with torch.no_grad():
        # Initialisation leaves norms at one value and biases at zero; perturb every
        # parameter so that a tensor copied from the wrong place cannot pass for the right one.
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    model = model.to(getattr(torch, spec.dtype))
    model.save_pretrained(out, max_shard_size="40KB" if spec.sharded else "1GB")
    # Stand-ins for tokenizer files: the up-scaling copies them unread.
    (out / "tokenizer_config.json").write_text(json.dumps({"family": spec.family}), "utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps({"eos_token": "</s>"}), "utf-8")
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Tiny], Path]:
    """Build (once per session) and return the folder of a tiny checkpoint."""
    built: dict[Tiny, Path] = {}

    def get(spec: Tiny) -> Path:
        if spec not in built:
            root = tmp_path_factory.mktemp("upscale-base")
            built[spec] = build_checkpoint(root / spec.label, spec)
        return built[spec]

    return get


def mergekit_python() -> str | None:
    """An interpreter with mergekit 0.1.5: this one, or the separate venv's named by
    ``MERGEKIT_PYTHON`` (``python -m venv /work/venv-mergekit && /work/venv-mergekit/bin/pip
    install torch mergekit==0.1.5``; mergekit pins versions haechi need not share)."""
    if importlib.util.find_spec("mergekit") is not None:
        return sys.executable
    other = os.environ.get("MERGEKIT_PYTHON")
    return other if other and Path(other).exists() else None


needs_mergekit = pytest.mark.skipif(
    mergekit_python() is None,
    reason="mergekit 0.1.5 is not installed here and MERGEKIT_PYTHON names no interpreter with it",
)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny matmuls gain nothing from threads, and OpenMP threads crawl on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
