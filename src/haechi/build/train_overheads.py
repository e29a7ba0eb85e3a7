"""What TRL, peft and bitsandbytes change in the estimator's training step.

``memory_estimate`` models a plain training loop (the model's own loss, LoRA without
dropout, 16/32-bit weights); measured against it on CPU with torch's allocator events, a
TRL ``SFTTrainer`` step differs in three places, and a ``DPOTrainer`` step in a fourth,
each added here to the moments of the step it changes (bytes; negative when it saves):

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

- DPO forwards each pair's chosen and rejected answers as two rows (the caller doubles
  the setup's batch) and keeps a frozen reference: a second copy of the weights for full
  fine-tuning (``reference``; none with LoRA, whose base with the adapters disabled is the
  reference, nor with precomputed reference log-probabilities), alive in every moment.
  Its forward runs under ``no_grad`` after the policy's, while the policy's saved
  activations wait for the backward: the moment ``reference forward``, the policy's
  ``forward`` with the reference's working set (one layer's ``t(2h + 3i)`` values) in
  place of the LM-head tile when that is larger. TRL turns dropout off for DPO, so LoRA
  dropout makes no copies there (the caller passes ``lora_dropout=0``).

``above`` counts only the transient tensors larger than that many bytes (what the
allocator maps apart, ``memory_process``); the NF4 and reference weights are left out then.
"""

from __future__ import annotations

from dataclasses import dataclass

from haechi.build.memory import Architecture, TrainingSetup
from haechi.build.memory_estimate import bytes_above

NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)  # 8-bit absmax per 64 values, fp32 per 256 of those
TRL_TOKEN_TILE = 4096  # trl.kernels.chunked_logprob.TOKEN_CHUNK_SIZE
TRL_VOCAB_TILE = 32768  # trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE
ALL_LAYERS = ("forward", "loss backward", "layers backward start")
REFERENCE_FORWARD = "reference forward"


@dataclass(frozen=True)
class Overheads:
    """Bytes to add to each of the estimator's moments, by item."""

    by_moment: dict[str, dict[str, int]]
    persistent: int = 0  # the part of every moment's change that lives all step (NF4 weights)
    reference_forward: bool = False  # DPO: the moment of the reference's forward exists

    def apply(self, moments: dict[str, int]) -> dict[str, int]:
        """The estimator's moments with these overheads added (with DPO's ``reference
        forward``, which starts from the policy's ``forward``)."""
        if self.reference_forward:
            moments = {**moments, REFERENCE_FORWARD: moments["forward"]}
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
    *,
    reference: int | None = None,
) -> Overheads:
    """The differences for ``setup`` on ``arch`` (see the module docstring); ``reference``:
    for DPO, the bytes of the reference model's weights (0 when there is none)."""
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

    every: tuple[str, ...] = (
        *ALL_LAYERS,
        "layers backward end",
        "optimizer step",
        "embedding backward",
    )
    if reference is not None:
        every += (REFERENCE_FORWARD,)
    saved = 0
    if quantized and not above:
        matrices = arch.layers * sum(i * o for i, o in arch.linear_shapes().values())
        size = 2 if setup.precision == "bf16" else 4
        saved = -int(matrices * (size - NF4_BYTES))
        for moment in every:
            add(moment, "NF4 weights", saved)
    persistent = saved
    if reference is not None:
        layer = big(t * 2 * hidden * compute) + 3 * big(t * arch.intermediate * compute)
        add(REFERENCE_FORWARD, "fused LM head", tile - estimator_logits)
        add(REFERENCE_FORWARD, "reference layer", max(0, layer - tile))
        if reference and not above:
            persistent += reference
            for moment in every:
                add(moment, "reference model", reference)
    return Overheads(by_moment, persistent, reference is not None)
