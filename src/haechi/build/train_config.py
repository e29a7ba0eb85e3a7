"""The settings of a fine-tuning run and the record it leaves (``train_report.json``).

Sizes are bytes, times seconds, throughput per second of optimizer steps (forward,
backward and optimizer update; evaluation and checkpoint saving left out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, computed_field, model_validator

from haechi.build.memory import (
    LINEAR_NAMES,
    Attention,
    MemoryEstimate,
    OptimizerName,
    Precision,
    ProcessPeak,
)
from haechi.build.perplexity import Perplexity
from haechi.build.preference_data import PreferenceFormat
from haechi.build.train_data import DataFormat
from haechi.errors import InputError

Method = Literal["full", "lora", "qlora"]
TrainDevice = Literal["auto", "cuda", "cpu"]
LossOn = Literal["all", "completion", "assistant"]
# sft: chat or prompt/response examples; causal-lm: continued pre-training on raw text;
# dpo: preference pairs (TRL's DPOTrainer)
Objective = Literal["sft", "causal-lm", "dpo"]

DEFAULT_LR = {"full": 2e-5, "lora": 2e-4, "qlora": 2e-4}
# DPO moves the policy away from a reference by small steps (TRL's default is 1e-6)
DPO_LR = {"full": 1e-6, "lora": 5e-6, "qlora": 5e-6}
DPO_LOSSES = ("sigmoid", "ipo", "hinge", "robust", "sppo_hard", "apo_zero", "sigmoid_norm")


class TrainConfig(BaseModel):
    """A supervised fine-tuning run (TRL's ``SFTTrainer``) on one device.

    ``model``: a hub id or a model folder (``revision`` for hub ids). ``data``: a jsonl of
    ``messages`` or ``prompt``/``response`` lines (see ``train_data``); ``eval_data`` or
    ``eval_fraction`` holds some out. ``method``: ``full`` (every weight), ``lora``
    (adapters on ``lora_targets``, base frozen) or ``qlora`` (LoRA on a 4-bit NF4 base;
    CUDA and bitsandbytes only). ``precision`` uses the memory estimator's names: ``fp32``,
    ``bf16-mixed``/``fp16-mixed`` (fp32 weights, autocast), ``bf16`` (the model in
    bfloat16); ``auto`` is bf16-mixed on a GPU that supports it, fp32 otherwise (bf16 for
    QLoRA). Each optimizer step sees ``batch_size`` x ``grad_accum`` sequences of at most
    ``max_length`` tokens. Training runs ``epochs`` epochs unless ``max_steps`` is given.

    ``objective``: ``sft`` (the data above) or ``causal-lm``, continued pre-training on raw
    text (``train_text``: .txt, jsonl ``text`` or parquet), every token in the loss; with
    ``packing`` documents share rows but not attention (position ids restart per document),
    and held-out perplexity is measured before and after training.

    ``objective="dpo"``: direct preference optimisation on pairs (``preference_data``) read
    as ``data_format`` (``pairs``, ``arena``, ``review`` or ``judge``); ``beta`` is DPO's
    β (higher keeps the policy closer to the reference), ``dpo_loss`` TRL's ``loss_type``.
    The reference is the base with the adapters disabled for LoRA/QLoRA (no second copy of
    the weights); for full fine-tuning a second copy of the model, unless
    ``precompute_ref`` computes the reference log-probabilities once before training.
    ``max_length`` bounds prompt + answer; each pair trains on two sequences.

    ``memory_limit`` (bytes) is what the step may use: by default the GPU's memory, or on
    CPU the available RAM. A run whose estimated peak exceeds it is refused unless
    ``force``. ``cpu_peak``: how the CPU peak is read, the resident set (cheap) or torch's
    allocator events (exact tensor bytes, but the profiler slows every op and keeps every
    event). ``resume`` continues from the last checkpoint in ``output``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    data: Path
    output: Path
    objective: Objective = "sft"
    data_format: PreferenceFormat | None = None  # dpo only; None: pairs
    beta: float = Field(default=0.1, gt=0)
    dpo_loss: str = "sigmoid"
    precompute_ref: bool = False
    revision: str | None = None
    eval_data: Path | None = None
    eval_fraction: float | None = Field(default=None, gt=0, lt=1)
    method: Method = "lora"
    epochs: float = Field(default=1.0, gt=0)
    max_steps: PositiveInt | None = None
    batch_size: PositiveInt = 1
    grad_accum: PositiveInt = 1
    max_length: PositiveInt = 1024
    learning_rate: float | None = Field(default=None, gt=0)
    warmup_steps: int = Field(default=0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0)
    optimizer: OptimizerName = "adamw"
    precision: Precision | Literal["auto"] = "auto"
    tf32: bool = False
    grad_checkpointing: bool = False
    packing: bool = False
    assistant_only_loss: bool = False
    lora_rank: PositiveInt = 16
    lora_alpha: PositiveInt = 32
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    lora_targets: tuple[str, ...] = LINEAR_NAMES
    attention: Attention = "sdpa"
    seed: int = 0
    device: TrainDevice = "auto"
    memory_limit: PositiveInt | None = None
    cpu_peak: Literal["rss", "profiler"] = "rss"
    force: bool = False
    resume: bool = False
    merge: bool = False
    logging_steps: PositiveInt = 10
    save_steps: PositiveInt = 500
    save_total_limit: PositiveInt = 2
    eval_steps: PositiveInt | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        # InputError, not ValueError: pydantic passes it through, so the message names the
        # option instead of showing the whole dict of settings as the "input"
        if self.eval_data is not None and self.eval_fraction is not None:
            raise InputError("give eval_data or eval_fraction, not both", field="eval-fraction")
        if self.merge and self.method == "full":
            raise InputError(
                "--merge folds LoRA/QLoRA adapters into the base; --method full has no "
                "adapter and already saves the whole trained model in OUTPUT/model",
                field="merge",
                hint="drop --merge",
            )
        if self.objective == "causal-lm" and self.assistant_only_loss:
            raise InputError(
                "raw text has no assistant turns: causal-lm trains on every token",
                field="assistant-only-loss",
            )
        if self.objective != "dpo":
            given = {
                "data_format": self.data_format is not None,
                "precompute_ref": self.precompute_ref,
            }
            given |= {"beta": self.beta != 0.1, "dpo_loss": self.dpo_loss != "sigmoid"}
            for name, set_ in given.items():
                if set_:
                    raise InputError(
                        f"{name.replace('_', '-')} applies to --objective dpo",
                        field=name.replace("_", "-"),
                    )
        elif self.packing or self.assistant_only_loss:
            raise InputError(
                "DPO trains on the answers of preference pairs: no packing, no assistant-only loss",
                field="packing" if self.packing else "assistant-only-loss",
            )
        if self.dpo_loss not in DPO_LOSSES:
            raise InputError(
                f"unknown DPO loss {self.dpo_loss!r}",
                field="dpo-loss",
                hint="one of " + ", ".join(DPO_LOSSES),
            )
        if self.eval_steps is not None and self.eval_data is None and self.eval_fraction is None:
            raise InputError(
                "eval_steps needs eval_data or eval_fraction",
                field="eval-steps",
                hint="give --eval-data or --eval-fraction",
            )
        return self

    @property
    def lr(self) -> float:
        """The learning rate: as given, or 2e-4 for LoRA/QLoRA and 2e-5 for full fine-tuning
        (DPO: 5e-6 and 1e-6)."""
        defaults = DPO_LR if self.objective == "dpo" else DEFAULT_LR
        return self.learning_rate or defaults[self.method]


class ModelIdentity(BaseModel):
    """Which base model was trained: ``revision`` is the hub commit (or the one asked for);
    ``weights_hash`` the sha256 over a local folder's weights (``models.fingerprint``)."""

    model: str
    family: str
    revision: str | None
    weights_hash: str | None
    dtype: str
    parameters: int
    trainable_parameters: int


class DataSummary(BaseModel):
    """The training and evaluation examples and what the loss is computed on."""

    file: str
    sha256: str
    format: DataFormat | PreferenceFormat
    chat_template: bool
    loss_on: LossOn
    train_examples: int
    eval_file: str | None = None
    eval_sha256: str | None = None
    eval_examples: int = 0
    dropped: dict[str, int] = {}  # dpo: rows of the sources left without a pair, by reason


class MemoryCheck(BaseModel):
    """The estimated peak of a training step next to the memory the run may use.

    ``estimate`` is the estimator's plain training loop (``None`` for model families it
    does not cover: the check is then skipped); ``moments`` are its moments with what
    TRL, peft and bitsandbytes change (``train_overheads``), and ``overheads`` those
    changes at the run's peak moment. ``process`` is the expected peak of the training
    process (``memory_process``), the figure compared with ``limit``. ``advice`` maps a
    change of settings (CLI flags) that fits to its expected process peak.
    """

    device: Literal["cuda", "cpu"]
    precision: Precision
    limit: int
    limit_source: str
    estimate: MemoryEstimate | None
    moments: dict[str, int] = {}
    overheads: dict[str, int] = {}
    process: ProcessPeak | None = None
    advice: dict[str, int] = {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def peak_moment(self) -> str | None:
        return max(self.moments, key=lambda name: self.moments[name]) if self.moments else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int | None:
        """The tensors alive at the peak of this run (bytes)."""
        return max(self.moments.values()) if self.moments else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fits(self) -> bool | None:
        return None if self.process is None else self.process.total <= self.limit


class Throughput(BaseModel):
    """Work done inside optimizer steps in this session (a resumed run counts its own).

    ``samples`` are training sequences (a packed row counts each sequence it holds; a
    DPO pair, two sequences, counts once);
    ``tokens`` are real tokens, padding left out. The rates leave out the session's first
    step (``first_step_*``: lazy allocations, kernel selection) when it ran more than one.
    """

    steps: int
    samples: int
    tokens: int
    seconds: float
    first_step_samples: int
    first_step_tokens: int
    first_step_seconds: float

    def _rate(self, count: int, first: int) -> float:
        if self.steps > 1:
            count, seconds = count - first, self.seconds - self.first_step_seconds
        else:
            seconds = self.seconds
        return count / seconds if seconds > 0 else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def samples_per_second(self) -> float:
        return self._rate(self.samples, self.first_step_samples)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tokens_per_second(self) -> float:
        return self._rate(self.tokens, self.first_step_tokens)


class PeakMemory(BaseModel):
    """The measured peak of this session's training (bytes) and how it was read, next to
    the estimate comparable with it: the process's figure for the resident set, the
    tensors at the peak for the allocators' counts (CUDA, ``--cpu-peak profiler``)."""

    bytes: int
    method: str
    estimated: int | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def relative_error(self) -> float | None:
        """(estimated − measured) / measured: positive when the estimate is too high."""
        if self.estimated is None or not self.bytes:
            return None
        return (self.estimated - self.bytes) / self.bytes


class LossPoint(BaseModel):
    step: int
    loss: float


class PreferencePoint(BaseModel):
    """TRL's DPO metrics at a logged step: rewards are β x the log-probability ratio to
    the reference (nats); ``margin`` chosen − rejected, ``accuracy`` the share of pairs
    whose chosen reward is higher."""

    step: int
    margin: float
    accuracy: float
    chosen: float
    rejected: float


class TrainReport(BaseModel):
    """Everything needed to reproduce and judge a run; written to ``train_report.json``."""

    config: TrainConfig
    base_model: ModelIdentity
    data: DataSummary
    device_name: str
    memory: MemoryCheck
    forced: bool
    peak: PeakMemory
    throughput: Throughput
    global_step: int
    resumed_from: str | None
    losses: list[LossPoint]
    eval_losses: list[LossPoint]
    outputs: dict[str, str]  # adapter | model | merged -> folder
    perplexity_before: Perplexity | None = None  # causal-lm with held-out text
    perplexity_after: Perplexity | None = None
    preferences: list[PreferencePoint] = []  # dpo: training batches as logged
    eval_preferences: list[PreferencePoint] = []  # dpo: held-out pairs
    versions: dict[str, str]
    started_at: str
    wall_seconds: float
