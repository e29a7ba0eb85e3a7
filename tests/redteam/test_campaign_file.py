"""Campaign files: validated, with errors that point at the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from haechi.errors import InputError
from haechi.redteam.campaign import load_campaign


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_campaign_gets_defaults(tmp_path: Path) -> None:
    spec = load_campaign(
        write(tmp_path, "name: c1\ntarget: {model: hf/x}\nseeds: [{source: bundled}]\n")
    )
    assert [g.type for g in spec.generators] == ["direct"]
    assert spec.converters == [[]]
    assert spec.detectors == [{"type": "refusal"}]
    assert spec.controls == [{"source": "controls"}]


def test_single_names_become_chains(tmp_path: Path) -> None:
    spec = load_campaign(
        write(
            tmp_path,
            "name: c\ntarget: {model: hf/x}\nseeds: [{source: bundled}]\nconverters: [[], base64, [jamo, spacing]]\n",
        )
    )
    assert spec.converters == [[], ["base64"], ["jamo", "spacing"]]


def test_bad_fields_name_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: c\ntarget:\n  model: hf/x\n  max_new_tokens: -3\nseeds: [{source: bundled}]\n",
    )
    with pytest.raises(InputError) as info:
        load_campaign(path)
    assert info.value.file == str(path)
    assert info.value.field == "target.max_new_tokens" and info.value.line == 4
    with pytest.raises(InputError, match=r"generators\.0\.type"):
        load_campaign(
            write(
                tmp_path,
                "name: c\ntarget: {model: hf/x}\nseeds: [{source: bundled}]\ngenerators: [{type: magic}]\n",
            )
        )
    with pytest.raises(InputError) as info:
        load_campaign(write(tmp_path, "name: c\ntarget: {model: hf/x}\nseeds: [\n"))
    assert info.value.line is not None
    with pytest.raises(InputError, match="seeds"):
        load_campaign(write(tmp_path, "name: c\ntarget: {model: hf/x}\n"))
