"""Activations: what autograd keeps for backward, found by replaying the forward pass.

Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models")
count the tensors each transformer layer keeps for backward: ``sbh(34 + 5as/h)`` bytes
per layer for their GPT layer (2-byte activations, 1-byte dropout masks, a 4h GeLU MLP,
multi-head attention that stores its scores). The decoders trained here differ from that
layer in almost every term, so instead of adjusting the constant this module applies
their accounting op by op: it replays one forward pass symbolically, and each op saves
exactly what PyTorch's autograd formula for it saves, given which inputs require grad.
That is how the architecture enters:

- GQA: keys and values are ``num_key_value_heads`` wide (transformers passes
  ``enable_gqa`` to SDPA when there is no mask; with a sliding-window mask it repeats
  them to every head, and SDPA keeps the additive mask).
- SwiGLU / GeGLU: three MLP matrices; the gate output (kept by SiLU/GELU), the
  activation and the up projection (kept by their product) and the product (kept by
  ``down_proj``) are four intermediate-wide tensors.
- RMSNorm keeps its fp32 input and 1/rms; RoPE keeps cos and sin once; Qwen3 norms each
  head's queries and keys; Gemma's norm keeps its fp32 output.
- Attention scores: with ``sdpa`` the fused kernel (PyTorch's CPU flash kernel, CUDA's
  flash or memory-efficient kernels) keeps q, k, v, the output and a fp32 log-sum-exp
  per head and token, no ``seq x seq`` matrix. This is an assumption about the kernel
  torch picks; its math fallback (e.g. bf16 on GPUs older than sm80) stores scores like
  ``eager``, which keeps the fp32 softmax (and its cast under autocast).
- Precision: autocast casts every matmul input to 16 bits anew (q, k and v each get
  their own copy of the normed hidden states) and keeps a 16-bit copy of each weight
  for backward; ``bf16`` keeps fp32 upcasts inside the norms and the loss.
- Vocabulary logits: cross-entropy on the fp32 upcast keeps fp32 log-probabilities,
  ``tokens x vocab x 4`` bytes; the logits themselves are freed after the forward.
- LoRA: frozen matrices keep their input only if something before them trains; the
  adapters keep their (fp32-cast) input and the rank-wide intermediate.
- Gradient checkpointing (non-reentrant, per decoder layer) keeps each layer's input;
  during backward one layer is recomputed and holds its full activations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from haechi.build.memory import Architecture, TrainingSetup


@dataclass(eq=False)
class _Tensor:
    """A tensor of the replay: values, bytes per value, and whether it requires grad."""

    numel: int
    size: int
    grad: bool


@dataclass
class _Graph:
    """A symbolic forward pass: ``save`` records what autograd keeps, once per tensor."""

    tokens: int
    autocast: bool
    saved: dict[int, tuple[_Tensor, str]] = field(default_factory=dict)
    above: int = 0  # count only tensors larger than this many bytes (see ``activations``)

    def new(self, width: int, size: int, grad: bool) -> _Tensor:
        return _Tensor(self.tokens * width, size, grad)

    def save(self, *tensors: _Tensor, kind: str = "activation") -> None:
        for t in tensors:
            self.saved.setdefault(id(t), (t, kind))

    def cast(self, t: _Tensor, size: int) -> _Tensor:
        return t if t.size == size else _Tensor(t.numel, size, t.grad)

    def op_input(self, t: _Tensor) -> _Tensor:
        """Autocast's cast of an input of a lower-precision op (matmul, SDPA)."""
        return self.cast(t, 2) if self.autocast else t

    def total(self, kind: str | None = None) -> int:
        sizes = (t.numel * t.size for t, k in self.saved.values() if kind in (None, k))
        return sum(n for n in sizes if n > self.above)


