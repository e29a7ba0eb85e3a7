"""What TRL, peft and bitsandbytes change in the estimator's training step.

``memory_estimate`` models a plain training loop (the model's own loss, LoRA without
dropout, 16/32-bit weights); measured against it on CPU with torch's allocator events, a
TRL ``SFTTrainer`` step differs in three places, each added here to the moments of the
step it changes (bytes; negative when it saves):

- TRL's fused LM head never builds the ``tokens x vocab`` logits or their gradients
  (the estimator's ``logits`` in the forward and ``logits_gradients`` in the loss
  backward). It projects ``min(tokens, 4096) x 32768`` tiles into one buffer of the
  compute dtype, whatever the vocabulary, in the forward and again in the backward,
  where it also accumulates fp32 gradients of the hidden states and, when the LM head
  trains, of its weight.
- peft's LoRA dropout (``lora_dropout > 0``) gives each adapted projection a dropped-out
  copy of its input, saved for the adapter's backward, and a one-byte mask: alive for
  every layer until backward reaches it, or, with gradient checkpointing, for the one
  layer being recomputed.
- QLoRA stores the decoder projections in NF4 (4 bits a value, double-quantised scales:
  ``NF4_BYTES`` a value) instead of 16 or 32 bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from haechi.build.memory import Architecture, TrainingSetup

NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)  # 8-bit absmax per 64 values, fp32 per 256 of those
TRL_TOKEN_TILE = 4096  # trl.kernels.chunked_logprob.TOKEN_CHUNK_SIZE
TRL_VOCAB_TILE = 32768  # trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE
ALL_LAYERS = ("forward", "loss backward", "layers backward start")


@dataclass(frozen=True)
class Overheads:
    """Bytes to add to each of the estimator's moments, by item."""

    by_moment: dict[str, dict[str, int]]

    def apply(self, moments: dict[str, int]) -> dict[str, int]:
        """The estimator's moments with these overheads added."""
        return {
            name: value + sum(self.by_moment.get(name, {}).values())
            for name, value in moments.items()
        }


def overheads(
    arch: Architecture, setup: TrainingSetup, quantized: bool, lora_dropout: float
) -> Overheads:
    """The three differences for ``setup`` on ``arch`` (see the module docstring)."""
    by_moment: dict[str, dict[str, int]] = {}

    def add(moment: str, item: str, nbytes: int) -> None:
        if nbytes:
            by_moment.setdefault(moment, {})[item] = nbytes

    t, vocab, hidden = setup.tokens, arch.vocab, arch.hidden
    compute = 4 if setup.precision == "fp32" else 2
    estimator_logits = t * vocab * (compute + (0 if compute == 4 else 4))  # and their fp32 copy
    tile = min(t, TRL_TOKEN_TILE) * TRL_VOCAB_TILE * compute
    head_grad = vocab * hidden * 4 if setup.lora_rank is None else 0
    add("forward", "fused LM head", tile - estimator_logits)
    add("loss backward", "fused LM head", tile + t * hidden * 4 + head_grad - 2 * t * vocab * 4)

    if setup.lora_rank is not None and lora_dropout > 0:
        weight_bytes = 2 if setup.precision == "bf16" else 4
        inputs = sum(arch.linear_shapes()[name][0] for name in setup.lora_targets)
        layer = t * inputs * (weight_bytes + 1)
        alive = ("layers backward start",) if setup.grad_checkpointing else ALL_LAYERS
        for moment in alive:
            add(
                moment,
                "LoRA dropout copies",
                layer if setup.grad_checkpointing else arch.layers * layer,
            )
        add("layers backward end", "LoRA dropout copies", layer)

    if quantized:
        matrices = arch.layers * sum(i * o for i, o in arch.linear_shapes().values())
        size = 2 if setup.precision == "bf16" else 4
        saved = -int(matrices * (size - NF4_BYTES))
        for moment in (*ALL_LAYERS, "layers backward end", "optimizer step", "embedding backward"):
            add(moment, "NF4 weights", saved)
    return Overheads(by_moment)
