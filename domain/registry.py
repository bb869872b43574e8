"""Registry records: research achievements (科技成果) and enterprise technology demands (企业技术需求).

These are the records a centre keeps and imports; a deal refers to an achievement through `AchievementRef`
(see `Achievement.ref`). Every validator raises `ValueError` with a Chinese message that names the value and
what is allowed, so an import report can show it to the person who keeps the spreadsheet.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from domain.identifiers import IndustryCode, RegionCode, UnifiedSocialCreditCode
from domain.parties import AchievementRef, BudgetRange, Fen, Institution, Model, TargetIndicator, TransferMode, format_wan

# CNIPA application numbers: 12 digits since 2003 (year, type, serial), 8 before; then "." and a check character.
_PATENT_APPLICATION_RE = re.compile(r"^(?:ZL|CN)?\s*(\d{8}|\d{12})\.?([\dX])$")
# Publication / grant numbers: CN, 9 digits (7 before 2010, not accepted here), kind code.
_PATENT_PUBLICATION_RE = re.compile(r"^CN(\d{9})([ABUS]\d?)$")
_PATENT_TYPES = {"1": "发明", "2": "实用新型", "3": "外观设计", "8": "PCT 发明", "9": "PCT 实用新型"}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|400-?\d{3}-?\d{4})$")


def patent_check_character(digits: str) -> str:
    """The check character of a CNIPA application number (8 or 12 digits): weights 2-9 cycling, sum mod 11, 10 is X."""
    weights = (2, 3, 4, 5, 6, 7, 8, 9)
    total = sum(int(d) * weights[i % 8] for i, d in enumerate(digits))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_patent_number(value: str) -> str:
    """A Chinese patent number, normalised: ZL/CN application numbers as `ZL202310123456.6`, publications as `CN115123456A`."""
    raw = value.strip().upper().replace(" ", "")
    publication = _PATENT_PUBLICATION_RE.fullmatch(raw)
    if publication:
        return raw
    match = _PATENT_APPLICATION_RE.fullmatch(raw)
    if match is None:
        raise ValueError(
            f"专利号「{value}」格式不对；应为申请号 ZL + 12 位数字 + . + 校验位（如 ZL202310123456.6），"
            "或公开/授权号 CN + 9 位数字 + 类型码（如 CN115123456A）"
        )
    digits, check = match.groups()
    if len(digits) == 12:
        year = int(digits[:4])
        if not 2003 <= year <= 2100:
            raise ValueError(f"专利号「{value}」的申请年份 {year} 不对；12 位申请号自 2003 年起使用")
        if digits[4] not in _PATENT_TYPES:
            allowed = "、".join(f"{k}（{v}）" for k, v in _PATENT_TYPES.items())
            raise ValueError(f"专利号「{value}」的专利类型位「{digits[4]}」不对；允许 {allowed}")
    expected = patent_check_character(digits)
    if check != expected:
        raise ValueError(f"专利号「{value}」校验位应为「{expected}」，实际为「{check}」")
    return f"ZL{digits}.{check}"


def validate_registry_id(value: str) -> str:
    code = value.strip()
    if not _ID_RE.fullmatch(code):
        raise ValueError(f"编号「{value}」不对；应为 1-64 位字母、数字、“-”“_”“.”，以字母或数字开头，如 JX-CG-2026-0001")
    return code


def validate_phone(value: str) -> str:
    phone = value.strip().replace(" ", "")
    if not _PHONE_RE.fullmatch(phone):
        raise ValueError(f"联系电话「{value}」格式不对；应为 11 位手机号或带区号的固定电话，如 0791-88888888")
    return phone


PatentNumber = Annotated[str, AfterValidator(validate_patent_number)]
RegistryId = Annotated[str, AfterValidator(validate_registry_id)]
Phone = Annotated[str, AfterValidator(validate_phone)]
Trl = Annotated[int, Field(ge=1, le=9, description="technology readiness level, GB/T 22900: 1-9")]
Keyword = Annotated[str, Field(min_length=1, max_length=40)]


class MaturityStage(StrEnum):
    LAB = "lab"  # 实验室
    PILOT = "pilot"  # 中试
    MATURE = "mature"  # 成熟（可产业化）


MATURITY_LABELS = {MaturityStage.LAB: "实验室", MaturityStage.PILOT: "中试", MaturityStage.MATURE: "成熟"}


class Contact(Model):
    name: str = Field(min_length=1, max_length=40)
    phone: Phone | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Achievement(Model):
    """A research achievement registered by its owning institution (an N centre)."""

    achievement_id: RegistryId = Field(description="registration number (登记号)")
    title: str = Field(min_length=2, max_length=200)
    abstract: str = Field(min_length=1, max_length=5000)
    keywords: tuple[Keyword, ...] = Field(default=(), max_length=20)
    institution: Institution
    industry_code: IndustryCode
    trl: Trl
    stage: MaturityStage
    patents: tuple[PatentNumber, ...] = ()
    transfer_modes: tuple[TransferMode, ...] = Field(min_length=1)
    asking_price_fen: Fen | None = Field(default=None, description="None: negotiable (面议)")
    region_code: RegionCode
    contact: Contact | None = None

    @model_validator(mode="after")
    def _no_repeats(self) -> Achievement:
        _refuse_repeats("转化方式", self.transfer_modes)
        _refuse_repeats("专利号", self.patents)
        return self

    def ref(self) -> AchievementRef:
        """How a deal refers to this achievement."""
        return AchievementRef(achievement_id=self.achievement_id, title=self.title, institution=self.institution)

    def price_label(self) -> str:
        return "面议" if self.asking_price_fen is None else format_wan(self.asking_price_fen)


class RegisteredDemand(Model):
    """An enterprise technology demand as the registry keeps it (a deal's `Demand` is built from it)."""

    demand_id: RegistryId
    title: str = Field(min_length=2, max_length=200)
    problem: str = Field(min_length=1, max_length=5000, description="the technical problem (技术难题)")
    keywords: tuple[Keyword, ...] = Field(default=(), max_length=20)
    enterprise_name: str = Field(min_length=1, max_length=100)
    enterprise_credit_code: UnifiedSocialCreditCode
    region_code: RegionCode
    industry_code: IndustryCode
    indicators: tuple[TargetIndicator, ...] = ()
    budget: BudgetRange
    deadline: date | None = None
    min_trl: Trl = 1
    preferred_modes: tuple[TransferMode, ...] = ()
    ip_expectations: str = Field(default="", max_length=500)
    open_call: bool = False
    solver_qualifications: str = Field(default="", max_length=1000)
    contact: Contact | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RegisteredDemand:
        _refuse_repeats("意向转化方式", self.preferred_modes)
        if self.open_call and not self.solver_qualifications.strip():
            raise ValueError("揭榜挂帅需求须写明揭榜方资格条件（solver_qualifications）")
        return self


def _refuse_repeats(label: str, values: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{label}「{value}」重复；每项只写一次")
        seen.add(value)
