"""Registry records: patent numbers, ids, and the validation messages people see."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.registry import Achievement, patent_check_character, validate_patent_number
from examples.registry.build import achievements, demands


def test_patent_check_character_and_normalisation() -> None:
    assert patent_check_character("202310123456") == "6"
    assert validate_patent_number("zl 202310123456.6") == "ZL202310123456.6"
    assert validate_patent_number("CN202310123456.6") == "ZL202310123456.6"
    assert validate_patent_number("CN115123456A") == "CN115123456A"
    # Before 2003: 8 digits.
    assert validate_patent_number(f"ZL98123456.{patent_check_character('98123456')}").startswith("ZL98123456.")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("ZL202310123456.7", "校验位应为「6」"),
        ("ZL202350123456.3", "专利类型位「5」"),
        ("ZL2023101234", "格式不对"),
        ("US1234567", "格式不对"),
    ],
)
def test_bad_patent_numbers_say_what_is_allowed(value: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        validate_patent_number(value)


def test_samples_are_valid_and_cover_the_example_deals() -> None:
    assert len(achievements()) == 30
    ids = {d.demand_id for d in demands()}
    assert {"D-JA-2026-001", "D-FZ-2026-002", "D-JJ-2026-003"} <= ids


def test_open_call_needs_qualifications_and_modes_do_not_repeat() -> None:
    demand = demands()[2]
    assert demand.open_call
    with pytest.raises(ValidationError, match="揭榜方资格"):
        demand.model_validate(demand.model_dump() | {"solver_qualifications": " "})
    achievement = achievements()[0]
    with pytest.raises(ValidationError, match="重复"):
        Achievement.model_validate(achievement.model_dump() | {"transfer_modes": ["转让", "转让"]})