@dataclass
class _Replay:
    arch: Architecture
    setup: TrainingSetup
    g: _Graph
    rope: tuple[_Tensor, _Tensor]

    @property
    def full(self) -> bool:
        return self.setup.lora_rank is None

    @property
    def autocast(self) -> bool:
        return self.g.autocast

    @property
    def compute(self) -> int:
        return 4 if self.setup.precision == "fp32" else 2

    @property
    def param_size(self) -> int:
        return 2 if self.setup.precision == "bf16" else 4

    def norm(self, x: _Tensor, width: int, dim: int) -> _Tensor:
        g = self.g
        x32 = g.cast(x, 4)
        if x.grad:  # pow and the rsqrt product keep the fp32 input and 1/rms
            g.save(x32, g.new(width // dim, 4, True))
        n = g.new(width, 4, x.grad)
        grad = x.grad or self.full
        if self.arch.gemma_norm:  # (n * (1 + w)).type_as(x)
            if self.full:
                g.save(n)
            if x.grad:
                g.save(_Tensor(dim, 4, False))
            return g.new(width, x.size, grad)
        n_cast = g.cast(n, x.size)  # w * n.to(input dtype)
        if self.full:
            g.save(n_cast)
        return g.new(width, max(self.param_size, x.size), grad)

    def linear(self, x: _Tensor, name: str) -> _Tensor:
        g = self.g
        n_in, n_out = self.arch.linear_shapes()[name]
        x_in = g.op_input(x)
        if self.full:
            g.save(x_in)
        if x.grad and self.autocast:  # the weight's low-precision copy, kept for grad_input
            g.save(_Tensor(n_in * n_out, 2, False), kind="weight_copy")
        out = g.new(n_out, self.compute, x.grad or self.full)
        if name not in self.setup.lora_targets or self.full:
            return out
        r = self.setup.lora_rank or 0
        xa = g.op_input(g.cast(x, 4))  # peft casts to the fp32 adapter, autocast back
        g.save(xa)
        if x.grad and self.autocast:
            g.save(_Tensor(r * n_in, 2, False), kind="weight_copy")
        a = g.new(r, 2 if self.autocast else 4, True)
        g.save(a)
        if self.autocast:
            g.save(_Tensor(n_out * r, 2, False), kind="weight_copy")
        return g.new(n_out, self.compute, True)

    def attention(self, y: _Tensor, windowed: bool) -> _Tensor:
        g, arch = self.g, self.arch
        q, k, v = (self.linear(y, n) for n in ("q_proj", "k_proj", "v_proj"))
        if arch.qk_norm:
            q, k = self.norm(q, arch.q_dim, arch.head_dim), self.norm(k, arch.kv_dim, arch.head_dim)
        if q.grad or k.grad:  # RoPE's products keep cos and sin
            g.save(*self.rope)
        rope_size = self.rope[0].size
        q = g.new(arch.q_dim, max(q.size, rope_size), q.grad)
        k = g.new(arch.kv_dim, max(k.size, rope_size), k.grad)
        grad = q.grad or k.grad or v.grad
        scores = self.setup.batch_size * arch.heads * self.setup.seq_len**2
        if self.setup.attention == "sdpa":
            # a window shorter than the sequence needs a mask, and with a mask transformers
            # repeats keys and values to every head; SDPA keeps its additive float mask
            masked = windowed and (arch.sliding_window or 0) < self.setup.seq_len
            if masked and arch.kv_heads != arch.heads:
                k, v = g.new(arch.q_dim, k.size, k.grad), g.new(arch.q_dim, v.size, v.grad)
            qs, ks, vs = g.op_input(q), g.op_input(k), g.op_input(v)
            out = g.new(arch.q_dim, qs.size, grad)
            if grad:  # inputs, output and the fp32 log-sum-exp per head and token
                g.save(qs, ks, vs, out, g.new(arch.heads, 4, False))
                if masked:
                    g.save(_Tensor(scores // arch.heads, qs.size, False))
            return self.linear(out, "o_proj")
        if arch.kv_heads != arch.heads:  # repeat_kv copies keys and values to every head
            k, v = g.new(arch.q_dim, k.size, k.grad), g.new(arch.q_dim, v.size, v.grad)
        qs, ks = g.op_input(q), g.op_input(k)
        if grad:
            g.save(qs, ks)
        probs = _Tensor(scores, 4, grad)  # softmax in fp32 keeps its output
        if grad:
            g.save(probs)
        pm, vm = g.op_input(g.cast(probs, q.size)), g.op_input(v)
        if grad:
            g.save(pm, vm)
        out = g.new(arch.q_dim, pm.size, grad)  # transpose(1, 2).contiguous() copies
        return self.linear(out, "o_proj")

    def layer(self, x: _Tensor, windowed: bool = False) -> _Tensor:
        g, h_dim = self.g, self.arch.hidden
        a = self.attention(self.norm(x, h_dim, h_dim), windowed)
        h = g.new(h_dim, max(x.size, a.size), x.grad or a.grad)
        y = self.norm(h, h_dim, h_dim)
        gate, up = self.linear(y, "gate_proj"), self.linear(y, "up_proj")
        if gate.grad:  # SiLU / GELU keep their input
            g.save(gate)
        act = g.new(self.arch.intermediate, gate.size, gate.grad)
        if act.grad:
            g.save(up)
        if up.grad:
            g.save(act)
        m = self.linear(g.new(self.arch.intermediate, act.size, act.grad or up.grad), "down_proj")
        return g.new(h_dim, max(h.size, m.size), h.grad or m.grad)


@dataclass(frozen=True)
class Activations:
    """Saved-for-backward bytes of one micro-batch, by where they are kept.

    ``*_copies`` are autocast's low-precision weight copies that backward keeps (in the
    layers, in the head, in the recomputed layer) or that autocast's cache holds until the
    forward ends (``cached_copies``: with checkpointing, nothing else holds them).
    """

    layers: int  # all layers (with checkpointing: their inputs only)
    head: int  # final norm, lm_head input, fp32 log-probabilities, labels
    shared: int  # token ids, RoPE cos/sin
    recompute: int  # with checkpointing: one layer's activations during its backward
    layer_copies: int
    head_copies: int
    recompute_copies: int
    cached_copies: int

    @property
    def saved(self) -> int:
        return self.layers + self.head + self.shared


def activations(arch: Architecture, setup: TrainingSetup, above: int = 0) -> Activations:
    """Replay the forward pass of one micro-batch and count what backward will need.

    ``above``: count only the tensors larger than this many bytes (the process model
    tells the allocator's large blocks from its small ones, ``memory_process``).
    """
    autocast = setup.precision in ("bf16-mixed", "fp16-mixed")
    residual = 2 if setup.precision == "bf16" else 4
    full = setup.lora_rank is None
    g = _Graph(setup.tokens, autocast, above=above)
    cos, sin = (_Tensor(setup.seq_len * arch.head_dim, residual, False) for _ in range(2))
    rope = (cos, sin)
    replay = _Replay(arch, setup, g, rope)
    ids = _Tensor(setup.tokens, 8, False)
    if full:  # the embedding's backward needs the token ids
        g.save(ids)
    # checkpointing makes the embedding output require grad (enable_input_require_grads)
    x = g.new(arch.hidden, residual, full or setup.grad_checkpointing)
    if arch.scaled_embedding and full:  # the product keeps the scale, in the weights' dtype
        g.save(_Tensor(1, residual, False))
    recompute = recompute_copies = cached_copies = 0
    if setup.grad_checkpointing:
        for _ in range(arch.layers):  # each checkpoint keeps its layer's input
            g.save(x)
            x = g.new(arch.hidden, residual, True)
        g.save(*rope)
        probe = _Graph(setup.tokens, autocast, saved=dict(g.saved), above=above)
        probe_x = _Tensor(setup.tokens * arch.hidden, residual, True)
        probe.save(probe_x)
        before, before_copies = probe.total("activation"), probe.total("weight_copy")
        _Replay(arch, setup, probe, rope).layer(probe_x, any(arch.sliding_layers))
        recompute = probe.total("activation") - before
        recompute_copies = probe.total("weight_copy") - before_copies
        if autocast and full:  # autocast caches a cast of every trainable weight it meets
            copies = (i * o * 2 for i, o in arch.linear_shapes().values())
            cached_copies = arch.layers * sum(n for n in copies if n > above)
    else:
        for windowed in arch.sliding_layers:
            x = replay.layer(x, windowed)
    shared = sum(
        t.numel * t.size for t in (ids, *rope) if id(t) in g.saved and t.numel * t.size > above
    )
    layers_end, layer_copies = g.total("activation"), g.total("weight_copy")
    y = replay.norm(x, arch.hidden, arch.hidden)
    y_in = g.op_input(y)
    if full:
        g.save(y_in)
    if y.grad and autocast:
        g.save(_Tensor(arch.vocab * arch.hidden, 2, False), kind="weight_copy")
    if y.grad or full:  # cross-entropy keeps fp32 log-probabilities, the labels, a weight sum
        g.save(g.new(arch.vocab, 4, True), _Tensor(setup.tokens, 8, False), _Tensor(1, 4, False))
    return Activations(
        layers=layers_end - shared,
        head=g.total("activation") - layers_end,
        shared=shared,
        recompute=recompute,
        layer_copies=layer_copies,
        head_copies=g.total("weight_copy") - layer_copies,
        recompute_copies=recompute_copies,
        cached_copies=cached_copies,
    )
