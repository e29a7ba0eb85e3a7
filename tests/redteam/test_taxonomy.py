"""The harm taxonomy: codes, documentation, external-label mappings, unknown names."""

from __future__ import annotations

import pytest

from haechi.errors import InputError
from haechi.redteam import taxonomy
from haechi.redteam.taxonomy import (
    CATEGORIES,
    CATEGORY_BY_CODE,
    CODES,
    KOREAN_NAMES,
    check_category,
)

MLCOMMONS = [
    "violent_crime",
    "nonviolent_crime",
    "sex_related_crime",
    "child_exploitation",
    "defamation",
    "specialized_advice",
    "privacy",
    "intellectual_property",
    "indiscriminate_weapons",
    "hate",
    "self_harm",
    "sexual_content",
    "elections",
]
KOREA = ["regional_hate", "gender_hate", "generational_hate", "korean_personal_data"]


def test_mlcommons_categories_come_first_as_s1_to_s13_then_the_korean_axes() -> None:
    assert list(CATEGORIES)[:13] == MLCOMMONS
    assert [CODES[name] for name in MLCOMMONS] == [f"S{i}" for i in range(1, 14)]
    assert set(KOREA) <= set(CATEGORIES)
    assert list(CODES.values()) == [f"S{i}" for i in range(1, len(CATEGORIES) + 1)]
    assert {CATEGORY_BY_CODE[code] for code in CODES.values()} == set(CATEGORIES)


def test_every_category_has_one_korean_name() -> None:
    assert list(KOREAN_NAMES) == list(CATEGORIES)
    assert len(set(KOREAN_NAMES.values())) == len(CATEGORIES)
    assert all(any("가" <= c <= "힣" for c in name) for name in KOREAN_NAMES.values())


def test_every_category_is_described_on_one_line_and_documented() -> None:
    doc = taxonomy.__doc__ or ""
    for name, description in CATEGORIES.items():
        assert name.islower() and " " not in name
        assert description.strip() and "\n" not in description
        assert name in doc and f"{CODES[name]} " in doc, name


@pytest.mark.parametrize(
    "table",
    [taxonomy.HARMBENCH_CATEGORIES, taxonomy.KOSBI_CATEGORIES, taxonomy.KOBBQ_CATEGORIES],
)
def test_external_labels_map_to_known_categories(table: dict[str, str]) -> None:
    assert table and set(table.values()) <= set(CATEGORIES)
    assert taxonomy.SQUARE_CATEGORY in CATEGORIES


def test_korean_axes_receive_the_matching_external_labels() -> None:
    assert taxonomy.KOSBI_CATEGORIES["출신 지역 (국내)"] == "regional_hate"
    assert taxonomy.KOSBI_CATEGORIES["성별"] == "gender_hate"
    assert taxonomy.KOSBI_CATEGORIES["나이/세대"] == "generational_hate"
    assert taxonomy.KOBBQ_CATEGORIES["domestic_area_of_origin"] == "regional_hate"
    assert taxonomy.KOBBQ_CATEGORIES["gender_identity"] == "gender_hate"
    assert taxonomy.KOBBQ_CATEGORIES["age"] == "generational_hate"


def test_check_category_accepts_keys_in_any_case_and_codes() -> None:
    assert check_category("hate", "x") == "hate"
    assert check_category(" Regional_Hate ", "x") == "regional_hate"
    assert check_category("s1", "x") == "violent_crime"
    assert check_category(CODES["korean_personal_data"], "x") == "korean_personal_data"


@pytest.mark.parametrize("name", ["hatred", "S99", "", 3, None])
def test_unknown_categories_are_input_errors_naming_where(name: object) -> None:
    with pytest.raises(InputError) as caught:
        check_category(name, "campaign.yaml", line=7, field="category")
    error = caught.value
    assert (error.file, error.line, error.field) == ("campaign.yaml", 7, "category")
    assert str(error).startswith("campaign.yaml:7 field 'category': unknown harm category")
    assert error.hint is not None and "violent_crime" in error.hint
