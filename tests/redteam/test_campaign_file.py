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


CAMPAIGN = """name: c
target: {model: hf/./no-such-model}
seeds: [{source: bundled}]
"""


@pytest.mark.parametrize(
    ("extra", "field", "line", "message"),
    [
        ("converters: [[], [jamo, rot26]]\n", "converters[1][1]", 4, "unknown converter 'rot26'"),
        ("converters:\n  - []\n  - base64\n  - nope\n", "converters[2][0]", 7, "unknown converter"),
        ("converters: [[translate]]\n", "converters[0][0]", 4, "calls a model"),
        (
            "generators:\n  - {type: direct}\n  - {type: templates, families: [grandma, granpa]}\n",
            "generators[1].families[1]",
            6,
            "unknown jailbreak family 'granpa'",
        ),
        ("generators: [{type: red_lm}]\n", "generators[0].model", 4, "attacker's model"),
        (
            "generators: [{type: pair, model: hf/a}, {type: pair, model: hf/b}]\n",
            "generators",
            4,
            "at most one pair",
        ),
        (
            "detectors:\n  - {type: refusal}\n  - type: judge\n    model: hf/x\n    native: true\n",
            "detectors[1].native",
            8,
            "native",
        ),
        (
            "detectors:\n  - type: combine\n    rule: any\n    detectors:\n"
            "      - {type: refusal}\n      - {type: refusal, name: r2, window: 0}\n",
            "detectors[0].detectors[1].window",
            9,
            "greater than or equal to 1",
        ),
        ("detectors: [{type: regex}]\n", "detectors[0].type", 4, "unknown detector type"),
        ("detectors: [{type: refusal}, {type: refusal}]\n", "detectors", 4, "distinct"),
    ],
)
def test_names_are_checked_at_load_with_file_line_and_field(
    tmp_path: Path, extra: str, field: str, line: int, message: str
) -> None:
    # The target does not exist: an error about it would mean a model load was tried.
    path = write(tmp_path, CAMPAIGN + extra)
    with pytest.raises(InputError) as info:
        load_campaign(path)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_a_bad_seed_entry_fails_before_any_model_loads(tmp_path: Path) -> None:
    from haechi.redteam.runner import Campaign

    path = write(
        tmp_path,
        "name: c\ntarget: {model: hf/./no-such-model}\nseeds:\n  - {source: bundled}\n"
        "  - {source: square, path: ./nowhere, split: bogus}\n",
    )
    loads: list[str] = []

    def loader(spec: str, args: dict[str, object]) -> object:
        loads.append(spec)
        raise AssertionError("no model should load")

    with pytest.raises(InputError) as info:
        Campaign(load_campaign(path), tmp_path, loader=loader)  # type: ignore[arg-type]
    assert info.value.file == str(path) and info.value.line == 5
    assert info.value.field == "seeds[1].split"
    assert loads == []
