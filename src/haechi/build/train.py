"""Supervised fine-tuning on one device: full, LoRA or QLoRA, through TRL's ``SFTTrainer``.

``train(config)`` reads and validates the data (``train_data``), estimates the peak memory
of a step and refuses a run that will not fit (``train_memory``), builds the trainer
(``train_trainer``), trains (or resumes from the last checkpoint), evaluates, saves the
adapter or the model (and the merged model), and writes ``train_report.json``.

Continued pre-training (``objective="causal-lm"``) reads raw text (``train_text``) and
trains on every token; held-out perplexity (``perplexity``) is measured before and after.
Preference tuning (``objective="dpo"``) reads pairs (``preference_data``) into TRL's
``DPOTrainer`` on the same path: the same memory check (with the reference model),
checkpoints, resume and report, plus TRL's reward margins and accuracies.

Loss: ``prompt``/``response`` lines become TRL prompt-completion rows, so the prompt's
tokens are masked from the loss (``completion_only_loss``); ``messages`` lines train on the
whole conversation, or on the assistant's turns only with ``assistant_only_loss`` (TRL
needs ``{% generation %}`` markers in the chat template, or a template it knows).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import time
from collections.abc import Sized
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from haechi.build.memory import Precision, load_config
from haechi.build.perplexity import perplexity
from haechi.build.preference_data import (
    PreferenceData,
    PreferencePair,
    preference_records,
    read_preferences,
)
from haechi.build.train_config import (
    DataSummary,
    LossOn,
    LossPoint,
    MemoryCheck,
    ModelIdentity,
    PeakMemory,
    PreferencePoint,
    Throughput,
    TrainConfig,
    TrainReport,
)
from haechi.build.train_data import Example, TrainData, read_examples, split_eval, to_records
from haechi.build.train_memory import (
    CudaOrCpu,
    DoesNotFitError,
    check_memory,
    comparable_estimate,
    measure_peak,
    resolve_device,
    resolve_precision,
)
from haechi.build.train_text import document_text, read_texts
from haechi.errors import InputError, MissingExtraError
from haechi.io import write_json_atomic
from haechi.versions import package_versions

if TYPE_CHECKING:
    from haechi.build.train_trainer import CountingTrainer

log = logging.getLogger(__name__)
REPORT_FILE = "train_report.json"
VERSIONS = ("trl", "peft", "accelerate", "datasets", "bitsandbytes")
TRAIN_EXTRA = ("peft", "trl", "datasets")  # what the `train` extra adds to `hf`


def plan_memory(config: TrainConfig) -> MemoryCheck:
    """The memory check ``train`` makes first, without training: reads only the model's
    config. Raises ``InputError`` for settings this machine cannot run."""
    device = resolve_device(config)
    _check_support(config, device, resolve_precision(config, device))
    return check_memory(config, load_config(config.model))


def train(config: TrainConfig, *, progress: bool = True) -> TrainReport:
    """Fine-tune ``config.model`` on ``config.data``; returns (and writes) the report.

    Raises ``DoesNotFitError`` (an ``InputError``) when the estimated peak exceeds the
    memory limit and ``config.force`` is off; ``InputError`` for bad data, settings this
    machine cannot run, or a checkpoint folder that ``resume`` disagrees with;
    ``MissingExtraError`` (exit 2) without the `train` extra (peft, trl, datasets), or
    without bitsandbytes for QLoRA or 8-bit AdamW.
    """
    started, clock = datetime.now(UTC), time.perf_counter()
    device = resolve_device(config)
    precision = resolve_precision(config, device)
    _check_support(config, device, precision)
    data: TrainData | PreferenceData
    eval_data: TrainData | PreferenceData | None
    if config.objective == "dpo":
        data, eval_data, train_pairs, eval_pairs = _pairs(config)
        n_train, n_eval = len(train_pairs), len(eval_pairs)
    else:
        data, eval_data, train_examples, eval_examples = _examples(config)
        n_train, n_eval = len(train_examples), len(eval_examples)
    resume_from = _resume_point(config)
    hf_config = load_config(config.model)
    check = check_memory(config, hf_config)
    if check.fits is False:
        if not config.force:
            raise DoesNotFitError(check)
        log.warning("the estimated peak exceeds the memory limit; training anyway (force)")
    if check.estimate is None:
        log.warning(
            "no memory estimate for %s models: the memory check is skipped", hf_config.model_type
        )

    from haechi.build import train_trainer as tt

    with tt.quiet_libraries():
        tokenizer = tt.load_tokenizer(config)
        chat = bool(getattr(tokenizer, "chat_template", None))
        if data.format == "messages" and not chat:
            raise InputError(
                f"the tokenizer of {config.model!r} has no chat template to render 'messages'",
                file=str(config.data),
                hint="give prompt/response lines, or a tokenizer whose tokenizer_config.json "
                "sets chat_template",
            )
        if config.objective == "dpo":
            rows = preference_records(train_pairs, chat), preference_records(eval_pairs, chat)
            held_out = []
        else:
            assert isinstance(data, TrainData)
            rows = (
                to_records(train_examples, data.format, chat),
                to_records(eval_examples, data.format, chat),
            )
            held_out = [document_text(e) for e in eval_examples] if data.format == "text" else []
        model = tt.load_model(config, precision)
        before_ppl = perplexity(model, tokenizer, held_out, config.max_length) if held_out else None
        args = tt.training_arguments(config, precision, device, n_eval > 0)
        trainer = tt.build_trainer(config, model, tokenizer, args, *rows)
        too_long = 0
        if config.objective == "dpo":  # TRL drops pairs whose prompt leaves no answer token
            too_long = n_train - len(cast(Sized, trainer.train_dataset))
            if too_long == n_train:
                raise InputError(
                    f"every prompt fills --max-length {config.max_length}: no answer to train on",
                    file=str(config.data),
                    field="max-length",
                )
        # the tensors alive before the steps: the model (with its adapters) and DPO's reference
        loaded = [model, getattr(trainer, "ref_model", None)]
        before = sum(
            t.numel() * t.element_size()
            for m in loaded
            if m is not None
            for t in [*m.parameters(), *m.buffers()]
        )
        with contextlib.ExitStack() as stack:
            meter = tt.StepMeter(stack, progress, device, trainer)
            trainer.add_callback(meter)
            _, peak, method = measure_peak(
                device,
                before,
                lambda: trainer.train(resume_from_checkpoint=resume_from),
                config.cpu_peak,
            )
        if n_eval and not _evaluated_at_end(trainer):
            trainer.evaluate()
        outputs = _save(config, trainer, tokenizer)
        after_ppl = (
            perplexity(trainer.model, tokenizer, held_out, config.max_length) if held_out else None
        )
    report = TrainReport(
        config=config,
        base_model=_identity(config, hf_config, trainer),
        data=_summary(config, data, eval_data, n_train, n_eval, chat, too_long),
        device_name=_device_name(device),
        memory=check,
        forced=check.fits is False,
        peak=PeakMemory(bytes=peak, method=method, estimated=comparable_estimate(check, method)),
        throughput=Throughput(
            steps=meter.steps,
            samples=trainer.samples,
            tokens=trainer.tokens,
            seconds=meter.seconds,
            first_step_samples=meter.first_step[0],
            first_step_tokens=meter.first_step[1],
            first_step_seconds=meter.first_step[2],
        ),
        global_step=trainer.state.global_step,
        resumed_from=resume_from,
        losses=_points(trainer, "loss"),
        eval_losses=_points(trainer, "eval_loss"),
        outputs=outputs,
        perplexity_before=before_ppl,
        perplexity_after=after_ppl,
        preferences=_preference_points(trainer, ""),
        eval_preferences=_preference_points(trainer, "eval_"),
        versions=package_versions(VERSIONS),
        started_at=started.isoformat(timespec="seconds"),
        wall_seconds=time.perf_counter() - clock,
    )
    write_json_atomic(config.output / REPORT_FILE, report.model_dump(mode="json"))
    return report


def _check_support(config: TrainConfig, device: CudaOrCpu, precision: Precision) -> None:
    """Refuse early what this device or these libraries cannot run."""
    for package in TRAIN_EXTRA:
        # find_spec imports nothing; it is None for a missing package (or a None in sys.modules)
        if importlib.util.find_spec(package) is None:
            raise MissingExtraError(package, "train")
    cuda_only = {
        "QLoRA (bitsandbytes 4-bit)": config.method == "qlora",
        "8-bit AdamW (bitsandbytes)": config.optimizer == "adamw-8bit",
        "fp16 mixed precision": precision == "fp16-mixed",
        "TF32 matmuls": config.tf32,
    }
    for what, wanted in cuda_only.items():
        if wanted and device != "cuda":
            raise InputError(f"{what} needs a CUDA GPU", field="device", hint="run it on a GPU")
    if config.method == "qlora" or config.optimizer == "adamw-8bit":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError("bitsandbytes", "train") from exc


def _examples(
    config: TrainConfig,
) -> tuple[TrainData, TrainData | None, list[Example], list[Example]]:
    """The data files read and checked, and the training and held-out examples."""
    read = read_texts if config.objective == "causal-lm" else read_examples
    data = read(config.data)
    if config.assistant_only_loss and data.format != "messages":
        raise InputError(
            "assistant-only loss applies to 'messages' data; prompt/response lines already "
            "train on the response only",
            field="assistant-only-loss",
        )
    eval_data = read(config.eval_data) if config.eval_data else None
    if eval_data is not None and eval_data.format != data.format:
        raise InputError(
            f"holds {eval_data.format} lines but the training data holds {data.format}",
            file=str(eval_data.path),
            hint="evaluate on examples of the training data's shape",
        )
    train_examples, eval_examples = data.examples, eval_data.examples if eval_data else []
    if config.eval_fraction is not None:
        train_examples, eval_examples = split_eval(data.examples, config.eval_fraction, config.seed)
    return data, eval_data, train_examples, eval_examples


def _pairs(
    config: TrainConfig,
) -> tuple[PreferenceData, PreferenceData | None, list[PreferencePair], list[PreferencePair]]:
    """The preference files read, and the training and held-out pairs."""
    source = config.data_format or "pairs"
    data = read_preferences(config.data, source)
    eval_data = read_preferences(config.eval_data, source) if config.eval_data else None
    train_pairs, eval_pairs = data.pairs, eval_data.pairs if eval_data else []
    if config.eval_fraction is not None:
        train_pairs, eval_pairs = split_eval(data.pairs, config.eval_fraction, config.seed)
    return data, eval_data, train_pairs, eval_pairs


def _resume_point(config: TrainConfig) -> str | None:
    """The checkpoint to resume from; a run that would overwrite checkpoints is refused."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(config.output)) if config.output.is_dir() else None
    if config.resume and last is None:
        raise InputError(
            "no checkpoint-* folder to resume from",
            file=str(config.output),
            field="resume",
            hint="run without --resume to start training",
        )
    if not config.resume and last is not None:
        raise InputError(
            f"already holds {Path(last).name} of an earlier run",
            file=str(config.output),
            hint="pass --resume to continue it, or choose another --output",
        )
    return last


