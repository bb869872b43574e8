"""Partners of a deal: financing applications, partner answers, commitments, the technology contract and its
registration (技术合同认定登记), and the registration rules as data.

Pure: pydantic and the standard library only. The HMAC helpers at the end are pure functions too (no clock,
no I/O); the web layer, the simulator and the tests share them so a callback is signed and checked one way.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from domain.identifiers import UnifiedSocialCreditCode
from domain.parties import Contract, ContractType, Fen, Instalment, Model, format_wan
from domain.sla import DeadlinePlan

RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
PartnerId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Instrument(StrEnum):
    """How an investor finances a deal (re-exported by domain.events, where older events use it)."""

    LOAN = "loan"
    GUARANTEE = "guarantee"
    EQUITY = "equity"
    GRANT = "grant"


class PartnerKind(StrEnum):
    BANK = "bank"  # 银行
    GUARANTEE = "guarantee"  # 融资担保公司
    FUND = "fund"  # 基金（含省成果转化子基金）
    REGISTRATION_OFFICE = "registration_office"  # 技术合同认定登记机构


FINANCING_KINDS = (PartnerKind.BANK, PartnerKind.GUARANTEE, PartnerKind.FUND)


class RequestStatus(StrEnum):
    APPLIED = "applied"  # recorded, not yet delivered to the partner
    DELIVERED = "delivered"  # the partner accepted the request and will answer
    REFUSED = "refused"  # the partner refused the request itself (HTTP 4xx), message kept
    ANSWERED = "answered"  # a final answer arrived (committed, declined, registered, correction, refused)


class Decision(StrEnum):
    """What a partner's answer says. The first three come from investors, the rest from the registration office."""

    COMMITTED = "committed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # an investor takes back an earlier commitment
    REGISTERED = "registered"
    CORRECTION_REQUESTED = "correction_requested"
    REFUSED = "refused"


FINANCING_DECISIONS = frozenset({Decision.COMMITTED, Decision.DECLINED, Decision.WITHDRAWN})
REGISTRATION_DECISIONS = frozenset({Decision.REGISTERED, Decision.CORRECTION_REQUESTED, Decision.REFUSED})


class PartnerAnswer(Model):
    """A partner's answer as the callback endpoint accepted it (signature, window and nonce already checked)."""

    answer_id: str = Field(min_length=1, max_length=128, description="the partner's own id; a repeat changes nothing")
    partner_id: PartnerId
    request_id: RequestId = Field(description="the financing application or registration submission answered")
    decision: Decision
    amount_fen: Fen = 0
    instrument: Instrument | None = None
    conditions: str = Field(default="", max_length=2000)
    expires_at: datetime | None = None
    registration_number: str | None = Field(default=None, max_length=64)
    reason_codes: tuple[str, ...] = ()
    message: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _complete(self) -> PartnerAnswer:
        if self.decision == Decision.COMMITTED and (self.amount_fen <= 0 or self.instrument is None):
            raise ValueError(
                "承诺（committed）须给出大于 0 的金额 amount_fen 和融资方式 instrument（loan/guarantee/equity/grant）"
            )
        if self.decision == Decision.REGISTERED and not self.registration_number:
            raise ValueError("登记成功（registered）须给出登记编号 registration_number")
        if self.decision in (Decision.CORRECTION_REQUESTED, Decision.REFUSED) and not self.reason_codes:
            raise ValueError("要求补正或不予登记须给出原因代码 reason_codes")
        return self


class PartnerRequest(Model):
    """One request to a partner as the deal tracks it: a financing application or a registration submission."""

    request_id: str
    partner_id: str
    kind: PartnerKind
    amount_fen: Fen
    instrument: Instrument | None = None
    expert_review: bool = False
    status: RequestStatus = RequestStatus.APPLIED
    requested_at: datetime
    answer_plan: DeadlinePlan | None = None
    fired_steps: tuple[str, ...] = ()
    partner_reference: str | None = None
    decision: Decision | None = None
    partner_message: str = ""

    @property
    def awaiting_answer(self) -> bool:
        return self.status in (RequestStatus.APPLIED, RequestStatus.DELIVERED)


class Commitment(Model):
    """A firm commitment from an investor, from its answer to one application."""

    request_id: str
    partner_id: str
    answer_id: str
    instrument: Instrument
    amount_fen: Fen
    conditions: str = ""
    expires_at: datetime | None = None


# ------------------------------------------------------------------------------------------- the contract


class PartyRole(StrEnum):
    ASSIGNEE = "委托方/受让方"  # 甲方: the enterprise that buys, licenses or commissions
    ASSIGNOR = "受托方/让与方"  # 乙方: the institution that supplies the technology


class ContractParty(Model):
    role: PartyRole
    name: str = Field(min_length=2, max_length=200)
    credit_code: UnifiedSocialCreditCode


class Signature(Model):
    role: PartyRole
    signatory: str = Field(min_length=1, max_length=100, description="法定代表人或授权代表")
    signed_on: date


