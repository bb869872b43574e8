"""`evolve(state, event) -> state` and `fold`: how each event changes a deal's state.

The other half of the decider (`domain.decider.decide`). Events are facts: evolve never refuses one (except a gap
in `seq`), so an archived or replayed history always folds. One small function per event type (`singledispatch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatch
from typing import Any, TypeVar

from domain import events as ev
from domain.actors import TIMER
from domain.errors import DomainError
from domain.events import Event, Side
from domain.partners import Commitment, Decision, PartnerKind, PartnerRequest, RequestStatus
from domain.state import DealState, Rejection, initial_state

__all__ = ["evolve", "fold"]


def evolve(state: DealState, event: Event) -> DealState:
    """The state after `event`. Events are facts: evolve never refuses one, except a gap in `seq`."""
    if event.seq != state.seq + 1:
        raise DomainError("seq_gap", f"事件序号不连续：期望 {state.seq + 1}，收到 {event.seq}")
    base: dict[str, Any] = {"seq": event.seq, "last_event_at": event.occurred_at}
    if event.actor != TIMER:
        base["last_activity_at"] = event.occurred_at
    return _apply(event.payload, state, event).model_copy(update=base)


def fold(events: Iterable[Event], state: DealState | None = None) -> DealState:
    for e in events:
        state = evolve(state or initial_state(), e)
    return state or initial_state()


_P = TypeVar("_P")


@singledispatch
def _apply(payload: object, state: DealState, event: Event) -> DealState:
    raise TypeError(f"no evolve rule for {type(payload).__name__}")


def _upd(state: DealState, **changes: Any) -> DealState:
    return state.model_copy(update=changes)


@_apply.register
def _(p: ev.DealOpened, s: DealState, e: Event) -> DealState:
    return _upd(s, deal_id=e.deal_id, demand=p.demand, broker=p.broker, centre=p.centre, opened_at=e.occurred_at)


@_apply.register
def _(p: ev.StageEntered, s: DealState, e: Event) -> DealState:
    return _upd(
        s,
        stage=p.stage,
        stage_entered_at=e.occurred_at,
        plan=p.plan,
        extension_working_days=0,
        fired_steps=(),
        escalation_level=0,
    )


@_apply.register
def _(p: ev.DemandValidated, s: DealState, e: Event) -> DealState:
    return s


@_apply.register
def _(p: ev.CandidatesProposed, s: DealState, e: Event) -> DealState:
    # A new list replaces the old one; the shortlist keeps the ids it already had.
    return _upd(s, candidates=p.candidates)


@_apply.register
def _(p: ev.CandidateShortlisted, s: DealState, e: Event) -> DealState:
    return _upd(s, shortlisted=(*s.shortlisted, p.achievement_id))


@_apply.register
def _(p: ev.CandidateRejected, s: DealState, e: Event) -> DealState:
    return _upd(
        s,
        rejections=(*s.rejections, Rejection(achievement_id=p.achievement_id, reason=p.reason, note=p.note)),
        shortlisted=tuple(a for a in s.shortlisted if a != p.achievement_id),
    )


@_apply.register
def _(p: ev.MatchAccepted, s: DealState, e: Event) -> DealState:
    acceptances = (*s.acceptances, (p.achievement_id, p.side))
    s = _upd(s, acceptances=acceptances)
    if s.accepted_sides(p.achievement_id) == {Side.ENTERPRISE, Side.OWNER}:
        candidate = s.candidate(p.achievement_id)
        assert candidate is not None
        s = _upd(s, match=candidate.achievement)
    return s


@_apply.register
def _(p: ev.TermsAgreed, s: DealState, e: Event) -> DealState:
    return _upd(s, terms=p.terms)


@_apply.register
def _(p: ev.NegotiationFailed, s: DealState, e: Event) -> DealState:
    # Back to matching: the failed achievement counts as declined, and the match starts over.
    return _upd(
        s,
        match=None,
        terms=None,
        acceptances=tuple(a for a in s.acceptances if a[0] != p.achievement_id),
        shortlisted=tuple(a for a in s.shortlisted if a != p.achievement_id),
        rejections=(*s.rejections, Rejection(achievement_id=p.achievement_id, reason=p.reason, note=p.note)),
    )


@_apply.register
def _(p: ev.FinancingCommitted, s: DealState, e: Event) -> DealState:
    return _upd(s, commitments=(*s.commitments, p), committed_fen=s.committed_fen + p.amount_fen)


@_apply.register
def _(p: ev.FinancingWaived, s: DealState, e: Event) -> DealState:
    return _upd(s, financing_waived_reason=p.reason)


@_apply.register
def _(p: ev.ContractSigned, s: DealState, e: Event) -> DealState:
    return _upd(s, contract=p.contract)


@_apply.register
def _(p: ev.ContractRegistered, s: DealState, e: Event) -> DealState:
    return _upd(s, registration_number=p.registration_number)


@_apply.register
def _(p: ev.DealWithdrawn, s: DealState, e: Event) -> DealState:
    return _upd(s, closing_reason=p.reason)


@_apply.register
def _(p: ev.DealLapsed, s: DealState, e: Event) -> DealState:
    return _upd(s, closing_reason=f"连续 {p.inactive_days} 天无进展，按政策 {p.policy_version} 失效")


@_apply.register
def _(p: ev.BrokerReassigned, s: DealState, e: Event) -> DealState:
    return _upd(s, broker=p.broker)


@_apply.register
def _(p: ev.DeadlineExtended, s: DealState, e: Event) -> DealState:
    return _upd(s, extension_working_days=s.extension_working_days + p.working_days, plan=p.plan or s.plan)


@_apply.register
def _(p: ev.ReminderSent, s: DealState, e: Event) -> DealState:
    return _upd(s, fired_steps=(*s.fired_steps, p.step))


@_apply.register
def _(p: ev.Escalated, s: DealState, e: Event) -> DealState:
    return _upd(s, fired_steps=(*s.fired_steps, p.step), escalation_level=max(s.escalation_level, p.level))


def _with_request(s: DealState, request_id: str, **changes: Any) -> DealState:
    requests = tuple(r.model_copy(update=changes) if r.request_id == request_id else r for r in s.partner_requests)
    return _upd(s, partner_requests=requests)


@_apply.register
def _(p: ev.FinancingApplied, s: DealState, e: Event) -> DealState:
    request = PartnerRequest(
        request_id=p.application_id,
        partner_id=p.partner_id,
        kind=p.partner_kind,
        amount_fen=p.amount_fen,
        instrument=p.instrument,
        requested_at=e.occurred_at,
        answer_plan=p.answer_plan,
    )
    return _upd(s, partner_requests=(*s.partner_requests, request))


@_apply.register
def _(p: ev.PartnerRequestDelivered, s: DealState, e: Event) -> DealState:
    request = s.partner_request(p.request_id)
    # An answer may overtake the delivery record (the partner answered before the call returned).
    if request is not None and request.status == RequestStatus.APPLIED:
        return _with_request(s, p.request_id, status=RequestStatus.DELIVERED, partner_reference=p.partner_reference)
    return _with_request(s, p.request_id, partner_reference=p.partner_reference)


@_apply.register
def _(p: ev.PartnerRequestRefused, s: DealState, e: Event) -> DealState:
    s = _with_request(s, p.request_id, status=RequestStatus.REFUSED, partner_message=p.partner_message)
    request = s.partner_request(p.request_id)
    if request is not None and request.kind == PartnerKind.REGISTRATION_OFFICE:
        s = _upd(s, registration_state=None)  # nothing reached the office: the same contract may be submitted again
    return s


@_apply.register
def _(p: ev.CommitmentRecorded, s: DealState, e: Event) -> DealState:
    commitment = Commitment(
        request_id=p.request_id,
        partner_id=p.partner_id,
        answer_id=p.answer_id,
        instrument=p.instrument,
        amount_fen=p.amount_fen,
        conditions=p.conditions,
        expires_at=p.expires_at,
    )
    s = _with_request(s, p.request_id, status=RequestStatus.ANSWERED, decision=Decision.COMMITTED)
    return _upd(
        s,
        firm_commitments=(*s.firm_commitments, commitment),
        committed_fen=s.committed_fen + p.amount_fen,
        answer_ids=(*s.answer_ids, p.answer_id),
    )


@_apply.register
def _(p: ev.FinancingDeclined, s: DealState, e: Event) -> DealState:
    s = _with_request(s, p.request_id, status=RequestStatus.ANSWERED, decision=Decision.DECLINED, partner_message=p.message)
    return _upd(s, answer_ids=(*s.answer_ids, p.answer_id))


def _drop_commitment(s: DealState, request_id: str, amount_fen: int) -> DealState:
    return _upd(
        s,
        firm_commitments=tuple(c for c in s.firm_commitments if c.request_id != request_id),
        committed_fen=s.committed_fen - amount_fen,
    )


@_apply.register
def _(p: ev.CommitmentWithdrawn, s: DealState, e: Event) -> DealState:
    s = _with_request(s, p.request_id, decision=Decision.WITHDRAWN, partner_message=p.message)
    return _upd(_drop_commitment(s, p.request_id, p.amount_fen), answer_ids=(*s.answer_ids, p.answer_id))


@_apply.register
def _(p: ev.CommitmentExpired, s: DealState, e: Event) -> DealState:
    return _drop_commitment(s, p.request_id, p.amount_fen)


@_apply.register
def _(p: ev.PartnerAnswerOverdue, s: DealState, e: Event) -> DealState:
    request = s.partner_request(p.request_id)
    fired = (*request.fired_steps, p.step.value) if request else (p.step.value,)
    return _upd(_with_request(s, p.request_id, fired_steps=fired), escalation_level=max(s.escalation_level, p.level))


@_apply.register
def _(p: ev.TechnologyContractSigned, s: DealState, e: Event) -> DealState:
    amended = s.technology_contract is not None
    return _upd(
        s,
        technology_contract=p.contract,
        contract=p.contract.summary(),
        registration_state="amended" if amended else None,
    )


@_apply.register
def _(p: ev.RegistrationSubmitted, s: DealState, e: Event) -> DealState:
    request = PartnerRequest(
        request_id=p.submission_id,
        partner_id=p.partner_id,
        kind=PartnerKind.REGISTRATION_OFFICE,
        amount_fen=p.total_value_fen,
        expert_review=p.expert_review,
        requested_at=e.occurred_at,
        answer_plan=p.answer_plan,
    )
    return _upd(s, partner_requests=(*s.partner_requests, request), registration_state="submitted", registration_reasons=())


@_apply.register
def _(p: ev.RegistrationCorrectionRequested, s: DealState, e: Event) -> DealState:
    s = _with_request(
        s, p.submission_id, status=RequestStatus.ANSWERED, decision=Decision.CORRECTION_REQUESTED, partner_message=p.message
    )
    return _upd(
        s, registration_state="correction_requested", registration_reasons=p.reason_codes, answer_ids=(*s.answer_ids, p.answer_id)
    )


@_apply.register
def _(p: ev.RegistrationRefused, s: DealState, e: Event) -> DealState:
    s = _with_request(s, p.submission_id, status=RequestStatus.ANSWERED, decision=Decision.REFUSED, partner_message=p.message)
    return _upd(s, registration_state="refused", registration_reasons=p.reason_codes, answer_ids=(*s.answer_ids, p.answer_id))


@_apply.register
def _(p: ev.ContractRegistrationRecorded, s: DealState, e: Event) -> DealState:
    s = _with_request(s, p.submission_id, status=RequestStatus.ANSWERED, decision=Decision.REGISTERED)
    return _upd(s, registration_state="registered", answer_ids=(*s.answer_ids, p.answer_id))
