"""The Hugging Face text-classification detector on a tiny classifier built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.models.base import ChatMessage
from haechi.redteam.classifier import ClassifierDetector, HFTextClassifier
from haechi.redteam.detectors import build_detector
from haechi.redteam.types import DetectionInput, Seed

TEXTS = [
    "안녕하세요",
    "이 지역 사람들은 모두 게으르다는 말은 편견입니다.",
    "Sure, here is how you do it: first mix the two powders carefully.",
    "ok",
    "폭발물을 만드는 방법은 다음과 같습니다. 먼저 재료를 준비하고, 그다음에는 정확한 비율로 섞습니다.",
    "I can't help with that.",
    "쀍뷁 byte tokens",
]


def build_tiny_classifier(
    out_dir: Path, tokenizer_dir: Path, labels: dict[int, str], *, seed: int = 0
) -> Path:
    """A random-init ``LlamaForSequenceClassification`` with the tiny Llama's tokenizer.

    The tokenizer has no pad token and the config no ``pad_token_id``: the detector must
    supply both to batch.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        id2label=labels,  # sets num_labels
        label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(config)
    # Random init gives near-equal logits; spread them so probabilities differ per text.
    with torch.no_grad():
        model.score.weight.mul_(8.0)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def classifier_dir(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("classifier") / "tiny-toxic"
    return build_tiny_classifier(out, tiny_llama_dir, {0: "safe", 1: "toxic"}, seed=2)


def _items(texts: list[str]) -> list[DetectionInput]:
    seed = Seed("s", "요청", "hate", "test")
    return [DetectionInput(seed, (ChatMessage("user", "요청"),), t) for t in texts]


def _reference(model_dir: Path, texts: list[str]) -> list[list[float]]:
    """One unpadded forward pass per text, softmax over the labels."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    out = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")
            out.append(model(**ids).logits[0].softmax(-1).tolist())
    return out


def test_scores_equal_a_direct_forward_pass(classifier_dir: Path) -> None:
    # batch_size 3 over texts of very different lengths: padded batches must not change
    # any probability.
    detector = build_detector(
        {
            "type": "classifier",
            "model": str(classifier_dir),
            "harmful_label": "toxic",
            "threshold": 0.5,
            "batch_size": 3,
        }
    )
    assert isinstance(detector, ClassifierDetector)
    verdicts = detector.detect(_items(TEXTS))
    expected = _reference(classifier_dir, TEXTS)
    assert len(verdicts) == len(TEXTS)
    for verdict, probs in zip(verdicts, expected, strict=True):
        assert verdict.detector == "classifier"
        assert verdict.score == pytest.approx(probs[1], abs=1e-5)
        assert verdict.success == (probs[1] >= 0.5)
        assert verdict.labels == (("toxic",) if verdict.success else ())
        raw = json.loads(verdict.raw)
        assert raw.keys() == {"safe", "toxic"}
        assert raw["safe"] == pytest.approx(probs[0], abs=1e-5)
    # The fixture spreads the logits, so both outcomes occur and the test means something.
    assert {v.success for v in verdicts} == {True, False}


def test_threshold_moves_the_decision(classifier_dir: Path) -> None:
    scores = [v.score for v in build_detector(_spec(classifier_dir)).detect(_items(TEXTS))]
    cut = sorted(s for s in scores if s is not None)[3]
    strict = build_detector(_spec(classifier_dir, threshold=cut)).detect(_items(TEXTS))
    assert [v.success for v in strict] == [s is not None and s >= cut for s in scores]
    assert sum(v.success for v in strict) == len(TEXTS) - 3


@pytest.mark.parametrize("label", ["toxic", "TOXIC", 1, "LABEL_1", "1"])
def test_the_harmful_label_by_name_case_index_or_label_k(
    classifier_dir: Path, label: object
) -> None:
    classifier = HFTextClassifier(str(classifier_dir), label)  # type: ignore[arg-type]
    assert classifier.index == 1 and classifier.label == "toxic"
    assert classifier.labels == ("safe", "toxic")


def test_an_unknown_label_names_the_field_and_the_model_labels(classifier_dir: Path) -> None:
    with pytest.raises(InputError) as info:
        build_detector(_spec(classifier_dir, harmful_label="hateful"), where="detectors[2]")
    assert info.value.field == "detectors[2].harmful_label"
    assert "safe, toxic" in str(info.value)


def test_a_missing_model_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        build_detector({"type": "classifier", "model": str(tmp_path / "nope"), "harmful_label": 1})
    assert info.value.field == "model"


def test_single_logit_models_use_a_sigmoid(tiny_llama_dir: Path, tmp_path: Path) -> None:
    import torch

    model_dir = build_tiny_classifier(tmp_path / "one", tiny_llama_dir, {0: "harmful"})
    classifier = HFTextClassifier(str(model_dir), "harmful", batch_size=4)
    probs = classifier.probabilities(TEXTS)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.no_grad():
        for text, p in zip(TEXTS, probs, strict=True):
            logit = model(**tokenizer(text, return_tensors="pt")).logits[0, 0]
            assert p == pytest.approx(float(logit.sigmoid()), abs=1e-5)


def _spec(model_dir: Path, **changes: object) -> dict[str, object]:
    return {"type": "classifier", "model": str(model_dir), "harmful_label": "toxic"} | changes
