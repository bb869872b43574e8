import pytest
from pydantic import ValidationError

from domain.identifiers import uscc_check_character, validate_industry_code, validate_region_code, validate_uscc
from domain.parties import BudgetRange, Contract, ContractType, Terms, TransferMode


def test_a_real_unified_social_credit_code_passes_and_is_normalised() -> None:
    assert validate_uscc("91350100m000100y43") == "91350100M000100Y43"


def test_a_wrong_check_character_names_the_expected_one() -> None:
    with pytest.raises(ValueError, match="校验位应为「3」，实际为「4」"):
        validate_uscc("91350100M000100Y44")


@pytest.mark.parametrize(("code", "message"), [("9135010", "应为 18 位"), ("91350100M000100I43", "非法字符「I」")])
def test_malformed_codes_say_what_is_allowed(code: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_uscc(code)


def test_check_character_matches_published_examples() -> None:
    assert uscc_check_character("91350100M000100Y4") == "3"


def test_region_codes() -> None:
    assert validate_region_code("360800") == "360800"
    with pytest.raises(ValueError, match="6 位数字"):
        validate_region_code("36080")
    with pytest.raises(ValueError, match="省级代码「99」不存在"):
        validate_region_code("990100")


def test_industry_codes() -> None:
    assert validate_industry_code("c3562") == "C3562"
    assert validate_industry_code("C") == "C"
    with pytest.raises(ValueError, match="大类 01 不属于门类 C"):
        validate_industry_code("C0112")
    with pytest.raises(ValueError, match="门类字母 A-T"):
        validate_industry_code("Z12")


def test_money_is_never_negative_and_ranges_are_ordered() -> None:
    with pytest.raises(ValidationError):
        BudgetRange(min_fen=-1, max_fen=10)
    with pytest.raises(ValidationError, match="下限应不高于上限"):
        BudgetRange(min_fen=200, max_fen=100)


def test_payment_schedule_must_add_up_and_technical_value_within_total() -> None:
    with pytest.raises(ValidationError, match="两者应相等"):
        Terms(transfer_mode=TransferMode.LICENCE, price_fen=100, payment_schedule=[{"due_on": "2027-01-01", "amount_fen": 50}])
    with pytest.raises(ValidationError, match="技术交易额不得高于合同成交额"):
        Contract(contract_type=ContractType.SERVICE, total_value_fen=10, technical_value_fen=11, signed_on="2026-12-01")