def _evaluated_at_end(trainer: CountingTrainer) -> bool:
    history = trainer.state.log_history
    return any("eval_loss" in h and h.get("step") == trainer.state.global_step for h in history)


def _save(config: TrainConfig, trainer: CountingTrainer, tokenizer: Any) -> dict[str, str]:
    """``model`` (full) or ``adapter`` (LoRA/QLoRA), each saved with the tokenizer, and
    ``merged`` when asked."""
    from haechi.build.train_trainer import merge_adapter

    kind = "model" if config.method == "full" else "adapter"
    folder = config.output / kind
    trainer.save_model(str(folder))
    outputs = {kind: str(folder)}
    if config.merge:
        outputs["merged"] = str(merge_adapter(config, folder, config.output / "merged", tokenizer))
    return outputs


def _identity(config: TrainConfig, hf_config: Any, trainer: CountingTrainer) -> ModelIdentity:
    from haechi.models.fingerprint import weights_hash

    local = Path(config.model)
    model: Any = trainer.model
    if hasattr(model, "get_nb_trainable_parameters"):  # peft counts 4-bit weights unpacked
        trainable, total = model.get_nb_trainable_parameters()
    else:
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelIdentity(
        model=str(local.resolve()) if local.is_dir() else config.model,
        family=str(hf_config.model_type),
        revision=config.revision
        or (None if local.is_dir() else getattr(hf_config, "_commit_hash", None)),
        weights_hash=weights_hash(local) if local.is_dir() else None,
        dtype="nf4+" + str(model.dtype).removeprefix("torch.")
        if config.method == "qlora"
        else str(model.dtype).removeprefix("torch."),
        parameters=int(total),
        trainable_parameters=int(trainable),
    )


