"""Training a GeDi from a small causal LM: GeDi's hybrid objective, checkpoints, resume.

The base tokenizer gains two special tokens, the control codes (``CONTROL_TOKENS``); each
text is read after both, as one batch, and the loss is ``λ · L_g + (1 − λ) · L_d`` (see
``GediTraining``). Every ``save_every`` steps the weights, optimizer, schedule and RNG
state go to ``OUT/checkpoints/step-N``; a later call with the same base, data and
settings continues from the newest one. Batches come from a seeded permutation per epoch,
so a resumed run sees the same batches an uninterrupted one would.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from haechi.errors import InputError, MissingExtraError
from haechi.guard.data import LabelledSet
from haechi.guard.gedi_config import (
    CONFIG_FILE,
    CONTROL_TOKENS,
    GediConfig,
    GediTraining,
    write_config,
)
from haechi.guard.gedi_model import class_logits, conditional_logprob_sums, encode_text
from haechi.models.fingerprint import digest
from haechi.models.spec import parse_spec
from haechi.progress import progress_bar
from haechi.versions import package_versions

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.pt"
StepCallback = Callable[[int, float], None]


@dataclass(frozen=True)
class TrainResult:
    """``steps`` in all; ``resumed_from`` the step this call started at; ``mean_loss``
    over the steps this call ran (nan when none ran)."""

    out: Path
    steps: int
    resumed_from: int
    mean_loss: float
    seconds: float


def train_gedi(
    base: str,
    data: LabelledSet,
    out: Path,
    settings: GediTraining | None = None,
    *,
    resume: bool = True,
    progress: bool = False,
    on_step: StepCallback | None = None,
    device: str = "auto",
) -> TrainResult:
    """Train a GeDi on ``data`` from the ``hf/`` model ``base`` and save it in ``out``.

    ``on_step(step, loss)`` is called after every optimizer step (loss in nats).
    """
    settings = settings or GediTraining()
    parsed = parse_spec(base)
    if parsed.backend != "hf":
        raise InputError("a GeDi is trained from an hf/ model", field="base", hint="hf/ID|PATH")
    if (out / CONFIG_FILE).exists():
        raise InputError(
            f"{out} already holds a trained GeDi", field="out", hint="pick a new --out"
        )
    record = data.record()
    if not record.desired or not record.undesired:
        raise InputError("training data needs examples of both classes", field="data")
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingExtraError(exc.name or "transformers", "hf") from None

    target = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    )
    source = _source(parsed.target)
    tokenizer: Any = AutoTokenizer.from_pretrained(source)
    tokenizer.add_tokens(list(CONTROL_TOKENS), special_tokens=True)
    code_ids = (
        int(tokenizer.convert_tokens_to_ids(CONTROL_TOKENS[0])),
        int(tokenizer.convert_tokens_to_ids(CONTROL_TOKENS[1])),
    )
    run_key = digest({"base": base, "data": record.sha256, "training": settings.model_dump()})
    checkpoint = _latest_checkpoint(out) if resume else None
    if not resume:
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    state: dict[str, Any] | None = None
    if checkpoint is not None:
        state = torch.load(checkpoint / STATE_FILE, map_location="cpu")
        if state["run_key"] != run_key:
            raise InputError(
                f"the checkpoint in {checkpoint} was trained from another base, data or settings",
                field="out",
                hint="use the same options, a new --out, or --no-resume",
            )
        lm: Any = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    else:
        lm = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
        torch.manual_seed(settings.seed)  # the control codes' new embeddings are sampled
        if lm.get_input_embeddings().num_embeddings < len(tokenizer):
            lm.resize_token_embeddings(len(tokenizer))
    lm.to(target)
    trainer = _Trainer(lm, code_ids, settings, data, tokenizer, target)
    if state is not None:
        trainer.restore(state)
    started, first = time.perf_counter(), trainer.step
    losses: list[float] = []
    with progress_bar("training GeDi", trainer.total, show=progress) as advance:
        advance(trainer.step)
        while trainer.step < trainer.total:
            losses.append(trainer.train_step())
            advance(1)
            if on_step is not None:
                on_step(trainer.step, losses[-1])
            if trainer.step % settings.save_every == 0 and trainer.step < trainer.total:
                trainer.save_checkpoint(out, run_key)
    trainer.save_final(out, base, data)
    return TrainResult(
        out,
        trainer.step,
        first,
        sum(losses) / len(losses) if losses else math.nan,
        time.perf_counter() - started,
    )


class _Trainer:
    """The model, its two class-logit parameters, the optimizer and the schedule."""

    def __init__(
        self,
        lm: Any,
        code_ids: tuple[int, int],
        settings: GediTraining,
        data: LabelledSet,
        tokenizer: Any,
        device: torch.device,
    ) -> None:
        from transformers import get_linear_schedule_with_warmup

        self.lm, self.code_ids, self.settings, self.tokenizer = lm, code_ids, settings, tokenizer
        self.sequences = [
            encode_text(tokenizer, e.text, settings.max_length) for e in data.examples
        ]
        self.labels = torch.tensor([0 if e.desired else 1 for e in data.examples], device=device)
        self.per_epoch = math.ceil(len(self.sequences) / settings.batch_size)
        self.total = settings.max_steps or settings.epochs * self.per_epoch
        self.scale = torch.nn.Parameter(
            torch.ones((), device=device), requires_grad=settings.learn_logit_scale
        )
        self.bias = torch.nn.Parameter(
            torch.zeros(2, device=device), requires_grad=settings.learn_class_bias
        )
        params = [p for p in [*lm.parameters(), self.scale, self.bias] if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params,
            lr=settings.learning_rate,
            eps=settings.adam_epsilon,
            weight_decay=settings.weight_decay,
        )
        self.schedule = get_linear_schedule_with_warmup(
            self.optimizer, settings.warmup_steps, self.total
        )
        self.step = 0
        torch.manual_seed(settings.seed)

    def batch(self, step: int) -> list[int]:
        """The example indices of global step ``step``: a seeded permutation per epoch."""
        epoch, index = divmod(step, self.per_epoch)
        generator = torch.Generator().manual_seed(self.settings.seed + epoch)
        order = torch.randperm(len(self.sequences), generator=generator)
        size = self.settings.batch_size
        return order[index * size : (index + 1) * size].tolist()

    def train_step(self) -> float:
        """One optimizer step; returns the batch's loss (nats)."""
        self.lm.train()
        indices = self.batch(self.step)
        labels = self.labels[indices]
        sums, counts = conditional_logprob_sums(
            self.lm, self.code_ids, [self.sequences[i] for i in indices]
        )
        mean = sums / counts  # [2, B]: per-token mean log-likelihood under each code
        discriminative = F.cross_entropy(class_logits(mean, self.scale, self.bias), labels)
        generative = -mean.gather(0, labels.view(1, -1)).mean()
        weight = self.settings.gen_weight
        loss = weight * generative + (1 - weight) * discriminative
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for group in self.optimizer.param_groups for p in group["params"]],
            self.settings.max_grad_norm,
        )
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return float(loss.detach())

    def save_checkpoint(self, out: Path, run_key: str) -> None:
        """Write ``checkpoints/step-N`` (staged, then renamed) and drop older ones."""
        folder = out / CHECKPOINTS
        staging = folder / f".step-{self.step:08d}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        self.lm.save_pretrained(staging)
        torch.save(
            {
                "run_key": run_key,
                "step": self.step,
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
                "scale": self.scale.detach().cpu(),
                "bias": self.bias.detach().cpu(),
                "rng": torch.get_rng_state(),
            },
            staging / STATE_FILE,
        )
        staging.rename(folder / f"step-{self.step:08d}")
        for old in folder.glob("step-*"):
            if old.name != f"step-{self.step:08d}":
                shutil.rmtree(old)
        log.info("checkpoint at step %d in %s", self.step, folder)

    def restore(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        with torch.no_grad():
            self.scale.copy_(state["scale"])
            self.bias.copy_(state["bias"])
        torch.set_rng_state(state["rng"])
        log.info("resuming GeDi training at step %d of %d", self.step, self.total)

    def save_final(self, out: Path, base: str, data: LabelledSet) -> None:
        """Weights (safetensors), tokenizer, then ``gedi_config.json`` (its presence marks a
        finished GeDi); the checkpoints go."""
        self.lm.eval()
        self.lm.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        config = GediConfig(
            base_model=base,
            control_code_ids=self.code_ids,
            classes=data.classes,
            training=self.settings,
            logit_scale=float(self.scale.detach()),
            class_bias_learned=(float(self.bias[0].detach()), float(self.bias[1].detach())),
            steps=self.step,
            data=data.record(),
            versions=package_versions(),
        )
        write_config(out, config)
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)


def _latest_checkpoint(out: Path) -> Path | None:
    found = sorted(p for p in (out / CHECKPOINTS).glob("step-*") if (p / STATE_FILE).is_file())
    return found[-1] if found else None


def _source(target: str) -> str:
    local = Path(target).expanduser()
    if local.is_dir():
        return str(local.resolve())
    if target.startswith((".", "/", "~")):
        raise InputError(f"no model folder at {target}", field="base")
    return target
