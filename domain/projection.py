"""What the read side needs from a deal: the `deals` row and the outbox notifications an event causes.

The workflow computes both from the domain state and hands them to the archive activity, which
writes them in the same transaction as the events; the store never interprets events itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import Field

from domain import events as ev
from domain.actors import Role
from domain.decider import next_due
from domain.events import Candidate, Escalated, Event, PartnerAnswerOverdue, ReminderSent
from domain.parties import Demand, Fen, Model
from domain.partners import PartnerKind, RequestStatus
from domain.sla import LADDER_PERCENT, LadderStep
from domain.stages import Stage, zh
from domain.state import DealState


class DealSummary(Model):
    """One row of the `deals` read model."""

    deal_id: str
    title: str
    enterprise_name: str
    stage: Stage
    broker_id: str
    centre_id: str
    industry_code: str
    region_code: str
    stage_entered_at: datetime
    stage_due_at: datetime | None = Field(description="the 100 % moment of the current stage")
    next_due_at: datetime | None = Field(description="the next unfired ladder step")
    due_provisional: bool = False
    escalation_level: int = 0
    financing_need_fen: Fen = 0
    committed_fen: Fen = 0
    contract_value_fen: Fen | None = None
    technical_value_fen: Fen | None = None
    last_seq: int
    last_event_at: datetime


class Notification(Model):
    """A row of the notification outbox: a reminder or escalation for a person or a centre."""

    deal_id: str
    seq: int = Field(description="the event that caused it")
    kind: str = Field(description="reminder | escalation")
    recipient_role: Role
    recipient_id: str = Field(description="a broker id, or a centre id for managers and the hub")
    message: str


class PartnerRequestRow(Model):
    """A row of the `partner_requests` read model: what the callback endpoint checks an answer against."""

    deal_id: str
    request_id: str
    partner_id: str
    kind: PartnerKind
    status: RequestStatus
    last_seq: int


class PartnerAnswerRow(Model):
    """A row of `partner_answers`: an answer id already recorded by a deal (a repeat is answered "duplicate")."""

    partner_id: str
    answer_id: str
    deal_id: str
    request_id: str
    seq: int


class AppendRequest(Model):
    """Input of the archive activity: new events plus the read-model row and outbox rows they imply."""

    deal_id: str
    events: tuple[Event, ...]
    summary: DealSummary
    notifications: tuple[Notification, ...] = ()
    partner_requests: tuple[PartnerRequestRow, ...] = ()
    partner_answers: tuple[PartnerAnswerRow, ...] = ()


def summarize(state: DealState) -> DealSummary:
    """The `deals` row for an opened deal."""
    assert state.demand and state.broker and state.centre and state.stage and state.stage_entered_at
    assert state.last_event_at is not None
    plan = state.plan
    due = next_due(state)
    return DealSummary(
        deal_id=state.deal_id,
        title=state.demand.title,
        enterprise_name=state.demand.enterprise.name,
        stage=state.stage,
        broker_id=state.broker.broker_id,
        centre_id=state.centre.centre_id,
        industry_code=state.demand.industry_code,
        region_code=state.demand.region_code,
        stage_entered_at=state.stage_entered_at,
        stage_due_at=plan.due_at(LadderStep.ESCALATE_MANAGER) if plan else None,
        next_due_at=due.at if due else None,
        due_provisional=plan.provisional if plan else False,
        escalation_level=state.escalation_level,
        financing_need_fen=state.financing_need_fen,
        committed_fen=state.committed_fen,
        contract_value_fen=state.contract.total_value_fen if state.contract else None,
        technical_value_fen=state.contract.technical_value_fen if state.contract else None,
        last_seq=state.seq,
        last_event_at=state.last_event_at,
    )


def notifications(state: DealState, new_events: Iterable[Event]) -> list[Notification]:
    """Outbox rows for the reminders and escalations among `new_events` (state: before or after, same deal)."""
    out: list[Notification] = []
    title = state.demand.title if state.demand else state.deal_id
    for e in new_events:
        p = e.payload
        if isinstance(p, ReminderSent):
            pct = LADDER_PERCENT[p.step]
            out.append(
                Notification(
                    deal_id=e.deal_id,
                    seq=e.seq,
                    kind="reminder",
                    recipient_role=Role.BROKER,
                    recipient_id=p.recipient_id,
                    message=f"提醒：案件「{title}」的{zh(p.stage)}阶段已用去 {pct}% 的期限",
                )
            )
        elif isinstance(p, Escalated):
            out.append(
                Notification(
                    deal_id=e.deal_id,
                    seq=e.seq,
                    kind="escalation",
                    recipient_role=Role.MANAGER if p.level == 1 else Role.HUB_ADMIN,
                    recipient_id=p.recipient_centre_id,
                    message=f"{p.level} 级升级：案件「{title}」的{zh(p.stage)}阶段已超期（{LADDER_PERCENT[p.step]}%）",
                )
            )
        elif isinstance(p, PartnerAnswerOverdue):
            role = (Role.BROKER, Role.MANAGER, Role.HUB_ADMIN)[p.level]
            out.append(
                Notification(
                    deal_id=e.deal_id,
                    seq=e.seq,
                    kind="reminder" if p.level == 0 else "escalation",
                    recipient_role=role,
                    recipient_id=p.recipient_id,
                    message=f"合作方 {p.partner_id} 对案件「{title}」申请 {p.request_id} 的答复已用去 "
                    f"{LADDER_PERCENT[p.step]}% 的期限，尚未答复",
                )
            )
    return out


_REQUEST_EVENTS = (
    ev.FinancingApplied,
    ev.PartnerRequestDelivered,
    ev.PartnerRequestRefused,
    ev.CommitmentRecorded,
    ev.FinancingDeclined,
    ev.CommitmentWithdrawn,
    ev.RegistrationSubmitted,
    ev.RegistrationCorrectionRequested,
    ev.RegistrationRefused,
    ev.ContractRegistrationRecorded,
)


def _request_id_of(p: object) -> str:
    for name in ("application_id", "submission_id", "request_id"):
        value = getattr(p, name, None)
        if isinstance(value, str):
            return value
    raise TypeError(f"{type(p).__name__} names no partner request")


def partner_rows(after: DealState, new_events: Iterable[Event]) -> tuple[list[PartnerRequestRow], list[PartnerAnswerRow]]:
    """The partner read-model rows `new_events` change (`after`: the state once they are applied)."""
    touched: dict[str, int] = {}
    answers: list[PartnerAnswerRow] = []
    for e in new_events:
        p = e.payload
        if not isinstance(p, _REQUEST_EVENTS):
            continue
        request_id = _request_id_of(p)
        touched[request_id] = e.seq
        answer_id = getattr(p, "answer_id", None)
        request = after.partner_request(request_id)
        if answer_id and request is not None:
            answers.append(
                PartnerAnswerRow(
                    partner_id=request.partner_id, answer_id=answer_id, deal_id=e.deal_id, request_id=request_id, seq=e.seq
                )
            )
    rows = []
    for request_id, seq in touched.items():
        request = after.partner_request(request_id)
        if request is not None:
            rows.append(
                PartnerRequestRow(
                    deal_id=after.deal_id,
                    request_id=request_id,
                    partner_id=request.partner_id,
                    kind=request.kind,
                    status=request.status,
                    last_seq=seq,
                )
            )
    return rows, answers


class KeepClosedRequest(Model):
    """Input of the history keeper: keep the Temporal histories of deals closed within the window."""

    lookback_hours: int = Field(default=48, gt=0, description="deals closed within this window are considered")


class KeepClosedResult(Model):
    closed_deals: int = Field(description="closed deals found in the window")
    newly_kept: int = Field(description="of those, deals whose runs were stored by this call")
    runs_stored: int


class MatchRequest(Model):
    """Input of the matching activity: the deal's demand, to rank the achievement registry against."""

    deal_id: str
    demand: Demand


class ProposedShortlist(Model):
    """What the matching engine proposes, and the index version it came from (recorded with the candidates)."""

    index_version: str
    candidates: tuple[Candidate, ...] = ()
