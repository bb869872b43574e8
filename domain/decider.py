"""The decider: `decide(state, command, ctx) -> events`, with `evolve(state, event) -> state` (in `domain.evolve`,
re-exported here so that the pair is imported from one place).

The same functions run in the workflow, in its update validators, in the auditor's replay and in
tests. `decide` never mutates; it either returns the events a command causes or raises DomainError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from domain import events as ev
from domain.actors import MATCHING, PARTNER, ROADSHOW, Actor, Role
from domain.commands import (
    AcceptMatch,
    AgreeTerms,
    ApplyForFinancing,
    Command,
    Context,
    ExpireCommitment,
    ExtendDeadline,
    FailNegotiation,
    FireLadderStep,
    FirePartnerLadderStep,
    LapseDeal,
    OpenDeal,
    ProposeCandidates,
    ReassignBroker,
    RecordCommitment,
    RecordDelivery,
    RecordPartnerAnswer,
    RegisterContract,
    RejectCandidate,
    ShortlistCandidate,
    SignContract,
    SignTechnologyContract,
    SubmitRegistration,
    ValidateDemand,
    WaiveFinancing,
    WithdrawDeal,
)
from domain.errors import DomainError
from domain.events import Event, EventPayload, Side
from domain.evolve import evolve, fold
from domain.parties import format_wan
from domain.partners import (
    FINANCING_DECISIONS,
    FINANCING_KINDS,
    REGISTRATION_DECISIONS,
    AnswerPlanRequest,
    Decision,
    PartnerKind,
    PartnerRequest,
    PartyRole,
    RequestStatus,
)
from domain.sla import ESCALATION_LEVEL, LADDER_PERCENT, LadderStep, PlanRequest
from domain.stages import LEGAL_TRANSITIONS, OPEN_STAGES, Stage, zh
from domain.state import DealState, initial_state, is_terminal

__all__ = [
    "HUB_CENTRE_ID",
    "Due",
    "allowed_commands",
    "answer_plan_request",
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
    "ApplyForFinancing": (Stage.FINANCING,),
    "RecordDelivery": None,
    "RecordPartnerAnswer": None,  # which stage an answer needs depends on the answer (see _record_answer)
    "ExpireCommitment": (Stage.FINANCING, Stage.SIGNING),
    "FirePartnerLadderStep": (Stage.FINANCING, Stage.SIGNING),
    "SignTechnologyContract": (Stage.SIGNING,),
    "SubmitRegistration": (Stage.SIGNING,),
}
_MANAGER_COMMANDS = frozenset({"ReassignBroker", "ExtendDeadline"})
_SYSTEM_COMMANDS = frozenset({"FireLadderStep", "LapseDeal", "ExpireCommitment", "FirePartnerLadderStep"})
# Only an authenticated partner answer (through the callback endpoint and the workflow) may record these: a person
# typing a partner's answer would bypass the signature check.
_PARTNER_ONLY_COMMANDS = frozenset({"RecordDelivery", "RecordPartnerAnswer"})
# What each machine identity may do besides the timers' own commands.
_SYSTEM_COMMANDS_BY_IDENTITY: dict[str, frozenset[str]] = {
    PARTNER.id: frozenset({"RecordCommitment", "RegisterContract", "RecordDelivery", "RecordPartnerAnswer"}),
    MATCHING.id: frozenset({"ProposeCandidates"}),  # the shortlist proposed when a deal enters matching
    ROADSHOW.id: frozenset({"ApplyForFinancing"}),  # an investor's interest at a roadshow becomes an application
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
    if command_type in _PARTNER_ONLY_COMMANDS:
        raise DomainError("forbidden", f"「{command_type}」只能由经签名验证的合作方答复产生，{actor.id} 无权执行")
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


# ------------------------------------------------------------------------- partners (PARTNERS_PATCH)

_KIND_ZH = {
    PartnerKind.BANK: "银行",
    PartnerKind.GUARANTEE: "融资担保公司",
    PartnerKind.FUND: "基金",
    PartnerKind.REGISTRATION_OFFICE: "技术合同登记机构",
}


def _answer_plan_for(ctx: Context, request_id: str) -> tuple[Any, str | None, bool]:
    ap = ctx.answer_plan
    if ap is None or ap.request_id != request_id:
        return None, None, False
    return ap.plan, ap.rules_version, ap.expert_review


def _unused_request_id(state: DealState, request_id: str) -> None:
    if state.partner_request(request_id) is not None:
        raise DomainError("duplicate_request", f"编号 {request_id} 已被本案的其他申请或登记使用；请换一个编号")


def _apply_financing(state: DealState, cmd: ApplyForFinancing, ctx: Context) -> list[EventPayload]:
    if cmd.partner_kind not in FINANCING_KINDS:
        allowed = "、".join(f"{k.value}（{_KIND_ZH[k]}）" for k in FINANCING_KINDS)
        raise DomainError("not_an_investor", f"融资申请只能发给 {allowed}，收到 {cmd.partner_kind.value}")
    if cmd.amount_fen <= 0:
        raise DomainError("amount_not_positive", f"申请金额应大于 0，收到 {format_wan(cmd.amount_fen)}")
    _unused_request_id(state, cmd.application_id)
    plan, version, _ = _answer_plan_for(ctx, cmd.application_id)
    return [
        ev.FinancingApplied(
            application_id=cmd.application_id,
            partner_id=cmd.partner_id,
            partner_kind=cmd.partner_kind,
            instrument=cmd.instrument,
            amount_fen=cmd.amount_fen,
            note=cmd.note,
            answer_plan=plan,
            rules_version=version,
        )
    ]


def _known_request(state: DealState, request_id: str) -> PartnerRequest:
    request = state.partner_request(request_id)
    if request is None:
        known = "、".join(r.request_id for r in state.partner_requests) or "（本案尚无申请）"
        raise DomainError("unknown_request", f"本案没有编号为 {request_id} 的融资申请或登记；本案的申请：{known}")
    return request


def _record_delivery(state: DealState, cmd: RecordDelivery, ctx: Context) -> list[EventPayload]:
    request = _known_request(state, cmd.request_id)
    if request.status != RequestStatus.APPLIED:
        raise DomainError("already_delivered", f"申请 {cmd.request_id} 的送达结果已记录（{request.status.value}）")
    if cmd.partner_reference:
        return [ev.PartnerRequestDelivered(request_id=cmd.request_id, partner_reference=cmd.partner_reference)]
    return [ev.PartnerRequestRefused(request_id=cmd.request_id, status_code=cmd.status_code, partner_message=cmd.partner_message)]


def _record_answer(state: DealState, cmd: RecordPartnerAnswer, ctx: Context) -> list[EventPayload]:
    a = cmd.answer
    if a.answer_id in state.answer_ids:
        raise DomainError("duplicate_answer", f"合作方答复 {a.answer_id} 已记录过，重复答复不产生任何变化")
    request = _known_request(state, a.request_id)
    if request.partner_id != a.partner_id:
        raise DomainError("wrong_partner", f"申请 {a.request_id} 是发给 {request.partner_id} 的，{a.partner_id} 不能答复它")
    is_registration = request.kind == PartnerKind.REGISTRATION_OFFICE
    allowed = REGISTRATION_DECISIONS if is_registration else FINANCING_DECISIONS
    if a.decision not in allowed:
        names = "、".join(sorted(d.value for d in allowed))
        raise DomainError("wrong_decision", f"对{_KIND_ZH[request.kind]}的申请只能答复 {names}，收到 {a.decision.value}")
    if a.decision == Decision.WITHDRAWN:
        return _withdraw_commitment(state, request, a.answer_id, a.message)
    if not request.awaiting_answer:
        raise DomainError("already_answered", f"申请 {a.request_id} 已有结论（{request.status.value}），不再接受新的结论")
    if is_registration:
        return _registration_answer(state, request, cmd, ctx)
    if state.stage != Stage.FINANCING:
        raise DomainError(
            "financing_closed", f"案件已离开路演融资阶段（当前 {zh(state.stage or Stage.FINANCING)}），不再记录融资答复"
        )
    if a.decision == Decision.DECLINED:
        return [
            ev.FinancingDeclined(request_id=request.request_id, answer_id=a.answer_id, partner_id=a.partner_id, message=a.message)
        ]
    assert a.instrument is not None  # PartnerAnswer requires it for a commitment
    if a.expires_at is not None and a.expires_at <= ctx.now:
        raise DomainError("commitment_expired", f"承诺有效期 {a.expires_at.isoformat()} 已过，不能记录为有效承诺")
    out: list[EventPayload] = [
        ev.CommitmentRecorded(
            request_id=request.request_id,
            answer_id=a.answer_id,
            partner_id=a.partner_id,
            instrument=a.instrument,
            amount_fen=a.amount_fen,
            conditions=a.conditions,
            expires_at=a.expires_at,
        )
    ]
    if state.committed_fen + a.amount_fen >= state.financing_need_fen:
        out.append(_enter(state, Stage.SIGNING, ctx))
    return out


def _withdraw_commitment(state: DealState, request: PartnerRequest, answer_id: str, message: str) -> list[EventPayload]:
    commitment = state.commitment(request.request_id)
    if commitment is None:
        raise DomainError("no_commitment", f"申请 {request.request_id} 没有有效承诺，无从撤回")
    if state.stage != Stage.FINANCING:
        raise DomainError("too_late_to_withdraw", "案件已离开路演融资阶段，承诺不能再撤回")
    return [
        ev.CommitmentWithdrawn(
            request_id=request.request_id,
            answer_id=answer_id,
            partner_id=request.partner_id,
            amount_fen=commitment.amount_fen,
            message=message,
        )
    ]


def _registration_answer(state: DealState, request: PartnerRequest, cmd: RecordPartnerAnswer, ctx: Context) -> list[EventPayload]:
    a = cmd.answer
    if a.decision == Decision.REGISTERED:
        assert a.registration_number is not None  # PartnerAnswer requires it
        return [
            ev.ContractRegistrationRecorded(submission_id=request.request_id, answer_id=a.answer_id),
            ev.ContractRegistered(registration_number=a.registration_number),
            _enter(state, Stage.SIGNED, ctx),
        ]
    if a.decision == Decision.CORRECTION_REQUESTED:
        return [
            ev.RegistrationCorrectionRequested(
                submission_id=request.request_id, answer_id=a.answer_id, reason_codes=a.reason_codes, message=a.message
            )
        ]
    return [
        ev.RegistrationRefused(
            submission_id=request.request_id, answer_id=a.answer_id, reason_codes=a.reason_codes, message=a.message
        )
    ]


def _expire(state: DealState, cmd: ExpireCommitment, ctx: Context) -> list[EventPayload]:
    commitment = state.commitment(cmd.request_id)
    if commitment is None or commitment.expires_at is None:
        raise DomainError("no_commitment", f"申请 {cmd.request_id} 没有设有效期的承诺")
    if ctx.now < commitment.expires_at:
        raise DomainError("not_expired", f"承诺有效期至 {commitment.expires_at.isoformat()}，尚未到期")
    if not _commitments_binding_open(state):
        raise DomainError("contract_signed", "合同已签订，融资承诺已锁定，到期不再影响本案")
    out: list[EventPayload] = [
        ev.CommitmentExpired(
            request_id=cmd.request_id,
            partner_id=commitment.partner_id,
            amount_fen=commitment.amount_fen,
            expired_at=commitment.expires_at,
        )
    ]
    if state.stage == Stage.SIGNING and state.committed_fen - commitment.amount_fen < state.financing_need_fen:
        out.append(_enter(state, Stage.FINANCING, ctx))  # the gap is open again, and so is a new ladder
    return out


def _commitments_binding_open(state: DealState) -> bool:
    """Commitments can still lapse: in FINANCING, or in SIGNING before any contract is signed."""
    if state.stage == Stage.FINANCING:
        return True
    return state.stage == Stage.SIGNING and state.contract is None and state.financing_waived_reason is None


def _request_ladder_open(state: DealState, request: PartnerRequest) -> bool:
    if not request.awaiting_answer or request.answer_plan is None:
        return False
    wanted = Stage.SIGNING if request.kind == PartnerKind.REGISTRATION_OFFICE else Stage.FINANCING
    return state.stage == wanted


def _fire_partner_step(state: DealState, cmd: FirePartnerLadderStep, ctx: Context) -> list[EventPayload]:
    assert state.broker is not None and state.centre is not None
    request = _known_request(state, cmd.request_id)
    if not _request_ladder_open(state, request):
        raise DomainError("request_not_waiting", f"申请 {cmd.request_id} 已不在等待答复，无需提醒")
    assert request.answer_plan is not None
    if cmd.step.value in request.fired_steps:
        raise DomainError("step_already_fired", f"申请 {cmd.request_id} 的「{cmd.step.value}」已经发出")
    due = request.answer_plan.due_at(cmd.step)
    if ctx.now < due:
        raise DomainError("step_not_due", f"「{cmd.step.value}」应于 {due.isoformat()} 发出，现在尚未到期")
    level = ESCALATION_LEVEL[cmd.step]
    recipient = state.broker.broker_id if level == 0 else state.centre.centre_id if level == 1 else HUB_CENTRE_ID
    return [
        ev.PartnerAnswerOverdue(
            request_id=request.request_id,
            partner_id=request.partner_id,
            step=cmd.step,
            level=0 if level == 0 else 1 if level == 1 else 2,
            recipient_id=recipient,
        )
    ]


def _sign_technology_contract(state: DealState, cmd: SignTechnologyContract, ctx: Context) -> list[EventPayload]:
    if state.match is None or state.terms is None:
        raise DomainError("no_terms", "尚无双方接受的对接成果或交易条款，不能签订合同")
    if state.technology_contract is None and state.contract is not None:
        raise DomainError("already_signed", f"合同已于 {state.contract.signed_on.isoformat()} 签订，不能重复签订")
    if state.technology_contract is not None and state.registration_state not in ("correction_requested", "refused"):
        raise DomainError("already_signed", "合同已签订；只有登记机构要求补正或不予登记后，才能签订修改后的合同")
    assert state.demand is not None
    enterprise = next(p for p in cmd.contract.parties if p.role == PartyRole.ASSIGNEE)
    if enterprise.credit_code != state.demand.enterprise.credit_code:
        raise DomainError(
            "wrong_party",
            f"甲方（{PartyRole.ASSIGNEE.value}）的统一社会信用代码应为出题企业 {state.demand.enterprise.name} 的 "
            f"{state.demand.enterprise.credit_code}，收到 {enterprise.credit_code}",
        )
    return [ev.TechnologyContractSigned(contract=cmd.contract)]


def _submit_registration(state: DealState, cmd: SubmitRegistration, ctx: Context) -> list[EventPayload]:
    contract = state.technology_contract
    if contract is None:
        raise DomainError("contract_not_signed", "尚未签订完整的技术合同（SignTechnologyContract），不能申请认定登记")
    if state.open_submission is not None:
        raise DomainError("submission_pending", f"登记申请 {state.open_submission.request_id} 尚待登记机构答复，不能重复提交")
    if state.registration_state in ("correction_requested", "refused"):
        raise DomainError("correction_needed", "登记机构要求补正或不予登记：请先签订修改后的合同，再重新提交")
    _unused_request_id(state, cmd.submission_id)
    plan, version, expert_review = _answer_plan_for(ctx, cmd.submission_id)
    return [
        ev.RegistrationSubmitted(
            submission_id=cmd.submission_id,
            partner_id=cmd.partner_id,
            contract_no=contract.contract_no,
            total_value_fen=contract.total_value_fen,
            expert_review=expert_review,
            resubmission=state.registration_state == "amended",
            answer_plan=plan,
            rules_version=version,
        )
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
    "ApplyForFinancing": _apply_financing,
    "RecordDelivery": _record_delivery,
    "RecordPartnerAnswer": _record_answer,
    "ExpireCommitment": _expire,
    "FirePartnerLadderStep": _fire_partner_step,
    "SignTechnologyContract": _sign_technology_contract,
    "SubmitRegistration": _submit_registration,
}


# ------------------------------------------------------------------------------------------ timers, plans


class Due(NamedTuple):
    """The next thing a deal's own clock will do: fire a ladder step, or (step None) lapse the deal.

    With `request_id` set (partners): the step of that partner request's answer ladder, or with `expiry`
    the expiry of the commitment answering it.
    """

    at: datetime
    step: LadderStep | None
    request_id: str | None = None
    expiry: bool = False


def next_due(state: DealState) -> Due | None:
    if not state.is_open or state.plan is None:
        return None
    pending = [Due(s.due_at, s.step) for s in state.plan.steps if s.step not in state.fired_steps]
    pending.sort(key=lambda d: (d.at, LADDER_PERCENT[d.step] if d.step else 0))
    assert state.last_activity_at is not None
    lapse = Due(state.last_activity_at + timedelta(days=state.plan.inactivity_lapse_days), None)
    # A deal without partner requests (every deal recorded before PARTNERS_PATCH) has exactly the old clock.
    return min([*pending[:1], lapse, *_partner_dues(state)], key=lambda d: d.at)


def _partner_dues(state: DealState) -> list[Due]:
    if not state.partner_requests:
        return []
    out: list[Due] = []
    for r in state.partner_requests:
        if _request_ladder_open(state, r):
            assert r.answer_plan is not None
            steps = [s for s in r.answer_plan.steps if s.step.value not in r.fired_steps]
            if steps:
                first = min(steps, key=lambda s: (s.due_at, LADDER_PERCENT[s.step]))
                out.append(Due(first.due_at, first.step, r.request_id))
    if _commitments_binding_open(state):
        out += [Due(c.expires_at, None, c.request_id, True) for c in state.firm_commitments if c.expires_at is not None]
    return out


def answer_plan_request(state: DealState, new_events: Sequence[Event]) -> AnswerPlanRequest | None:
    """The partner answer deadline `new_events` need before they can be recorded, or None."""
    for e in new_events:
        p = e.payload
        if isinstance(p, ev.FinancingApplied) and p.answer_plan is None:
            return AnswerPlanRequest(
                deal_id=e.deal_id,
                request_id=p.application_id,
                kind=p.partner_kind,
                amount_fen=p.amount_fen,
                started_at=e.occurred_at,
            )
        if isinstance(p, ev.RegistrationSubmitted) and p.answer_plan is None:
            return AnswerPlanRequest(
                deal_id=e.deal_id,
                request_id=p.submission_id,
                kind=PartnerKind.REGISTRATION_OFFICE,
                amount_fen=p.total_value_fen,
                started_at=e.occurred_at,
            )
    return None


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
        if command_type in _SYSTEM_COMMANDS | _PARTNER_ONLY_COMMANDS or (stages is not None and state.stage not in stages):
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
        case "SignTechnologyContract":
            fresh = state.contract is None and state.technology_contract is None
            amend = state.technology_contract is not None and state.registration_state in ("correction_requested", "refused")
            return state.match is not None and state.terms is not None and (fresh or amend)
        case "SubmitRegistration":
            return (
                state.technology_contract is not None
                and state.open_submission is None
                and state.registration_state in (None, "amended")
            )
        case "ExtendDeadline":
            return state.plan is not None
        case _:
            return True
