"""Chinese registry identifiers: unified social credit code, region code, industry code.

Each validator returns the normalised value or raises `ValueError` with a Chinese message naming the
offending value and what is allowed, so pydantic reports it as a field error.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# GB 32100-2015: 31 symbols (no I, O, S, V, Z) and the weights of positions 1-17.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB/T 2260 province-level prefixes.
_PROVINCE_PREFIXES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)

# GB/T 4754-2017: the divisions (two digits) each section letter covers.
_INDUSTRY_SECTIONS: dict[str, tuple[int, int]] = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90),
    "S": (91, 97), "T": (98, 98),
}  # fmt: skip
_INDUSTRY_RE = re.compile(r"^([A-T])(\d{2}(\d{1,2})?)?$")


def uscc_check_character(first17: str) -> str:
    """The 18th character of a unified social credit code whose first 17 characters are given."""
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 18:
        raise ValueError(f"统一社会信用代码「{value}」应为 18 位，实际 {len(code)} 位")
    bad = [ch for ch in code if ch not in _USCC_ALPHABET]
    if bad:
        raise ValueError(f"统一社会信用代码「{value}」含非法字符「{bad[0]}」；允许 0-9 和除 I、O、S、V、Z 外的大写字母")
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise ValueError(f"统一社会信用代码「{value}」校验位应为「{expected}」，实际为「{code[17]}」")
    return code


def validate_region_code(value: str) -> str:
    code = value.strip()
    if not re.fullmatch(r"\d{6}", code):
        raise ValueError(f"行政区划代码「{value}」应为 6 位数字（GB/T 2260），如 360800（吉安市）")
    if int(code[:2]) not in _PROVINCE_PREFIXES:
        raise ValueError(f"行政区划代码「{value}」的省级代码「{code[:2]}」不存在（GB/T 2260）")
    return code


def validate_industry_code(value: str) -> str:
    code = value.strip().upper()
    match = _INDUSTRY_RE.fullmatch(code)
    if match is None:
        raise ValueError(f"行业代码「{value}」格式不对；应为门类字母 A-T 加 0、2、3 或 4 位数字（GB/T 4754），如 C35、C3512")
    if match.group(1) and match.group(2):
        low, high = _INDUSTRY_SECTIONS[code[0]]
        division = int(code[1:3])
        if not low <= division <= high:
            raise ValueError(
                f"行业代码「{value}」的大类 {code[1:3]} 不属于门类 {code[0]}；门类 {code[0]} 的大类为 {low:02d}-{high:02d}"
            )
    return code


UnifiedSocialCreditCode = Annotated[str, AfterValidator(validate_uscc)]
RegionCode = Annotated[str, AfterValidator(validate_region_code)]
IndustryCode = Annotated[str, AfterValidator(validate_industry_code)]
