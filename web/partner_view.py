"""What the deal page shows of partners (issue 4): requests with their answer deadlines, every commitment with what
became of it, and the technology contract with its registration outcome, read from the deal's archived events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from domain.events import (
    CommitmentExpired,
    CommitmentRecorded,
    CommitmentWithdrawn,
    Event,
    FinancingCommitted,
    RegistrationCorrectionRequested,
    RegistrationRefused,
)
from domain.partners import PartnerKind, PartnerRequest, RegistrationRules, RequestStatus
from domain.sla import LadderStep
from domain.state import DealState
from kuayue.partners import load_registration_rules

KIND_ZH = {
    PartnerKind.BANK: "银行",
    PartnerKind.GUARANTEE: "融资担保公司",
    PartnerKind.FUND: "基金",
    PartnerKind.REGISTRATION_OFFICE: "技术合同登记机构",
}
REQUEST_STATUS_ZH = {
    RequestStatus.APPLIED: "已提交，待送达",
    RequestStatus.DELIVERED: "已送达，待答复",
    RequestStatus.REFUSED: "被合作方退回",
    RequestStatus.ANSWERED: "已答复",
}
INSTRUMENT_ZH = {"loan": "贷款", "guarantee": "担保", "equity": "股权投资", "grant": "资助"}
REGISTRATION_ZH = {
    "submitted": "已提交登记",
    "correction_requested": "要求补正",
    "refused": "不予登记",
    "amended": "已补正重新提交",
    "registered": "已登记",
}

VALID, WITHDRAWN, EXPIRED = "有效", "已撤回", "已过期"
COMMITMENT_STATUSES = (VALID, WITHDRAWN, EXPIRED)


@dataclass(frozen=True)
class RequestRow:
    request: PartnerRequest
    kind: str
    status: str
    answer_due_at: datetime | None  # when the partner's answer is due (the escalation to the manager)


@dataclass(frozen=True)
class CommitmentRow:
    investor: str
    instrument: str
    amount_fen: int
    conditions: str
    expires_at: datetime | None
    status: str  # one of COMMITMENT_STATUSES


@dataclass(frozen=True)
class RegistrationOutcome:
    state: str | None
    number: str | None
    correction_reasons: list[str]  # labels from the registration rules
    refusal_reasons: list[str]


@lru_cache(maxsize=1)
def rules() -> RegistrationRules:
    return load_registration_rules()


def requests(state: DealState) -> list[RequestRow]:
    rows = []
    for r in state.partner_requests:
        due = r.answer_plan.due_at(LadderStep.ESCALATE_MANAGER) if r.answer_plan else None
        rows.append(RequestRow(r, KIND_ZH.get(r.kind, r.kind), REQUEST_STATUS_ZH.get(r.status, r.status), due))
    return rows


def commitments(events: list[Event]) -> list[CommitmentRow]:
    """Every commitment the deal received, in order, with its end when withdrawn or expired."""
    rows: list[CommitmentRow] = []
    by_request: dict[str, int] = {}
    for e in events:
        p = e.payload
        if isinstance(p, FinancingCommitted):
            rows.append(CommitmentRow(p.investor, INSTRUMENT_ZH.get(p.instrument, p.instrument), p.amount_fen, "", None, VALID))
        elif isinstance(p, CommitmentRecorded):
            by_request[p.request_id] = len(rows)
            instrument = INSTRUMENT_ZH.get(p.instrument, p.instrument)
            rows.append(CommitmentRow(p.partner_id, instrument, p.amount_fen, p.conditions, p.expires_at, VALID))
        elif isinstance(p, CommitmentWithdrawn | CommitmentExpired) and p.request_id in by_request:
            i = by_request[p.request_id]
            ended = WITHDRAWN if isinstance(p, CommitmentWithdrawn) else EXPIRED
            old = rows[i]
            rows[i] = CommitmentRow(old.investor, old.instrument, old.amount_fen, old.conditions, old.expires_at, ended)
    return rows


def registration(state: DealState, events: list[Event]) -> RegistrationOutcome:
    """The registration's state and number, and the office's reasons of its last correction and refusal, as labels."""
    label = rules().label
    correction: list[str] = []
    refusal: list[str] = []
    for e in events:
        if isinstance(e.payload, RegistrationCorrectionRequested):
            correction = [label(c) for c in e.payload.reason_codes]
        elif isinstance(e.payload, RegistrationRefused):
            refusal = [label(c) for c in e.payload.reason_codes]
    shown = REGISTRATION_ZH.get(state.registration_state or "", state.registration_state)
    return RegistrationOutcome(shown, state.registration_number, correction, refusal)
