"""Training-memory anatomy: the settings, the model shape, and the records of an estimate.

``haechi.build.memory_estimate.estimate`` predicts the peak memory of a training step from
a model config; ``haechi.build.memory_measure.measure`` runs real steps and reports the
measured peak next to that estimate. This module holds what both share: the training setup,
reading a config (hub id, folder or ``config.json``), the architecture numbers the
estimate needs, and the two result records. All sizes are bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, PositiveInt, computed_field

from haechi.errors import InputError, MissingExtraError

if TYPE_CHECKING:
    from transformers import PretrainedConfig

Precision = Literal["fp32", "bf16-mixed", "fp16-mixed", "bf16"]
OptimizerName = Literal["adamw", "adamw-8bit", "adafactor", "sgd"]
Attention = Literal["sdpa", "eager"]
Device = Literal["cuda", "cpu"]

# Decoder families whose layer the estimate replays op by op (see memory_estimate).
FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "gemma")
LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# peft's default LoRA targets for these families (its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING)
DEFAULT_LORA_TARGETS = ("q_proj", "v_proj")


class TrainingSetup(BaseModel):
    """How the model is trained: one optimizer step over ``grad_accum`` micro-batches of
    ``batch_size`` sequences of ``seq_len`` tokens (no padding).

    ``precision``: ``fp32``; ``bf16-mixed``/``fp16-mixed`` (fp32 weights, ``torch.autocast``;
    fp16 adds a ``GradScaler``); ``bf16`` (the whole model cast to bfloat16). ``lora_rank``
    trains LoRA adapters of that rank on ``lora_targets`` with the base frozen.
    ``attention``: ``sdpa`` (a fused kernel that keeps no seq x seq scores) or ``eager``.
    ``device``: where it runs; it picks the optimizer implementation torch uses and whether
    the CUDA context counts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: PositiveInt
    seq_len: PositiveInt
    precision: Precision = "fp32"
    optimizer: OptimizerName = "adamw"
    grad_checkpointing: bool = False
    lora_rank: PositiveInt | None = None
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS
    grad_accum: PositiveInt = 1
    attention: Attention = "sdpa"
    device: Device = "cuda"

    @property
    def tokens(self) -> int:
        """Tokens in one micro-batch."""
        return self.batch_size * self.seq_len


