"""Who and what a deal is about: centres, brokers, enterprises, institutions, the demand, terms, the contract.

Money is always integer fen (分): never float, so sums and comparisons are exact.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.identifiers import IndustryCode, RegionCode, UnifiedSocialCreditCode

Fen = Annotated[int, Field(ge=0, description="amount in fen (1 yuan = 100 fen), never negative")]

FEN_PER_WAN = 100 * 10_000


def format_wan(fen: int) -> str:
    """Money as people here write it: 1,250.00 万元."""
    return f"{fen / FEN_PER_WAN:,.2f} 万元"


class Model(BaseModel):
    """Immutable value object; unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CentreLevel(StrEnum):
    PROVINCIAL_HUB = "provincial_hub"  # the "1"
    CITY_OR_INDUSTRY = "city_or_industry"  # the "M"
    UNIVERSITY = "university"  # the "N"


class Centre(Model):
    centre_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    level: CentreLevel
    region_code: RegionCode


class Broker(Model):
    broker_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    centre_id: str = Field(min_length=1, max_length=64)


class Enterprise(Model):
    name: str = Field(min_length=1)
    credit_code: UnifiedSocialCreditCode
    region_code: RegionCode


class Institution(Model):
    name: str = Field(min_length=1)
    credit_code: UnifiedSocialCreditCode | None = None
    centre_id: str | None = None


class TargetIndicator(Model):
    name: str = Field(min_length=1)
    target: str = Field(min_length=1, description="the value to reach, with its unit, e.g. '≥ 60000 rpm'")


class BudgetRange(Model):
    min_fen: Fen
    max_fen: Fen

    @model_validator(mode="after")
    def _ordered(self) -> BudgetRange:
        if self.min_fen > self.max_fen:
            raise ValueError(f"预算下限 {format_wan(self.min_fen)} 高于上限 {format_wan(self.max_fen)}；下限应不高于上限")
        return self


class Demand(Model):
    """An enterprise's technology demand (企业出题)."""

    title: str = Field(min_length=2, max_length=200)
    description: str = Field(min_length=1)
    enterprise: Enterprise
    indicators: tuple[TargetIndicator, ...] = ()
    budget: BudgetRange
    deadline: date | None = None
    ip_expectations: str = ""
    industry_code: IndustryCode
    region_code: RegionCode
    financing_need_fen: Fen = 0


class AchievementRef(Model):
    """A research achievement (科技成果) as the deal refers to it; the registry holds the rest."""

    achievement_id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1)
    institution: Institution


class TransferMode(StrEnum):
    ASSIGNMENT = "转让"
    LICENCE = "许可"
    EQUITY = "作价入股"
    JOINT_DEVELOPMENT = "合作开发"
    TECHNICAL_SERVICE = "技术服务"


class Instalment(Model):
    due_on: date
    amount_fen: Fen


class Terms(Model):
    transfer_mode: TransferMode
    price_fen: Fen
    payment_schedule: tuple[Instalment, ...] = ()

    @model_validator(mode="after")
    def _schedule_adds_up(self) -> Terms:
        if self.payment_schedule:
            total = sum(i.amount_fen for i in self.payment_schedule)
            if total != self.price_fen:
                raise ValueError(f"付款计划合计 {format_wan(total)} 与价格 {format_wan(self.price_fen)} 不一致；两者应相等")
        return self


class ContractType(StrEnum):
    DEVELOPMENT = "技术开发"
    TRANSFER = "技术转让"
    LICENCE = "技术许可"
    CONSULTING = "技术咨询"
    SERVICE = "技术服务"


class Contract(Model):
    contract_type: ContractType
    total_value_fen: Fen
    technical_value_fen: Fen
    signed_on: date

    @model_validator(mode="after")
    def _technical_within_total(self) -> Contract:
        if self.technical_value_fen > self.total_value_fen:
            raise ValueError(
                f"技术交易额 {format_wan(self.technical_value_fen)} 超过合同成交额 "
                f"{format_wan(self.total_value_fen)}；技术交易额不得高于合同成交额"
            )
        return self
