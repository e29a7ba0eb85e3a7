"""What a trained GeDi folder records about itself: ``gedi_config.json``.

A GeDi folder holds the class-conditional LM (``save_pretrained``: safetensors and
``config.json``), its tokenizer (the base tokenizer plus two control-code tokens) and
``gedi_config.json``: the control codes, the class names and the raw-label mapping, the
training hyper-parameters, the learned class-logit scale and bias, the base model, the
sha256 of the training examples and the library versions.

Training defaults follow the GeDi reference training script (salesforce/GeDi,
``scripts/run_training.sh`` with ``train_GeDi.py``): λ (generative-loss weight) 0.8 with
1 − λ on the discriminative loss, learning rate 2e-5, one epoch, batch 4, 192 tokens, a
learned logit scale and no learned class bias.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from haechi.errors import InputError
from haechi.guard.spec import GediGuidance
from haechi.io import write_json_atomic

CONFIG_FILE = "gedi_config.json"
# Two new special tokens, never produced by the base tokenizer from ordinary text, so a
# control code can never collide with a prompt's own tokens; index 0 is the desired class.
CONTROL_TOKENS = ("<|gedi:desired|>", "<|gedi:undesired|>")
Side = Literal["desired", "undesired"]


class GediTraining(BaseModel):
    """GeDi training hyper-parameters (the reference script's values as defaults).

    The loss per batch is ``λ · L_g + (1 − λ) · L_d``: ``L_g`` the class-conditional LM
    loss under each text's own control code (nats per token, averaged over texts) and
    ``L_d`` the cross-entropy of the Bayes-rule class posterior, whose class logits are the
    per-token mean log-likelihoods under each code, times a learned scale
    (``learn_logit_scale``), plus a learned per-class bias (``learn_class_bias``).
    ``max_steps`` overrides ``epochs``; ``save_every`` is in optimizer steps.
    """

    model_config = ConfigDict(extra="forbid")

    gen_weight: float = Field(0.8, ge=0, le=1, description="λ: weight of the generative loss")
    learning_rate: float = Field(2e-5, gt=0)
    epochs: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(4, ge=1)
    max_length: int = Field(192, ge=3, description="tokens per sequence, control code included")
    weight_decay: float = Field(0.0, ge=0)
    adam_epsilon: float = Field(1e-8, gt=0)
    max_grad_norm: float = Field(1.0, gt=0)
    warmup_steps: int = Field(0, ge=0)
    learn_logit_scale: bool = True
    learn_class_bias: bool = False
    seed: int = 42
    save_every: int = Field(500, ge=1)


class ClassNames(BaseModel):
    """Human names of the two classes (e.g. clean / toxic)."""

    model_config = ConfigDict(extra="forbid")

    desired: str
    undesired: str


class DataRecord(BaseModel):
    """Where the training examples came from. ``sha256`` is over the examples as used
    (each NFC text and its class, see ``LabelledSet.sha256``); ``label_mapping`` maps
    every raw label seen to ``desired`` or ``undesired``."""

    model_config = ConfigDict(extra="forbid")

    source: str
    split: str | None
    sha256: str
    examples: int
    desired: int
    undesired: int
    label_mapping: dict[str, Side]


class GediConfig(BaseModel):
    """The contents of ``gedi_config.json``."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["haechi-gedi/1"] = "haechi-gedi/1"
    base_model: str
    control_codes: tuple[str, str] = CONTROL_TOKENS
    control_code_ids: tuple[int, int]
    classes: ClassNames
    training: GediTraining
    logit_scale: float = Field(description="learned multiplier of the class logits")
    class_bias_learned: tuple[float, float] = (0.0, 0.0)
    guidance: GediGuidance = GediGuidance()
    steps: int
    data: DataRecord
    versions: dict[str, str]


def write_config(folder: Path, config: GediConfig) -> None:
    write_json_atomic(folder / CONFIG_FILE, config.model_dump(mode="json"))


def read_config(folder: Path) -> GediConfig:
    """Read a GeDi folder's config; a missing or invalid one raises ``InputError``."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise InputError(
            f"no {CONFIG_FILE} in {folder}: not a trained GeDi",
            file=str(path),
            hint="train one with: haechi guard train-gedi --base hf/MODEL --data ... --out DIR",
        )
    try:
        return GediConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(
            first["msg"], file=str(path), field=".".join(str(p) for p in first["loc"]) or None
        ) from None