def _summary(
    config: TrainConfig,
    data: TrainData | PreferenceData,
    eval_data: TrainData | PreferenceData | None,
    n_train: int,
    n_eval: int,
    chat: bool,
    too_long: int = 0,
) -> DataSummary:
    loss_on: LossOn = "all" if data.format == "text" else "completion"  # dpo: the answers
    if data.format == "messages":
        loss_on = "assistant" if config.assistant_only_loss else "all"
    return DataSummary(
        file=str(data.path),
        sha256=data.sha256,
        format=data.format,
        chat_template=chat,
        loss_on=loss_on,
        train_examples=n_train - too_long,
        eval_file=str(eval_data.path) if eval_data else None,
        eval_sha256=eval_data.sha256 if eval_data else None,
        eval_examples=n_eval,
        dropped={
            **(data.dropped if isinstance(data, PreferenceData) else {}),
            **({"prompts that fill max-length": too_long} if too_long else {}),
        },
    )


def _points(trainer: CountingTrainer, key: str) -> list[LossPoint]:
    return [
        LossPoint(step=int(h["step"]), loss=float(h[key]))
        for h in trainer.state.log_history
        if key in h
    ]


def _preference_points(trainer: CountingTrainer, prefix: str) -> list[PreferencePoint]:
    """TRL's DPO metrics (``rewards/...``, ``eval_rewards/...`` for held-out pairs)."""
    keys = {
        "margin": "margins",
        "accuracy": "accuracies",
        "chosen": "chosen",
        "rejected": "rejected",
    }
    return [
        PreferencePoint(
            step=int(h["step"]),
            **{name: float(h[f"{prefix}rewards/{key}"]) for name, key in keys.items()},
        )
        for h in trainer.state.log_history
        if f"{prefix}rewards/margins" in h
    ]


def _device_name(device: CudaOrCpu) -> str:
    if device == "cpu":
        import platform

        return f"cpu ({platform.processor() or platform.machine()})"
    import torch

    return f"cuda ({torch.cuda.get_device_name(0)})"
