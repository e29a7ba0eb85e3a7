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
  ``NF4_BYTES`` a value) instead of 16 or 32 bits: a change of the weights, alive in every
  moment (``persistent``).

``above`` counts only the transient tensors larger than that many bytes (what the
allocator maps apart, ``memory_process``); the NF4 weights are left out then.
"""

from __future__ import annotations

from dataclasses import dataclass

from haechi.build.memory import Architecture, TrainingSetup
from haechi.build.memory_estimate import bytes_above

NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)  # 8-bit absmax per 64 values, fp32 per 256 of those
TRL_TOKEN_TILE = 4096  # trl.kernels.chunked_logprob.TOKEN_CHUNK_SIZE
TRL_VOCAB_TILE = 32768  # trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE
ALL_LAYERS = ("forward", "loss backward", "layers backward start")


@dataclass(frozen=True)
class Overheads:
    """Bytes to add to each of the estimator's moments, by item."""

    by_moment: dict[str, dict[str, int]]
    persistent: int = 0  # the part of every moment's change that lives all step (NF4 weights)

    def apply(self, moments: dict[str, int]) -> dict[str, int]:
        """The estimator's moments with these overheads added."""
        return {
            name: value + sum(self.by_moment.get(name, {}).values())
            for name, value in moments.items()
        }


def overheads(
    arch: Architecture,
    setup: TrainingSetup,
    quantized: bool,
    lora_dropout: float,
    above: int = 0,
) -> Overheads:
    """The three differences for ``setup`` on ``arch`` (see the module docstring)."""
    by_moment: dict[str, dict[str, int]] = {}

    def add(moment: str, item: str, nbytes: int) -> None:
        if nbytes:
            by_moment.setdefault(moment, {})[item] = nbytes

    def big(nbytes: int) -> int:
        return bytes_above(nbytes, above)

    t, vocab, hidden = setup.tokens, arch.vocab, arch.hidden
    compute = 4 if setup.precision == "fp32" else 2
    # the estimator's logits and their fp32 copy
    estimator_logits = big(t * vocab * compute) + (0 if compute == 4 else big(t * vocab * 4))
    tile = big(min(t, TRL_TOKEN_TILE) * TRL_VOCAB_TILE * compute)
    head_grad = big(vocab * hidden * 4) if setup.lora_rank is None else 0
    add("forward", "fused LM head", tile - estimator_logits)
    add(
        "loss backward",
        "fused LM head",
        tile + big(t * hidden * 4) + head_grad - 2 * big(t * vocab * 4),
    )

    if setup.lora_rank is not None and lora_dropout > 0:
        weight_bytes = 2 if setup.precision == "bf16" else 4
        inputs = [arch.linear_shapes()[name][0] for name in setup.lora_targets]
        layer = sum(big(t * n * weight_bytes) + big(t * n) for n in inputs)  # copy and mask
        alive = ("layers backward start",) if setup.grad_checkpointing else ALL_LAYERS
        for moment in alive:
            add(
                moment,
                "LoRA dropout copies",
                layer if setup.grad_checkpointing else arch.layers * layer,
            )
        add("layers backward end", "LoRA dropout copies", layer)

    saved = 0
    if quantized and not above:
        matrices = arch.layers * sum(i * o for i, o in arch.linear_shapes().values())
        size = 2 if setup.precision == "bf16" else 4
        saved = -int(matrices * (size - NF4_BYTES))
        for moment in (*ALL_LAYERS, "layers backward end", "optimizer step", "embedding backward"):
            add(moment, "NF4 weights", saved)
    return Overheads(by_moment, saved)