@dataclass(frozen=True)
class Architecture:
    """The numbers of a decoder-only model that decide its training memory."""

    family: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    qk_norm: bool  # Qwen3: RMSNorm over each head's queries and keys
    gemma_norm: bool  # Gemma: norm in fp32 times (1 + w), cast back after
    scaled_embedding: bool = False  # Gemma: embeddings times sqrt(hidden)
    sliding_window: int | None = None
    sliding_layers: tuple[bool, ...] = ()  # per layer: does it attend through a window?

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """``(in_features, out_features)`` of each projection in one layer."""
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, self.q_dim),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (self.q_dim, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def has_bias(self, linear: str) -> bool:
        if linear in ("q_proj", "k_proj", "v_proj"):
            return self.qkv_bias
        if linear == "o_proj":
            return self.o_bias
        return self.mlp_bias


def load_config(model: str | Path) -> PretrainedConfig:
    """A transformers config from a hub id, a model folder or a ``config.json`` path."""
    try:
        from transformers import AutoConfig
    except ImportError as exc:
        raise MissingExtraError("transformers", "hf") from exc
    try:
        return AutoConfig.from_pretrained(str(model))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(
            f"cannot read a model config from {str(model)!r}: {exc}",
            field="model",
            hint="give a hub id, a model folder or a config.json",
        ) from exc


def architecture(config: PretrainedConfig) -> Architecture:
    """Read the shape of a supported decoder family from its config."""
    family = str(getattr(config, "model_type", ""))
    if family not in FAMILIES:
        raise InputError(
            f"memory estimates cover {', '.join(FAMILIES)} decoders, not {family!r}",
            field="model",
            hint="the layer is replayed op by op, so each family is added deliberately",
        )
    heads = int(config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    attention_bias = bool(getattr(config, "attention_bias", False))
    layers = int(config.num_hidden_layers)
    window = getattr(config, "sliding_window", None)
    # Mistral slides every layer; Qwen2/Qwen3 name theirs in layer_types
    types = list(getattr(config, "layer_types", None) or ["sliding_attention"] * layers)
    types += ["full_attention"] * (layers - len(types))
    sliding = tuple(window is not None and kind == "sliding_attention" for kind in types[:layers])
    return Architecture(
        family=family,
        hidden=int(config.hidden_size),
        intermediate=int(config.intermediate_size),
        layers=layers,
        heads=heads,
        kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
        head_dim=int(head_dim),
        vocab=int(config.vocab_size),
        tied_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
        qkv_bias=True if family == "qwen2" else attention_bias,
        o_bias=False if family == "qwen2" else attention_bias,
        mlp_bias=bool(getattr(config, "mlp_bias", False)),
        qk_norm=family == "qwen3",
        gemma_norm=family == "gemma",
        scaled_embedding=family == "gemma",
        sliding_window=int(window) if window is not None else None,
        sliding_layers=sliding,
    )


class ProcessPeak(BaseModel):
    """The expected peak of the process (bytes): on CPU its resident set, on CUDA the GPU
    memory torch reserves plus the CUDA context (``memory_process`` says how each part is
    modelled or measured)."""

    device: str
    tensors: int  # alive at the peak: the estimate's total
    allocator_cache: int  # freed by tensors, still held by the allocator at the peak
    baseline: int  # CPU: interpreter and libraries (measured); CUDA: 0
    cuda_context: int  # CUDA only
    basis: str  # where the baseline comes from

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return self.tensors + self.allocator_cache + self.baseline + self.cuda_context


class MemoryEstimate(BaseModel):
    """The predicted memory of a training step, in bytes.

    ``weights``, ``gradients``, ``optimizer_states`` and ``activations`` are the full size
    of each kind; ``other`` is what else is alive at the peak (temporary buffers, autocast
    weight copies). They are never all alive together: ``total`` is the largest of the
    step's ``moments`` (see ``memory_estimate``), the tensors alive at the peak, and
    ``at_peak`` splits it by kind, so ``sum(at_peak.values()) == total``. It is what
    torch's allocator reports (``torch.cuda.max_memory_allocated``, the profiler's CPU
    events). ``process`` is the figure that decides whether the run fits: the process's
    resident set on CPU, reserved memory plus the CUDA context on CUDA.
    """

    model: str
    setup: TrainingSetup
    parameters: int
    trainable_parameters: int
    weights: int
    gradients: int
    optimizer_states: int
    activations: int
    other: int
    total: int
    peak_moment: str
    at_peak: dict[str, int]
    other_items: dict[str, int]  # what ``other`` is made of
    moments: dict[str, int]
    process: ProcessPeak
    gpu_memory: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fits_gpu(self) -> bool | None:
        return None if self.gpu_memory is None else self.fits(self.gpu_memory)

    def fits(self, memory: int) -> bool:
        """Whether the process's peak (``process.total``) fits ``memory`` bytes."""
        return self.process.total <= memory


class MeasuredPeak(BaseModel):
    """The peak memory of real training steps next to the estimate for the same setup:
    tensor bytes (torch's allocator), compared with the estimate's ``total``."""

    model: str
    setup: TrainingSetup
    steps: int
    method: str
    peak_bytes: int
    estimate: MemoryEstimate
    losses: list[float]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def estimated_bytes(self) -> int:
        """The estimate comparable with ``peak_bytes``: the tensors alive at the peak."""
        return self.estimate.total

    @computed_field  # type: ignore[prop-decorator]
    @property
    def relative_error(self) -> float:
        """(estimated − measured) / measured: positive when the estimate is too high."""
        return (self.estimated_bytes - self.peak_bytes) / self.peak_bytes


def setup_from(**values: Any) -> TrainingSetup:
    """A validated ``TrainingSetup``; bad values raise ``InputError`` naming the field."""
    from haechi.validation import validated

    setup = validated(TrainingSetup, values)
    unknown = [name for name in setup.lora_targets if name not in LINEAR_NAMES]
    if unknown:
        raise InputError(
            f"unknown LoRA target {unknown[0]!r}",
            field="lora-targets",
            hint=f"choose from {', '.join(LINEAR_NAMES)}",
        )
    return setup
