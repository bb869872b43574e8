"""The decider: `decide(state, command, ctx) -> events`, `evolve(state, event) -> state`.

The same functions run in the workflow, in its update validators, in the auditor's replay and in
tests. `decide` never mutates; it either returns the events a command causes or raises DomainError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import singledispatch
from typing import Any, NamedTuple, TypeVar

from domain import events as ev
from domain.actors import MATCHING, PARTNER, TIMER, Actor, Role
from domain.commands import (
    AcceptMatch,
    AgreeTerms,
    Command,
    Context,
    ExtendDeadline,
    FailNegotiation,
    FireLadderStep,
    LapseDeal,
    OpenDeal,
    ProposeCandidates,
    ReassignBroker,
    RecordCommitment,
    RegisterContract,
    RejectCandidate,
    ShortlistCandidate,
    SignContract,
    ValidateDemand,
    WaiveFinancing,
    WithdrawDeal,
)
from domain.errors import DomainError
from domain.events import Event, EventPayload, Side
from domain.parties import format_wan
from domain.sla import ESCALATION_LEVEL, LADDER_PERCENT, LadderStep, PlanRequest
from domain.stages import LEGAL_TRANSITIONS, OPEN_STAGES, Stage, zh
from domain.state import DealState, Rejection, initial_state, is_terminal

__all__ = [
    "HUB_CENTRE_ID",
    "Due",
    "allowed_commands",
    "decide",
    "evolve",
    "fold",
    "initial_state",
    "is_terminal",
    "next_due",
    "plan_request",
]

HUB_CENTRE_ID = "hub"  # the provincial hub ("1"), recipient of level-2 escalations

# Which stage each broker command belongs to; None means any open stage.
_STAGE_OF: dict[str, tuple[Stage, ...] | None] = {
    "ValidateDemand": (Stage.DEMAND_MINING,),
    "ProposeCandidates": (Stage.MATCHING,),
    "ShortlistCandidate": (Stage.MATCHING,),
    "RejectCandidate": (Stage.MATCHING,),
    "AcceptMatch": (Stage.MATCHING,),
    "AgreeTerms": (Stage.BROKERING,),
    "FailNegotiation": (Stage.BROKERING,),
    "RecordCommitment": (Stage.FINANCING,),
    "WaiveFinancing": (Stage.FINANCING,),
    "SignContract": (Stage.SIGNING,),
    "RegisterContract": (Stage.SIGNING,),
    "WithdrawDeal": None,
    "ReassignBroker": None,
    "ExtendDeadline": None,
    "FireLadderStep": None,
    "LapseDeal": None,
}
_MANAGER_COMMANDS = frozenset({"ReassignBroker", "ExtendDeadline"})
_SYSTEM_COMMANDS = frozenset({"FireLadderStep", "LapseDeal"})
# What each machine identity may do besides the timers' own commands.
_SYSTEM_COMMANDS_BY_IDENTITY: dict[str, frozenset[str]] = {
    PARTNER.id: frozenset({"RecordCommitment", "RegisterContract"}),
    MATCHING.id: frozenset({"ProposeCandidates"}),  # the shortlist proposed when a deal enters matching
}
_ROLE_ZH = {Role.BROKER: "经纪人", Role.MANAGER: "中心管理员", Role.HUB_ADMIN: "省中心管理员", Role.AUDITOR: "审计员"}


# --------------------------------------------------------------------------------------------- decide


def decide(state: DealState, command: Command, ctx: Context) -> list[Event]:
    """The events `command` causes in `state`, or DomainError saying why it is refused."""
    if isinstance(command, OpenDeal):
        return _stamp(state, command, ctx, _open(state, command, ctx), deal_id=command.deal_id)
    if state.stage is None:
        raise DomainError("deal_not_open", "案件尚未创建，请先创建案件（OpenDeal）")
    if is_terminal(state):
        raise DomainError(
            "deal_closed",
            f"案件已处于终态 {zh(state.stage)}，不再接受任何操作（收到「{command.type}」）",
        )
    _authorize(state, command.type, command.actor)
    _require_stage(state, command.type)
    handler = _HANDLERS[command.type]
    return _stamp(state, command, ctx, handler(state, command, ctx))


def _stamp(
    state: DealState, command: Command, ctx: Context, payloads: Sequence[EventPayload], deal_id: str | None = None
) -> list[Event]:
    return [
        Event(
            deal_id=deal_id or state.deal_id,
            seq=state.seq + i,
            occurred_at=ctx.now,
            actor=command.actor,
            command_id=command.command_id,
            payload=p,
        )
        for i, p in enumerate(payloads, start=1)
    ]


def _authorize(state: DealState, command_type: str, actor: Actor) -> None:
    """Who may do what (checked here, so the web layer and the workflow cannot disagree)."""
    if actor.role == Role.AUDITOR:
        raise DomainError("forbidden", f"审计员为只读角色，不能执行「{command_type}」")
    if command_type in _SYSTEM_COMMANDS:
        if actor.role != Role.SYSTEM:
            raise DomainError("forbidden", f"「{command_type}」只能由系统定时器发出，{actor.id} 无权执行")
        return
    if actor.role == Role.SYSTEM:
        if command_type in _SYSTEM_COMMANDS_BY_IDENTITY.get(actor.id, frozenset()):
            return
        raise DomainError("forbidden", f"系统身份 {actor.id} 不能执行「{command_type}」")
    if actor.role == Role.HUB_ADMIN:
        return
    assert state.centre is not None and state.broker is not None
    if actor.role == Role.MANAGER:
        if actor.centre_id != state.centre.centre_id:
            raise DomainError(
                "forbidden",
                f"中心管理员只能处理本中心的案件：本案属于 {state.centre.name}（{state.centre.centre_id}），"
                f"您属于 {actor.centre_id or '未知中心'}",
            )
        return
    if command_type in _MANAGER_COMMANDS:
        raise DomainError(
            "forbidden", f"「{command_type}」只能由中心管理员或省中心执行，{_ROLE_ZH.get(actor.role, actor.role)}无权执行"
        )
    if actor.id != state.broker.broker_id:
        raise DomainError("forbidden", f"本案由经纪人 {state.broker.name}（{state.broker.broker_id}）负责，{actor.id} 无权操作")


def _require_stage(state: DealState, command_type: str) -> None:
    stages = _STAGE_OF[command_type]
    current = state.stage
    assert current is not None  # decide() refuses commands before the deal is open
    if stages is not None and current not in stages:
        allowed = "、".join(zh(s) for s in stages)
        raise DomainError("wrong_stage", f"「{command_type}」只能在 {allowed} 阶段执行，案件当前处于 {zh(current)}")


def _enter(state: DealState, stage: Stage, ctx: Context) -> ev.StageEntered:
    assert (state.stage, stage) in LEGAL_TRANSITIONS or state.stage is None, (state.stage, stage)
    plan = ctx.plan if ctx.plan is not None and ctx.plan.stage == stage and stage in OPEN_STAGES else None
    return ev.StageEntered(stage=stage, previous=state.stage, plan=plan)


def _open(state: DealState, cmd: OpenDeal, ctx: Context) -> list[EventPayload]:
    if state.stage is not None:
        raise DomainError("deal_exists", f"案件 {state.deal_id} 已创建，不能重复创建")
    if cmd.actor.role in (Role.AUDITOR,):
        raise DomainError("forbidden", "审计员为只读角色，不能创建案件")
    if cmd.broker.centre_id != cmd.centre.centre_id:
        raise DomainError(
            "broker_not_in_centre",
            f"经纪人 {cmd.broker.name} 属于中心 {cmd.broker.centre_id}，不属于本案中心 {cmd.centre.centre_id}",
        )
    opened = ev.DealOpened(demand=cmd.demand, broker=cmd.broker, centre=cmd.centre)
    entered = state.model_copy(update={"deal_id": cmd.deal_id})
    return [opened, _enter(entered, Stage.DEMAND_MINING, ctx)]


def _validate_demand(state: DealState, cmd: ValidateDemand, ctx: Context) -> list[EventPayload]:
    return [ev.DemandValidated(note=cmd.note), _enter(state, Stage.MATCHING, ctx)]


def _propose(state: DealState, cmd: ProposeCandidates, ctx: Context) -> list[EventPayload]:
    ids = [c.achievement.achievement_id for c in cmd.candidates]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DomainError("duplicate_candidate", f"候选成果重复：{'、'.join(dupes)}；每项成果只能出现一次")
    return [ev.CandidatesProposed(candidates=cmd.candidates, source=cmd.source)]


def _known_candidate(state: DealState, achievement_id: str) -> None:
    if state.candidate(achievement_id) is None:
        known = "、".join(c.achievement.achievement_id for c in state.candidates) or "（暂无候选）"
        raise DomainError("unknown_candidate", f"成果 {achievement_id} 不在候选清单中；当前候选：{known}")


def _shortlist(state: DealState, cmd: ShortlistCandidate, ctx: Context) -> list[EventPayload]:
    _known_candidate(state, cmd.achievement_id)
    if cmd.achievement_id in state.shortlisted:
        raise DomainError("already_shortlisted", f"成果 {cmd.achievement_id} 已在短名单中")
    return [ev.CandidateShortlisted(achievement_id=cmd.achievement_id)]


def _reject(state: DealState, cmd: RejectCandidate, ctx: Context) -> list[EventPayload]:
    _known_candidate(state, cmd.achievement_id)
    if any(r.achievement_id == cmd.achievement_id for r in state.rejections):
        raise DomainError("already_rejected", f"成果 {cmd.achievement_id} 已被拒绝")
    return [ev.CandidateRejected(achievement_id=cmd.achievement_id, reason=cmd.reason, note=cmd.note)]


def _accept(state: DealState, cmd: AcceptMatch, ctx: Context) -> list[EventPayload]:
    if cmd.achievement_id not in state.shortlisted:
        listed = "、".join(state.shortlisted) or "（短名单为空）"
        raise DomainError("not_shortlisted", f"成果 {cmd.achievement_id} 不在短名单中，不能接受对接；短名单：{listed}")
    sides = state.accepted_sides(cmd.achievement_id)
    if cmd.side in sides:
        who = "企业方" if cmd.side == Side.ENTERPRISE else "成果方"
        raise DomainError("already_accepted", f"{who}已接受成果 {cmd.achievement_id} 的对接")
    out: list[EventPayload] = [ev.MatchAccepted(achievement_id=cmd.achievement_id, side=cmd.side)]
    if sides | {cmd.side} == {Side.ENTERPRISE, Side.OWNER}:
        out.append(_enter(state, Stage.BROKERING, ctx))
    return out


def _agree_terms(state: DealState, cmd: AgreeTerms, ctx: Context) -> list[EventPayload]:
    if state.match is None:
        raise DomainError("no_accepted_match", "尚无双方均接受的对接成果，不能商定条款")
    return [ev.TermsAgreed(terms=cmd.terms), _enter(state, Stage.FINANCING, ctx)]


def _fail_negotiation(state: DealState, cmd: FailNegotiation, ctx: Context) -> list[EventPayload]:
    assert state.match is not None  # entering BROKERING requires an accepted match
    return [
        ev.NegotiationFailed(achievement_id=state.match.achievement_id, reason=cmd.reason, note=cmd.note),
        _enter(state, Stage.MATCHING, ctx),
    ]


def _commit(state: DealState, cmd: RecordCommitment, ctx: Context) -> list[EventPayload]:
    if cmd.amount_fen <= 0:
        raise DomainError("amount_not_positive", f"承诺金额应大于 0，收到 {format_wan(cmd.amount_fen)}")
    out: list[EventPayload] = [ev.FinancingCommitted(investor=cmd.investor, instrument=cmd.instrument, amount_fen=cmd.amount_fen)]
    if state.committed_fen + cmd.amount_fen >= state.financing_need_fen:
        out.append(_enter(state, Stage.SIGNING, ctx))
    return out


def _waive(state: DealState, cmd: WaiveFinancing, ctx: Context) -> list[EventPayload]:
    if not cmd.reason.strip():
        raise DomainError("reason_required", "免除融资须说明理由")
    return [ev.FinancingWaived(reason=cmd.reason), _enter(state, Stage.SIGNING, ctx)]


def _sign(state: DealState, cmd: SignContract, ctx: Context) -> list[EventPayload]:
    if state.match is None:
        raise DomainError("no_accepted_match", "尚无双方均接受的对接成果，不能签订合同")
    if state.terms is None:
        raise DomainError("no_terms", "交易条款尚未商定，不能签订合同")
    if state.contract is not None:
        raise DomainError("already_signed", f"合同已于 {state.contract.signed_on.isoformat()} 签订，不能重复签订")
    return [ev.ContractSigned(contract=cmd.contract)]


def _register(state: DealState, cmd: RegisterContract, ctx: Context) -> list[EventPayload]:
    if state.contract is None:
        raise DomainError("contract_not_signed", "合同尚未签订，不能办理认定登记")
    return [ev.ContractRegistered(registration_number=cmd.registration_number), _enter(state, Stage.SIGNED, ctx)]


def _withdraw(state: DealState, cmd: WithdrawDeal, ctx: Context) -> list[EventPayload]:
    if not cmd.reason.strip():
        raise DomainError("reason_required", "撤回案件须说明理由")
    return [ev.DealWithdrawn(reason=cmd.reason), _enter(state, Stage.WITHDRAWN, ctx)]


def _reassign(state: DealState, cmd: ReassignBroker, ctx: Context) -> list[EventPayload]:
    assert state.broker is not None and state.centre is not None
    if cmd.broker.broker_id == state.broker.broker_id:
        raise DomainError("same_broker", f"案件已由经纪人 {cmd.broker.broker_id} 负责，请选择其他经纪人")
    if cmd.broker.centre_id != state.centre.centre_id and cmd.actor.role != Role.HUB_ADMIN:
        raise DomainError(
            "broker_not_in_centre",
            f"经纪人 {cmd.broker.broker_id} 属于中心 {cmd.broker.centre_id}；只能改派给本中心 {state.centre.centre_id} 的经纪人",
        )
    return [ev.BrokerReassigned(previous_broker_id=state.broker.broker_id, broker=cmd.broker, reason=cmd.reason)]


def _extend(state: DealState, cmd: ExtendDeadline, ctx: Context) -> list[EventPayload]:
    if not cmd.reason.strip():
        raise DomainError("reason_required", "延长期限须说明理由")
    total = state.extension_working_days + cmd.working_days
    plan = ctx.plan
    if plan is not None and (plan.stage != state.stage or plan.extra_working_days != total):
        plan = None
    return [ev.DeadlineExtended(working_days=cmd.working_days, reason=cmd.reason, plan=plan)]


def _fire(state: DealState, cmd: FireLadderStep, ctx: Context) -> list[EventPayload]:
    assert state.stage is not None and state.broker is not None and state.centre is not None
    if state.plan is None:
        raise DomainError("no_plan", f"阶段 {zh(state.stage)} 没有期限计划，无法提醒或升级")
    if cmd.step in state.fired_steps:
        raise DomainError("step_already_fired", f"本阶段的「{cmd.step.value}」已经发出")
    due = state.plan.due_at(cmd.step)
    if ctx.now < due:
        raise DomainError("step_not_due", f"「{cmd.step.value}」应于 {due.isoformat()} 发出，现在尚未到期")
    level = ESCALATION_LEVEL[cmd.step]
    if level == 0:
        return [ev.ReminderSent(stage=state.stage, step=cmd.step, recipient_id=state.broker.broker_id)]
    recipient = state.centre.centre_id if level == 1 else HUB_CENTRE_ID
    return [ev.Escalated(stage=state.stage, step=cmd.step, level=1 if level == 1 else 2, recipient_centre_id=recipient)]


def _lapse(state: DealState, cmd: LapseDeal, ctx: Context) -> list[EventPayload]:
    due = next_due(state)
    if due is None or due.step is not None or ctx.now < due.at:
        raise DomainError("not_inactive", "案件尚未达到失效所需的无活动期限")
    assert state.plan is not None
    return [
        ev.DealLapsed(inactive_days=cmd.inactive_days, policy_version=state.plan.policy_version),
        _enter(state, Stage.LAPSED, ctx),
    ]


_Handler = Callable[[DealState, Any, Context], list[EventPayload]]
_HANDLERS: dict[str, _Handler] = {
    "ValidateDemand": _validate_demand,
    "ProposeCandidates": _propose,
    "ShortlistCandidate": _shortlist,
    "RejectCandidate": _reject,
    "AcceptMatch": _accept,
    "AgreeTerms": _agree_terms,
    "FailNegotiation": _fail_negotiation,
    "RecordCommitment": _commit,
    "WaiveFinancing": _waive,
    "SignContract": _sign,
    "RegisterContract": _register,
    "WithdrawDeal": _withdraw,
    "ReassignBroker": _reassign,
    "ExtendDeadline": _extend,
    "FireLadderStep": _fire,
    "LapseDeal": _lapse,
}


# --------------------------------------------------------------------------------------------- evolve


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


# ------------------------------------------------------------------------------------------ timers, plans


class Due(NamedTuple):
    """The next thing a deal's own clock will do: fire a ladder step, or (step None) lapse the deal."""

    at: datetime
    step: LadderStep | None


