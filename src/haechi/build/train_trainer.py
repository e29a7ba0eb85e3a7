"""Assembling TRL's ``SFTTrainer`` (or, for ``objective="dpo"``, its ``DPOTrainer``) for a
``TrainConfig``: model, tokenizer, LoRA, arguments, and the callbacks that show progress
and time the optimizer steps.

This module imports torch, transformers, peft and trl at the top: only ``train`` loads it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, PeftModel
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from haechi.build.memory import Precision
from haechi.build.train_config import TrainConfig
from haechi.build.train_memory import CudaOrCpu
from haechi.errors import InputError
from haechi.progress import progress_bar

# the estimator's optimizer names → transformers' (adamw_torch: the for-loop AdamW on CPU and
# the foreach one on CUDA, which is what the estimate models)
OPTIMIZERS = {
    "adamw": "adamw_torch",
    "adamw-8bit": "adamw_bnb_8bit",
    "adafactor": "adafactor",
    "sgd": "sgd",
}


class _Counting:
    """Counts the samples and real (non-padding) tokens a trainer trains on."""

    samples = 0
    tokens = 0
    rows_per_sample = 1  # DPO batches hold each pair's chosen and rejected rows

    def training_step(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if "attention_mask" in inputs:
            mask = inputs["attention_mask"]
            self.samples += int(mask.shape[0]) // self.rows_per_sample
            self.tokens += int(mask.sum())
        else:  # padding-free packing: one flattened row; each sequence restarts its positions
            positions = inputs["position_ids"]
            self.samples += int((positions == 0).sum())
            self.tokens += int(positions.numel())
        return super().training_step(model, inputs, *args, **kwargs)  # type: ignore[misc]


class CountingSFTTrainer(_Counting, SFTTrainer):
    """``SFTTrainer`` that counts the sequences and real tokens it trains on."""


class CountingDPOTrainer(_Counting, DPOTrainer):
    """``DPOTrainer`` that counts the pairs and the real tokens of both answers."""

    rows_per_sample = 2


CountingTrainer = CountingSFTTrainer | CountingDPOTrainer


class StepMeter(TrainerCallback):
    """A progress bar over optimizer steps, the seconds spent inside them, and what the
    first one trained (``trainer``'s counts when it ended)."""

    def __init__(
        self,
        stack: contextlib.ExitStack,
        show: bool,
        device: CudaOrCpu,
        trainer: CountingTrainer,
    ) -> None:
        self.stack = stack
        self.show = show
        self.device = device
        self.trainer = trainer
        self.seconds = 0.0
        self.steps = 0
        self.first_step = (0, 0, 0.0)  # samples, tokens, seconds
        self._started = 0.0
        self._advance: Any = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        bar = progress_bar("training", state.max_steps, show=self.show, unit="steps")
        self._advance = self.stack.enter_context(bar)
        self._advance(state.global_step)  # a resumed run starts where its checkpoint was

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self._started = time.perf_counter()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if self.device == "cuda":  # the step's kernels are queued, not done
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - self._started
        self.steps += 1
        if self.steps == 1:
            self.first_step = (self.trainer.samples, self.trainer.tokens, self.seconds)
        self._advance(1)


def load_tokenizer(config: TrainConfig) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(config.model, revision=config.revision)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot load a tokenizer from {config.model!r}: {exc}", field="model"
        ) from exc


def load_model(config: TrainConfig, precision: Precision) -> PreTrainedModel:
    """The base model: fp32, or bfloat16 for ``bf16``; QLoRA quantises its projections to NF4."""
    kwargs: dict[str, Any] = {
        "revision": config.revision,
        "attn_implementation": config.attention,
        "dtype": torch.bfloat16 if precision == "bf16" else torch.float32,
    }
    if config.method == "qlora":
        from transformers import BitsAndBytesConfig

        compute = {"fp16-mixed": torch.float16, "fp32": torch.float32}.get(
            precision, torch.bfloat16
        )
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        kwargs["device_map"] = {"": 0}
    try:
        model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(config.model, **kwargs)
    except OSError as exc:
        raise InputError(f"cannot load model {config.model!r}: {exc}", field="model") from exc
    return model


def lora_config(config: TrainConfig) -> LoraConfig:
    return LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        task_type="CAUSAL_LM",
    )


def training_arguments(
    config: TrainConfig, precision: Precision, device: CudaOrCpu, has_eval: bool
) -> SFTConfig | DPOConfig:
    """TRL's arguments (``DPOConfig`` for DPO, ``SFTConfig`` otherwise); progress and logs
    are ours (``StepMeter``), not its printer."""
    dpo = config.objective == "dpo"
    kind = DPOConfig if dpo else SFTConfig
    # transformers 5 renamed gradient_checkpointing; the old name warns on every run
    names = {f.name for f in dataclasses.fields(kind)}
    checkpointing = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    extra: dict[str, Any] = {checkpointing: config.grad_checkpointing}
    if (
        config.optimizer == "sgd"
    ):  # the estimator counts a momentum buffer; transformers' default has none
        extra["optim_args"] = "momentum=0.9"
    if config.tf32:
        extra["tf32"] = True
    if dpo:
        extra |= {
            "beta": config.beta,
            "loss_type": [config.dpo_loss],
            "precompute_ref_log_probs": config.precompute_ref,
        }
    else:
        extra |= {"packing": config.packing, "assistant_only_loss": config.assistant_only_loss}
    return kind(
        output_dir=str(config.output),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.lr,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        optim=OPTIMIZERS[config.optimizer],
        bf16=precision == "bf16-mixed",
        fp16=precision == "fp16-mixed",
        max_length=config.max_length,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if has_eval and config.eval_steps else "no",
        eval_steps=config.eval_steps,
        report_to="none",
        disable_tqdm=True,
        use_cpu=device == "cpu",
        **extra,
    )


def build_trainer(
    config: TrainConfig,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    args: SFTConfig | DPOConfig,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
) -> CountingTrainer:
    """The trainer, with the datasets tokenized (and packed) and the adapters attached.
    Full DPO loads a second copy of ``config.model`` as its frozen reference, unless the
    reference log-probabilities are precomputed; with adapters the base is the reference."""
    from datasets import Dataset

    common: dict[str, Any] = {"args": args}  # SFTConfig or DPOConfig, as ``kind`` takes
    kind: type[CountingTrainer] = CountingSFTTrainer
    if config.objective == "dpo":
        kind = CountingDPOTrainer
        if config.method == "full" and not config.precompute_ref:
            precision: Precision = "bf16" if model.dtype == torch.bfloat16 else "fp32"
            common["ref_model"] = load_model(config, precision).eval()
    trainer = kind(
        model=model,
        **common,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=None if config.method == "full" else lora_config(config),
    )
    for printer in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(printer)
    return trainer


def merge_adapter(config: TrainConfig, adapter: Path, out: Path, tokenizer: Any) -> Path:
    """Fold the adapter into a fresh copy of the base (its own dtype, unquantised) and save
    the merged model with the tokenizer, loadable by transformers alone."""
    base = AutoModelForCausalLM.from_pretrained(
        config.model, revision=config.revision, dtype="auto", attn_implementation=config.attention
    )
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Hold back transformers' and datasets' own progress bars (loading weights, tokenizing)
    and the deprecation warnings that TRL's and peft's own calls into transformers raise."""
    import datasets
    from transformers.utils import logging as hf_logging

    hf_was, ds_was = hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r".*is deprecated and will be removed in v6",
                category=FutureWarning,
            )
            yield
    finally:
        if hf_was:
            hf_logging.enable_progress_bar()
        if ds_was:
            datasets.enable_progress_bars()