class TechnologyContract(Model):
    """The contract as registration needs it: both parties and their codes, both values, schedule, signatures."""

    contract_no: str = Field(min_length=1, max_length=64)
    contract_type: ContractType
    parties: tuple[ContractParty, ...]
    total_value_fen: Fen
    technical_value_fen: Fen
    payment_schedule: tuple[Instalment, ...] = Field(min_length=1)
    signed_on: date
    signatures: tuple[Signature, ...]

    @model_validator(mode="after")
    def _complete(self) -> TechnologyContract:
        roles = [p.role for p in self.parties]
        if sorted(roles) != sorted(PartyRole) or len(roles) != 2:
            raise ValueError("合同须有且仅有甲方（委托方/受让方）和乙方（受托方/让与方）各一方")
        if {p.credit_code for p in self.parties}.__len__() != 2:
            raise ValueError("甲乙双方的统一社会信用代码相同；双方应为不同的主体")
        signed = sorted(s.role for s in self.signatures)
        if signed != sorted(PartyRole):
            missing = "、".join(r.value for r in PartyRole if r not in signed) or "重复签章"
            raise ValueError(f"合同须由双方各签署一次；缺少或多出：{missing}")
        if self.technical_value_fen > self.total_value_fen:
            raise ValueError(
                f"技术交易额 {format_wan(self.technical_value_fen)} 超过合同成交额 {format_wan(self.total_value_fen)}；"
                "技术交易额不得高于合同成交额"
            )
        scheduled = sum(i.amount_fen for i in self.payment_schedule)
        if scheduled != self.total_value_fen:
            raise ValueError(
                f"付款计划合计 {format_wan(scheduled)} 与合同成交额 {format_wan(self.total_value_fen)} 不一致；两者应相等"
            )
        late = [s for s in self.signatures if s.signed_on > self.signed_on]
        if late:
            raise ValueError(f"{late[0].role.value}的签署日期 {late[0].signed_on} 晚于合同签订日期 {self.signed_on}")
        return self

    def summary(self) -> Contract:
        """The short contract (type, values, date) the deal's older events and read model use."""
        return Contract(
            contract_type=self.contract_type,
            total_value_fen=self.total_value_fen,
            technical_value_fen=self.technical_value_fen,
            signed_on=self.signed_on,
        )


# ------------------------------------------------------------------------------------ rules as data


class ReasonCode(Model):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)


class RegistrationRules(Model):
    """One version of policy/registration-<version>.json: what registration and partners' deadlines follow."""

    version: str = Field(min_length=1)
    contract_types: tuple[ContractType, ...] = Field(min_length=1)
    expert_review_threshold_fen: Fen = Field(description="contracts of this total value or more go to expert review")
    registration_working_days: int = Field(gt=0)
    expert_review_working_days: int = Field(gt=0)
    answer_working_days: dict[PartnerKind, int] = Field(description="answer deadline per financing partner kind")
    correction_reasons: tuple[ReasonCode, ...] = Field(min_length=1)
    refusal_reasons: tuple[ReasonCode, ...] = Field(min_length=1)

    def needs_expert_review(self, total_value_fen: int) -> bool:
        return total_value_fen >= self.expert_review_threshold_fen

    def label(self, code: str) -> str:
        for r in (*self.correction_reasons, *self.refusal_reasons):
            if r.code == code:
                return r.label
        return code

    def unknown_reasons(self, decision: Decision, codes: tuple[str, ...]) -> list[str]:
        """Codes the office may not use for `decision` under these rules (empty when all are known)."""
        known = self.correction_reasons if decision == Decision.CORRECTION_REQUESTED else self.refusal_reasons
        allowed = {r.code for r in known}
        return [c for c in codes if c not in allowed]


class AnswerPlanRequest(Model):
    """What the workflow asks the planner when a request to a partner is recorded: its answer deadline."""

    deal_id: str
    request_id: str
    kind: PartnerKind
    amount_fen: Fen = 0
    started_at: datetime


class AnswerPlan(Model):
    """The answer deadline of one partner request, computed once by an activity and recorded in its event."""

    request_id: str
    plan: DeadlinePlan
    expert_review: bool = False
    rules_version: str


PARTNER_REFUSED = "PartnerRefused"  # the error type of a request the partner refused (HTTP 4xx): not retried


class DeliveryRequest(Model):
    """What the workflow asks to deliver: one financing application or registration submission."""

    deal_id: str
    request_id: str
    partner_id: str
    kind: PartnerKind
    amount_fen: Fen = 0
    instrument: Instrument | None = None
    expert_review: bool = False
    contract: TechnologyContract | None = None


class DeliveryReceipt(Model):
    partner_reference: str = Field(min_length=1)


# ------------------------------------------------------------------------------- callback signatures

SIGNATURE_HEADER = "X-Kuayue-Signature"
TIMESTAMP_HEADER = "X-Kuayue-Timestamp"
NONCE_HEADER = "X-Kuayue-Nonce"
PARTNER_HEADER = "X-Kuayue-Partner"


def sign_callback(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 (hex) over "<timestamp>.<nonce>." followed by the raw body, with the partner's secret."""
    message = timestamp.encode("ascii") + b"." + nonce.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(secret: str, timestamp: str, nonce: str, body: bytes, signature: str) -> bool:
    """Constant-time comparison, so the check does not leak how much of a forged signature was right."""
    return hmac.compare_digest(sign_callback(secret, timestamp, nonce, body), signature.strip().lower())


class PartnerEndpoint(Model):
    """How Kuayue reaches one partner and checks its callbacks. Loaded from a file outside the repository."""

    partner_id: PartnerId
    name: str = Field(min_length=1)
    kind: PartnerKind
    url: str = Field(min_length=1, description="base URL of the partner's API; requests go to <url>/requests")
    secret: str = Field(min_length=16, repr=False, description="shared HMAC secret of this partner's callbacks")