def next_due(state: DealState) -> Due | None:
    if not state.is_open or state.plan is None:
        return None
    pending = [Due(s.due_at, s.step) for s in state.plan.steps if s.step not in state.fired_steps]
    pending.sort(key=lambda d: (d.at, LADDER_PERCENT[d.step] if d.step else 0))
    assert state.last_activity_at is not None
    lapse = Due(state.last_activity_at + timedelta(days=state.plan.inactivity_lapse_days), None)
    return min([*pending[:1], lapse], key=lambda d: d.at)


def plan_request(state: DealState, new_events: Sequence[Event]) -> PlanRequest | None:
    """The deadline plan `new_events` need before they can be recorded, or None when they need none."""
    for e in new_events:
        p = e.payload
        if isinstance(p, ev.StageEntered) and p.stage in OPEN_STAGES and p.plan is None:
            return PlanRequest(deal_id=e.deal_id, stage=p.stage, started_at=e.occurred_at)
        if isinstance(p, ev.DeadlineExtended) and p.plan is None:
            assert state.stage is not None and state.stage_entered_at is not None
            return PlanRequest(
                deal_id=e.deal_id,
                stage=state.stage,
                started_at=state.stage_entered_at,
                extra_working_days=state.extension_working_days + p.working_days,
            )
    return None


def allowed_commands(state: DealState, actor: Actor | None = None) -> list[str]:
    """Command types that may be offered now (payload checks still apply), optionally for one actor."""
    if state.stage is None:
        return ["OpenDeal"]
    if is_terminal(state):
        return []
    offered: list[str] = []
    for command_type, stages in _STAGE_OF.items():
        if command_type in _SYSTEM_COMMANDS or (stages is not None and state.stage not in stages):
            continue
        if not _precondition(state, command_type):
            continue
        if actor is not None:
            try:
                _authorize(state, command_type, actor)
            except DomainError:
                continue
        offered.append(command_type)
    return offered


def _precondition(state: DealState, command_type: str) -> bool:
    match command_type:
        case "ShortlistCandidate" | "RejectCandidate":
            return bool(state.candidates)
        case "AcceptMatch":
            return bool(state.shortlisted)
        case "AgreeTerms" | "FailNegotiation":
            return state.match is not None
        case "SignContract":
            return state.contract is None and state.match is not None and state.terms is not None
        case "RegisterContract":
            return state.contract is not None
        case "ExtendDeadline":
            return state.plan is not None
        case _:
            return True
