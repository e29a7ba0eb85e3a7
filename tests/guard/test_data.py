"""Labelled data for GeDi training (files, Korean datasets) and guard specs."""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.guard import GediGuidance, load_labelled, parse_guard

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_a_labelled_file_maps_the_desired_label_and_hashes_what_it_used(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "고마워요")
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"text": decomposed, "label": "clean"}, {"text": "꺼져", "label": "toxic"},
         {"text": "바보", "label": "insult"}],
    )  # fmt: skip
    data = load_labelled(str(path), desired="clean")
    assert [(e.text, e.desired) for e in data.examples] == [
        ("고마워요", True), ("꺼져", False), ("바보", False),
    ]  # fmt: skip
    assert data.classes.desired == "clean" and data.classes.undesired == "not-clean"
    record = data.record()
    assert (record.examples, record.desired, record.undesired) == (3, 1, 2)
    assert record.label_mapping == {"clean": "desired", "insult": "undesired", "toxic": "undesired"}
    assert record.sha256 == load_labelled(str(path), desired="clean").sha256()
    flipped = load_labelled(str(path), desired="toxic")
    assert flipped.sha256() != data.sha256() and flipped.classes.undesired == "not-toxic"
    assert data.limited(1).examples == data.examples[:1]


def test_labelled_file_errors_say_what_to_do(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    )
    with pytest.raises(InputError, match="name the desired label") as caught:
        load_labelled(str(path))
    assert "labels in the file: x, y" in str(caught.value)
    with pytest.raises(InputError, match="no line has label 'z'"):
        load_labelled(str(path), desired="z")
    one = write_jsonl(tmp_path / "one.jsonl", [{"text": "a", "label": "x"}])
    with pytest.raises(InputError, match="both classes"):
        load_labelled(str(one), desired="x")
    empty = write_jsonl(tmp_path / "e.jsonl", [{"text": "a", "label": "x"}, {"label": "y"}])
    with pytest.raises(InputError) as missing:
        load_labelled(str(empty), desired="x")
    assert missing.value.field == "text" and missing.value.file == f"{empty}:2"
    with pytest.raises(InputError, match="fixed label mapping"):
        load_labelled(f"kocohub:{tmp_path}", desired="none")
    with pytest.raises(InputError, match="no split 'test'"):
        load_labelled(f"kocohub:{tmp_path}", split="test")
    with pytest.raises(InputError, match=r"no train\.tsv"):
        load_labelled(f"kocohub:{tmp_path}")


def test_kocohub_comments_map_none_to_clean(tmp_path: Path) -> None:
    folder = SHARED / "kocohub_hate"
    if not (folder / "dev.tsv").is_file():
        pytest.skip(f"Korean HateSpeech (kocohub) is not at {folder}")
    dev = load_labelled(f"kocohub:{folder}", split="dev")
    assert len(dev.examples) == 471 and dev.classes.desired == "clean"
    first = dev.examples[0]
    assert first.text == "송중기 시대극은 믿고본다. 첫회 신선하고 좋았다." and first.desired
    assert not dev.examples[1].desired  # "지현우 나쁜놈": offensive
    assert 0.2 < dev.record().desired / len(dev.examples) < 0.5
    assert dev.record().label_mapping == {
        "none": "desired",
        "offensive": "undesired",
        "hate": "undesired",
    }
    bad = tmp_path / "train.tsv"
    bad.write_text("comments\tcontain_gender_bias\tbias\thate\n좋다\tFalse\tnone\tmild\n", "utf-8")
    with pytest.raises(InputError, match="unknown label 'mild'") as caught:
        load_labelled(f"kocohub:{tmp_path}")
    assert caught.value.file == f"{bad}:2" and caught.value.field == "hate"


def test_kosbi_sentences_map_safe_to_desired() -> None:
    folder = SHARED / "kosbi"
    if not (folder / "kosbi_valid.json").is_file():
        pytest.skip(f"KoSBi is not at {folder}")
    valid = load_labelled(f"kosbi:{folder}")
    assert valid.split == "valid" and len(valid.examples) == 3421
    assert valid.examples[0].text == "우리나라 청년 실업률이 OECD 국가 중 가장 높은 수준이다."
    assert valid.examples[0].desired and not valid.examples[1].desired
    assert (valid.classes.desired, valid.classes.undesired) == ("safe", "unsafe")


def test_guard_specs_parse_settings_and_name_bad_ones() -> None:
    spec = parse_guard("gedi:./gedi-ko,disc_weight=20, filter_p=0.9")
    assert spec.kind == "gedi" and spec.path == Path("gedi-ko")
    assert spec.guidance == GediGuidance(disc_weight=20, filter_p=0.9)
    assert spec.resolved(Path("/campaigns")) == Path("/campaigns/gedi-ko")
    assert parse_guard("gedi:/abs/g").resolved(Path("/x")) == Path("/abs/g")
    for text, message in [
        ("pplm:./g", "not of the form KIND:DIR"),
        ("gedi:", "names no folder"),
        ("gedi:./g,disc_weight", "not key=value"),
        ("gedi:./g,omega=3", "Extra inputs are not permitted"),
        ("gedi:./g,filter_p=1.5", "less than or equal to 1"),
    ]:
        with pytest.raises(InputError, match=message) as caught:
            parse_guard(text, field="mitigation")
        assert caught.value.field is not None and caught.value.field.startswith("mitigation")


def test_class_bias_shifts_target_p_in_logit_space() -> None:
    assert GediGuidance().log_target_p == pytest.approx(math.log(0.8))
    shifted = GediGuidance(class_bias=2.0).log_target_p  # the reference's detoxify setting
    assert math.exp(shifted) == pytest.approx(1 / (1 + math.exp(-(math.log(4) + 2))))
    assert GediGuidance(target_p=0).log_target_p == -math.inf
    assert GediGuidance(target_p=1, class_bias=3).log_target_p == 0.0
