"""Training a GeDi: it separates held-out texts, records itself, and resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tests.guard.conftest import FAST_TRAINING, synthetic_set

from haechi.errors import InputError
from haechi.guard.gedi_config import CONTROL_TOKENS, GediTraining, read_config
from haechi.guard.gedi_model import GediModel
from haechi.guard.gedi_train import CHECKPOINTS, train_gedi
from haechi.guard.scoring import desired_posterior, evaluate_gedi, roc_auc


def test_trained_gedi_separates_held_out_texts(gedi_dir: Path) -> None:
    gedi = GediModel.load(gedi_dir, device="cpu")
    evaluation = evaluate_gedi(gedi, synthetic_set(40, seed=1))
    assert evaluation.examples == 40
    assert evaluation.auc > 0.9
    assert evaluation.mean_desired > 0.7 > 0.3 > evaluation.mean_undesired
    kind, rude = desired_posterior(gedi, ["친구 좋은 책 사람", "무시 피해 후회 거절"])
    assert kind > 0.5 > rude


def test_the_folder_records_codes_classes_data_and_settings(gedi_dir: Path) -> None:
    assert {"model.safetensors", "config.json", "tokenizer_config.json"} <= {
        p.name for p in gedi_dir.iterdir()
    }
    assert not (gedi_dir / CHECKPOINTS).exists()
    config = read_config(gedi_dir)
    raw = json.loads((gedi_dir / "gedi_config.json").read_text(encoding="utf-8"))
    assert raw["format"] == "haechi-gedi/1"
    assert config.control_codes == CONTROL_TOKENS
    assert config.control_code_ids == (512, 513)  # appended to the 512-token vocabulary
    assert config.classes.desired == "kind" and config.classes.undesired == "rude"
    assert config.training == FAST_TRAINING and config.steps == 60
    assert config.data.examples == 64 and config.data.desired == 32
    assert config.data.sha256 == synthetic_set(64, 0).sha256()
    assert config.data.label_mapping == {"kind": "desired", "rude": "undesired"}
    assert config.base_model.startswith("hf/") and "torch" in config.versions
    assert config.logit_scale != 1.0  # learned (the reference script's --logit_scale)
    assert config.class_bias_learned == (0.0, 0.0)  # not learned by default
    assert config.guidance.disc_weight == 30 and config.guidance.filter_p == 0.8


def test_auc_counts_ties_as_half() -> None:
    assert roc_auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [True, False, True, False]) == 0.5
    assert roc_auc([0.2, 0.9, 0.4], [True, False, False]) == 0.0


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_weights(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    data = synthetic_set(24, seed=2)
    settings = GediTraining(learning_rate=1e-3, batch_size=4, max_steps=5, save_every=2)
    base = f"hf/{tiny_llama_dir}"
    straight = train_gedi(base, data, tmp_path / "straight", settings, device="cpu")

    def stop_at_three(step: int, loss: float) -> None:
        if step == 3:
            raise Interrupt

    out = tmp_path / "resumed"
    with pytest.raises(Interrupt):
        train_gedi(base, data, out, settings, on_step=stop_at_three, device="cpu")
    assert [p.name for p in (out / CHECKPOINTS).iterdir()] == ["step-00000002"]
    assert not (out / "gedi_config.json").exists()
    steps: list[int] = []
    resumed = train_gedi(
        base, data, out, settings, on_step=lambda s, _: steps.append(s), device="cpu"
    )
    assert resumed.resumed_from == 2 and resumed.steps == 5 and steps == [3, 4, 5]
    a = load_file(str(straight.out / "model.safetensors"))
    b = load_file(str(out / "model.safetensors"))
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    assert read_config(out).logit_scale == pytest.approx(read_config(straight.out).logit_scale)
    start = load_file(str(tiny_llama_dir / "model.safetensors"))["lm_head.weight"]
    assert not torch.equal(a["lm_head.weight"][: len(start)], start)  # training moved it


def test_a_checkpoint_from_other_settings_or_a_finished_folder_is_refused(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    data = synthetic_set(16, seed=3)
    base = f"hf/{tiny_llama_dir}"
    settings = GediTraining(batch_size=4, max_steps=3, save_every=1)

    def stop_at_two(step: int, loss: float) -> None:
        if step == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_gedi(base, data, tmp_path / "g", settings, on_step=stop_at_two, device="cpu")
    other = settings.model_copy(update={"learning_rate": 1e-3})
    with pytest.raises(InputError, match="another base, data or settings"):
        train_gedi(base, data, tmp_path / "g", other, device="cpu")
    done = train_gedi(base, data, tmp_path / "g", other, resume=False, device="cpu")
    assert done.resumed_from == 0 and done.steps == 3
    with pytest.raises(InputError, match="already holds a trained GeDi"):
        train_gedi(base, data, tmp_path / "g", other, device="cpu")
    with pytest.raises(InputError, match="hf/ model"):
        train_gedi("openai/gpt-4o", data, tmp_path / "h", other)
