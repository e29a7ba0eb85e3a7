"""Predict the peak memory of a training step from a model config, without running it.

Reference: the Hugging Face "model training anatomy" guide counts bytes per parameter
(weights 4 in fp32 and 6 in its mixed-precision model, gradients 4, AdamW states 8, 8-bit
AdamW 2, SGD momentum 4). This estimate keeps those figures where PyTorch allocates them
and departs where it does not:

- Mixed precision (``torch.autocast``) keeps fp32 weights and fp32 gradients; there is no
  persistent 2-byte copy, autocast casts weights per op. The casts are not free, though:
  backward needs them, so each matrix's 16-bit copy lives from its forward to its
  backward (2 bytes per matrix parameter while activations live, under ``other``).
- ``bf16`` (the model cast to bfloat16) keeps 2-byte weights, 2-byte gradients and
  2-byte AdamW/SGD states: torch creates optimizer states like the parameter.
- LoRA: the frozen base keeps its weights only; the adapters (fp32, as peft makes them by
  default) have weights, gradients and optimizer states.
- Adafactor (transformers' implementation, no first moment) keeps fp32 row and column
  second moments per matrix (rows + cols numbers) and a full fp32 one per vector.
- 8-bit AdamW (bitsandbytes) keeps two 1-byte states plus one fp32 scale per 256 values
  for tensors of at least 4096 values, and fp32 states for smaller ones.
- Gradients and activations are not alive together unless gradients are accumulated:
  ``zero_grad(set_to_none=True)`` frees gradients after the step, and backward frees each
  layer's activations as it makes that layer's gradients. So the total is the largest of
  the step's moments below, not the sum of its parts (the guide adds them up).
- Temporaries the guide leaves out: the logits and their gradients, the optimizer
  step's scratch tensors, autocast's weight copies.

Activations are in ``memory_activations`` (Korthikanti et al. 2022's accounting, replayed
op by op for these decoders). The moments of a step, beyond the weights (``grad_accum``
> 1 keeps all gradients alive in every one of them):
- ``forward``: the loss is being computed: saved activations, the logits and their fp32
  copy, and (checkpointing under autocast) every weight copy autocast still caches.
- ``loss backward``: saved activations + two fp32 ``tokens x vocab`` gradient buffers.
- ``layers backward start`` / ``end``: backward entering the top layer (all layers'
  activations, the head's gradients) and leaving the bottom one (its activations, all
  other gradients), each with one layer's activation gradients (``t(2h + 3i)`` values).
- ``optimizer step``: gradients + states + the step's temporaries: torch's for-loop AdamW
  (CPU) makes two tensors the size of the largest parameter, its foreach AdamW (CUDA)
  one copy of all second moments; Adafactor two (four in bf16) of the largest; SGD and
  bitsandbytes update in place.
- ``embedding backward`` (tied embeddings only): autograd sums the lm_head and embedding
  gradients out of place, two extra ``vocab x hidden`` tensors.
``total`` is the tensors alive at the peak, what ``torch.cuda.max_memory_allocated`` and
torch's CPU allocator events report. The process around them (what the allocator keeps
after frees, the interpreter and libraries, the CUDA context) is ``memory_process``'s:
``process`` is the figure a memory limit is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from haechi.build.memory import (
    DEFAULT_LORA_TARGETS,
    Architecture,
    Attention,
    Device,
    MemoryEstimate,
    OptimizerName,
    Precision,
    TrainingSetup,
    architecture,
    load_config,
    setup_from,
)
from haechi.build.memory_activations import Activations, activations
from haechi.build.memory_process import allocator_cache, block_split, process_peak

if TYPE_CHECKING:
    from transformers import PretrainedConfig

BNB_MIN_8BIT_SIZE = 4096  # bitsandbytes keeps smaller tensors' states in fp32
BNB_BLOCK = 256  # values per fp32 absmax scale in its blockwise 8-bit states


@dataclass(frozen=True)
class Tensor:
    """A parameter: its shape, bytes per value, and whether it is trained."""

    shape: tuple[int, ...]
    size: int
    trainable: bool

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * self.size


def parameters(arch: Architecture, setup: TrainingSetup) -> list[Tensor]:
    """Every parameter tensor the model (and its LoRA adapters) holds, tied ones once."""
    size = 2 if setup.precision == "bf16" else 4
    base = setup.lora_rank is None
    shapes: list[tuple[int, ...]] = [(arch.vocab, arch.hidden)]
    for _ in range(arch.layers):
        for name, (n_in, n_out) in arch.linear_shapes().items():
            shapes.append((n_out, n_in))
            if arch.has_bias(name):
                shapes.append((n_out,))
        shapes += [(arch.hidden,), (arch.hidden,)]
        if arch.qk_norm:
            shapes += [(arch.head_dim,), (arch.head_dim,)]
    shapes.append((arch.hidden,))
    if not arch.tied_embeddings:
        shapes.append((arch.vocab, arch.hidden))
    out = [Tensor(shape, size, base) for shape in shapes]
    if setup.lora_rank is not None:
        r = setup.lora_rank
        for _ in range(arch.layers):
            for name in setup.lora_targets:
                n_in, n_out = arch.linear_shapes()[name]
                out += [Tensor((r, n_in), 4, True), Tensor((n_out, r), 4, True)]
    return out


def optimizer_state_bytes(name: OptimizerName, tensor: Tensor) -> int:
    """Bytes of optimizer state kept for one trainable tensor."""
    n = tensor.numel
    if name == "adamw":
        return 2 * n * tensor.size
    if name == "sgd":
        return n * tensor.size
    if name == "adamw-8bit":
        if n < BNB_MIN_8BIT_SIZE:
            return 2 * n * 4
        return 2 * n + 2 * -(-n // BNB_BLOCK) * 4
    # adafactor: factored fp32 second moments for matrices, a full one for vectors
    if len(tensor.shape) >= 2:
        return (n // tensor.shape[-1] + tensor.shape[-1]) * 4
    return n * 4


def optimizer_step_bytes(
    name: OptimizerName, trainable: list[Tensor], device: Device, above: int = 0
) -> int:
    """Temporaries of one optimizer step (see the module docstring); ``above``: count only
    tensors larger than this many bytes."""
    if not trainable:
        return 0
    if name == "adamw":
        if device == "cuda":  # foreach: _foreach_sqrt over all second moments at once
            return sum(bytes_above(t.nbytes, above) for t in trainable)
        return 2 * bytes_above(max(t.nbytes for t in trainable), above)  # sqrt, then its quotient
    if name == "adafactor":  # grad**2 and its update coexist; bf16 also upcasts grad and param
        return max((4 if t.size == 2 else 2) * bytes_above(t.numel * 4, above) for t in trainable)
    return 0  # SGD and bitsandbytes' fused 8-bit step update in place


def bytes_above(nbytes: int, above: int) -> int:
    """``nbytes`` (one tensor's), or 0 when it is not larger than ``above``."""
    return nbytes if nbytes > above else 0


@dataclass(frozen=True)
class _Moment:
    gradients: int
    optimizer_states: int
    activations: int
    other: dict[str, int]


def _moments(
    arch: Architecture,
    setup: TrainingSetup,
    acts: Activations,
    trainable: list[Tensor],
    states: int,
    above: int = 0,
) -> dict[str, _Moment]:
    """What is alive (beyond the weights) at each candidate peak of a step; ``above``:
    count only the tensors larger than this many bytes (``acts`` counted alike)."""
    full = setup.lora_rank is None
    size = trainable[0].size if trainable else 4
    grads = sum(bytes_above(t.nbytes, above) for t in trainable)
    vh = bytes_above(arch.vocab * arch.hidden * size, above)
    # lm_head and final norm come first
    head_grads = vh + bytes_above(arch.hidden * size, above) if full else 0
    embed_grads = vh if full and not arch.tied_embeddings else 0
    layer_grads = (grads - head_grads - embed_grads) // arch.layers
    accumulated = grads if setup.grad_accum > 1 else 0
    logits = 4 if setup.precision == "fp32" else 2
    tv = setup.tokens * arch.vocab
    per_layer = acts.layers // arch.layers
    one_layer_copies = acts.layer_copies // arch.layers + acts.recompute_copies
    t = setup.tokens
    layer_transient = 2 * bytes_above(t * arch.hidden * logits, above) + 3 * bytes_above(
        t * arch.intermediate * logits, above
    )
    step = optimizer_step_bytes(setup.optimizer, trainable, setup.device, above)
    copies = acts.layer_copies + acts.head_copies
    return {
        "forward": _Moment(
            accumulated,
            states,
            acts.saved,
            {
                "autocast_weight_copies": copies + acts.cached_copies,
                # and their fp32 copy
                "logits": bytes_above(tv * logits, above)
                + (0 if logits == 4 else bytes_above(tv * 4, above)),
            },
        ),
        "loss backward": _Moment(
            accumulated,
            states,
            acts.saved,
            {"autocast_weight_copies": copies, "logits_gradients": 2 * bytes_above(tv * 4, above)},
        ),
        "layers backward start": _Moment(
            max(accumulated, head_grads),
            states,
            acts.layers + acts.shared + acts.recompute,
            {
                "autocast_weight_copies": acts.layer_copies + acts.recompute_copies,
                "activation_gradients": layer_transient,
            },
        ),
        "layers backward end": _Moment(
            max(accumulated, grads - layer_grads - embed_grads),
            states,
            per_layer + acts.shared + acts.recompute,
            {"autocast_weight_copies": one_layer_copies, "activation_gradients": layer_transient},
        ),
        "optimizer step": _Moment(grads, states, 0, {"optimizer_step": step}),
        **_tied_embedding_moment(arch, full, grads, states, acts.shared, vh),
    }


def _tied_embedding_moment(
    arch: Architecture, full: bool, grads: int, states: int, shared: int, vh: int
) -> dict[str, _Moment]:
    # A tied embedding's gradient arrives twice (lm_head, embedding): autograd sums the two
    # V x H tensors out of place before storing the result.
    if not (full and arch.tied_embeddings):
        return {}
    return {"embedding backward": _Moment(grads, states, shared, {"embedding_gradients": 2 * vh})}


def estimate(
    config: PretrainedConfig | str | Path,
    *,
    batch_size: int,
    seq_len: int,
    precision: Precision = "fp32",
    optimizer: OptimizerName = "adamw",
    grad_checkpointing: bool = False,
    lora_rank: int | None = None,
    grad_accum: int = 1,
    gpu_memory: int | None = None,
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS,
    attention: Attention = "sdpa",
    device: Device = "cuda",
    model: str | None = None,
) -> MemoryEstimate:
    """Predict the peak memory (bytes) of one training step of ``config``'s model.

    ``config``: a transformers config, or a hub id, model folder or ``config.json`` to
    read one from (``model`` names it in the record; by default the id or path).
    ``batch_size`` sequences of ``seq_len`` tokens per micro-batch, ``grad_accum``
    micro-batches per optimizer step; ``device`` decides the optimizer implementation
    and whether the CUDA context counts. ``gpu_memory`` (bytes), when given, is recorded
    with whether the total fits. See the module docstring for the model of memory.
    Raises ``InputError`` for an unsupported family or invalid settings.
    """
    setup = setup_from(
        batch_size=batch_size,
        seq_len=seq_len,
        precision=precision,
        optimizer=optimizer,
        grad_checkpointing=grad_checkpointing,
        lora_rank=lora_rank,
        lora_targets=tuple(lora_targets),
        grad_accum=grad_accum,
        attention=attention,
        device=device,
    )
    if isinstance(config, (str, Path)):
        model = model or str(config)
        config = load_config(config)
    return estimate_setup(config, setup, gpu_memory=gpu_memory, model=model)


def estimate_setup(
    config: PretrainedConfig,
    setup: TrainingSetup,
    *,
    gpu_memory: int | None = None,
    model: str | None = None,
    baseline: int | None = None,
) -> MemoryEstimate:
    """``estimate`` for an already validated ``TrainingSetup``. ``baseline``: the bytes of
    the process without its tensors (CPU); by default measured once (``memory_process``)."""
    arch = architecture(config)
    params = parameters(arch, setup)
    trainable = [t for t in params if t.trainable]
    weights = sum(t.nbytes for t in params)
    grads = sum(t.nbytes for t in trainable)
    states = sum(optimizer_state_bytes(setup.optimizer, t) for t in trainable)
    acts = activations(arch, setup)
    moments = _moments(arch, setup, acts, trainable, states)
    sums = {
        name: weights + m.gradients + m.optimizer_states + m.activations + sum(m.other.values())
        for name, m in moments.items()
    }
    peak = max(sums, key=lambda name: sums[name])
    at = moments[peak]
    other = sum(at.other.values())
    cache = allocator_cache(weights + states, sums, large_transients(arch, setup))
    return MemoryEstimate(
        model=model or str(getattr(config, "_name_or_path", "") or arch.family),
        setup=setup,
        parameters=sum(t.numel for t in params),
        trainable_parameters=sum(t.numel for t in trainable),
        weights=weights,
        gradients=grads,
        optimizer_states=states,
        activations=acts.saved + acts.recompute,
        other=other,
        total=sums[peak],
        peak_moment=peak,
        at_peak={
            "weights": weights,
            "gradients": at.gradients,
            "optimizer_states": at.optimizer_states,
            "activations": at.activations,
            "other": other,
        },
        other_items=dict(at.other),
        moments=sums,
        process=process_peak(setup.device, sums[peak], cache, baseline=baseline),
        gpu_memory=gpu_memory,
    )


def large_transients(arch: Architecture, setup: TrainingSetup) -> dict[str, int]:
    """Bytes of the transient tensors (not weights, not optimizer states) larger than
    ``block_split`` alive at each moment of the step: the allocator maps these apart."""
    above = block_split(setup.device)
    trainable = [t for t in parameters(arch, setup) if t.trainable]
    moments = _moments(arch, setup, activations(arch, setup, above), trainable, 0, above)
    return {
        name: m.gradients + m.activations + sum(m.other.values()) for name, m in moments.items()
    }
