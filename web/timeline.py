"""One line per archived event, for the deal page's and the roadshow page's timelines and the API.

Chinese (`who`, `what`, `roadshow_what`) is the record's language and what the API answers; English (`who_en`,
`what_en`, `roadshow_what_en`) is for English pages. Both write the same facts; what people typed (titles, names,
reasons, notes) and partners' own messages stay as they were written.
"""

from __future__ import annotations

from functools import cache

from domain import events as ev
from domain import roadshow as rs
from domain.actors import Role
from domain.events import Event
from domain.parties import format_wan
from domain.sla import LADDER_PERCENT
from domain.stages import STAGE_NAMES_ZH, Stage
from registry.declines import REASON_LABELS
from web.format import en_date, en_money
from web.i18n import DEFAULT, Gettext, gettext_for
from web.partner_view import INSTRUMENT_ZH

ROLE_ZH = {
    Role.BROKER: "经纪人",
    Role.MANAGER: "中心管理员",
    Role.HUB_ADMIN: "省中心",
    Role.AUDITOR: "审计员",
    Role.SYSTEM: "系统",
}


def who(event: Event | rs.RoadshowEvent) -> str:
    actor = event.actor
    if actor.id == "system:timer":
        return "系统定时器"
    if actor.id == "system:partner":
        return "合作机构"
    if actor.id == "system:roadshow":
        return "路演工作流"
    return f"{ROLE_ZH.get(actor.role, actor.role)} {actor.id}"


def what(event: Event) -> str:
    p = event.payload
    match p:
        case ev.DealOpened():
            return f"创建案件：{p.demand.title}（{p.demand.enterprise.name}），经纪人 {p.broker.name}"
        case ev.StageEntered():
            return f"进入「{STAGE_NAMES_ZH[p.stage]}」阶段"
        case ev.DemandValidated():
            return f"确认需求{'：' + p.note if p.note else ''}"
        case ev.CandidatesProposed():
            return "推荐候选成果：" + "、".join(f"{c.achievement.title}（{c.score:g}）" for c in p.candidates)
        case ev.CandidateShortlisted():
            return f"入围成果 {p.achievement_id}"
        case ev.CandidateRejected():
            return f"否决成果 {p.achievement_id}（{p.reason.value}）"
        case ev.MatchAccepted():
            return f"{'企业方' if p.side == ev.Side.ENTERPRISE else '成果方'}确认匹配 {p.achievement_id}"
        case ev.TermsAgreed():
            return f"商定条款：{p.terms.transfer_mode.value}，价格 {format_wan(p.terms.price_fen)}"
        case ev.NegotiationFailed():
            return f"谈判未成（{p.reason.value}），退回技术匹配"
        case ev.FinancingCommitted():
            return f"{p.investor} 承诺 {format_wan(p.amount_fen)}（{p.instrument.value}）"
        case ev.FinancingWaived():
            return f"无需融资：{p.reason}"
        case ev.ContractSigned():
            return f"签订{p.contract.contract_type.value}合同，成交额 {format_wan(p.contract.total_value_fen)}"
        case ev.ContractRegistered():
            return f"合同认定登记，编号 {p.registration_number}"
        case ev.DealWithdrawn():
            return f"撤回案件：{p.reason}"
        case ev.DealLapsed():
            return f"案件失效：{p.inactive_days} 天无进展"
        case ev.BrokerReassigned():
            return f"改派经纪人 {p.previous_broker_id} → {p.broker.name}（{p.broker.broker_id}）：{p.reason}"
        case ev.DeadlineExtended():
            return f"延长期限 {p.working_days} 个工作日：{p.reason}"
        case ev.ReminderSent():
            return f"提醒经纪人：{STAGE_NAMES_ZH[p.stage]}阶段已用去 {LADDER_PERCENT[p.step]}% 期限"
        case ev.Escalated():
            return f"{p.level} 级升级至 {p.recipient_centre_id}：{STAGE_NAMES_ZH[p.stage]}阶段超期"
        case ev.FinancingApplied():
            return f"向 {p.partner_id} 申请融资 {format_wan(p.amount_fen)}（{p.instrument.value}），申请编号 {p.application_id}"
        case ev.PartnerRequestDelivered():
            return f"申请 {p.request_id} 已送达合作方，对方编号 {p.partner_reference}"
        case ev.PartnerRequestRefused():
            return f"合作方拒收申请 {p.request_id}：{p.partner_message}"
        case ev.CommitmentRecorded():
            return f"{p.partner_id} 承诺 {format_wan(p.amount_fen)}（{p.instrument.value}）" + (
                f"，有效期至 {p.expires_at:%Y-%m-%d}" if p.expires_at else ""
            )
        case ev.FinancingDeclined():
            return f"{p.partner_id} 不予融资（申请 {p.request_id}）{'：' + p.message if p.message else ''}"
        case ev.CommitmentWithdrawn():
            return f"{p.partner_id} 撤回承诺 {format_wan(p.amount_fen)}{'：' + p.message if p.message else ''}"
        case ev.CommitmentExpired():
            return f"{p.partner_id} 的承诺 {format_wan(p.amount_fen)} 已到期"
        case ev.PartnerAnswerOverdue():
            step = f"{LADDER_PERCENT[p.step]}%"
            return f"合作方 {p.partner_id} 未答复申请 {p.request_id}（期限已用 {step}），通知 {p.recipient_id}"
        case ev.TechnologyContractSigned():
            c = p.contract
            return f"签订{c.contract_type.value}合同 {c.contract_no}，成交额 {format_wan(c.total_value_fen)}，双方已签署"
        case ev.RegistrationSubmitted():
            review = "，需专家评审" if p.expert_review else ""
            return f"{'重新' if p.resubmission else ''}提交认定登记 {p.submission_id}（合同 {p.contract_no}）{review}"
        case ev.RegistrationCorrectionRequested():
            return f"登记机构要求补正：{'、'.join(p.reason_codes)}"
        case ev.RegistrationRefused():
            return f"登记机构不予登记：{'、'.join(p.reason_codes)}"
        case ev.ContractRegistrationRecorded():
            return f"登记申请 {p.submission_id} 获准登记"
    return event.type


def roadshow_what(event: rs.RoadshowEvent) -> str:
    """One line of Chinese for a roadshow's archived event."""
    p = event.payload
    match p:
        case rs.RoadshowScheduled():
            where = p.venue if p.mode == rs.RoadshowMode.VENUE else rs.MODE_ZH[p.mode]
            return f"安排路演「{p.title}」：{p.held_on:%Y-%m-%d}，{where}，组织中心 {p.centre_id}"
        case rs.DealPresented():
            return f"推介案件 {p.deal_id}"
        case rs.InvestorInvited():
            return f"邀请投资方 {p.investor.name}（{p.investor.partner_id}）"
        case rs.InterestRegistered():
            note = f"：{p.note}" if p.note else ""
            return f"{p.investor_id} 对案件 {p.deal_id} 有意向 {format_wan(p.amount_fen)}（{p.instrument.value}）{note}"
        case rs.DueDiligenceRequested():
            return f"{p.investor_id} 要求案件 {p.deal_id} 提供尽调材料：{'、'.join(p.materials)}"
        case rs.ApplicationForwarded():
            return f"意向已转为案件 {p.deal_id} 的融资申请 {p.application_id}"
        case rs.ApplicationNotForwarded():
            return f"案件 {p.deal_id} 未受理融资申请 {p.application_id}：{p.refusal}"
        case rs.RoadshowClosed():
            return f"路演结束{'：' + p.note if p.note else ''}"
    return event.type


# ------------------------------------------------------------------------------------------------------ English

ROLE_EN = {
    Role.BROKER: "Broker",
    Role.MANAGER: "Centre manager",
    Role.HUB_ADMIN: "Provincial hub",
    Role.AUDITOR: "Auditor",
    Role.SYSTEM: "System",
}
SYSTEM_EN = {"system:timer": "System timer", "system:partner": "Partner", "system:roadshow": "Roadshow workflow"}


@cache
def _en() -> Gettext:
    # Names the pages already translate (stages, modes, instruments, reasons) come from the same catalogue.
    return gettext_for("en")


def _stage(stage: Stage) -> str:
    return _en()(STAGE_NAMES_ZH[stage])


def _instrument(instrument: ev.Instrument) -> str:
    return _en()(INSTRUMENT_ZH[instrument.value]).lower()


def _reason(reason: ev.DeclineReason) -> str:
    return _en()(REASON_LABELS[reason])


def _then(text: str) -> str:
    """': text' when there is a text (a note, a partner's message), else nothing."""
    return f": {text}" if text else ""


def who_en(event: Event | rs.RoadshowEvent) -> str:
    actor = event.actor
    if actor.id in SYSTEM_EN:
        return SYSTEM_EN[actor.id]
    return f"{ROLE_EN.get(actor.role, actor.role)} {actor.id}"


def what_en(event: Event) -> str:
    """The English line of a deal's archived event."""
    p = event.payload
    match p:
        case ev.DealOpened():
            return f"Deal opened: {p.demand.title} ({p.demand.enterprise.name}), broker {p.broker.name}"
        case ev.StageEntered():
            return f"Entered the stage “{_stage(p.stage)}”"
        case ev.DemandValidated():
            return f"Demand validated{_then(p.note)}"
        case ev.CandidatesProposed():
            return "Candidates proposed: " + "; ".join(f"{c.achievement.title} ({c.score:g})" for c in p.candidates)
        case ev.CandidateShortlisted():
            return f"Achievement {p.achievement_id} shortlisted"
        case ev.CandidateRejected():
            return f"Achievement {p.achievement_id} rejected ({_reason(p.reason)})"
        case ev.MatchAccepted():
            side = "The enterprise" if p.side == ev.Side.ENTERPRISE else "The achievement's owner"
            return f"{side} accepted the match {p.achievement_id}"
        case ev.TermsAgreed():
            return f"Terms agreed: {_en()(p.terms.transfer_mode.value).lower()}, price {en_money(p.terms.price_fen)}"
        case ev.NegotiationFailed():
            return f"Negotiation failed ({_reason(p.reason)}); back to matching"
        case ev.FinancingCommitted():
            return f"{p.investor} committed {en_money(p.amount_fen)} ({_instrument(p.instrument)})"
        case ev.FinancingWaived():
            return f"No financing needed: {p.reason}"
        case ev.ContractSigned():
            kind = _en()(p.contract.contract_type.value).lower()
            return f"Contract signed ({kind}), value {en_money(p.contract.total_value_fen)}"
        case ev.ContractRegistered():
            return f"Contract registered, number {p.registration_number}"
        case ev.DealWithdrawn():
            return f"Deal withdrawn: {p.reason}"
        case ev.DealLapsed():
            return f"Deal lapsed: no progress for {p.inactive_days} days"
        case ev.BrokerReassigned():
            return f"Broker reassigned {p.previous_broker_id} → {p.broker.name} ({p.broker.broker_id}): {p.reason}"
        case ev.DeadlineExtended():
            return f"Deadline extended by {p.working_days} working days: {p.reason}"
        case ev.ReminderSent():
            return f"Reminder to the broker: {LADDER_PERCENT[p.step]}% of the {_stage(p.stage)} stage's time used"
        case ev.Escalated():
            return f"Escalated (level {p.level}) to {p.recipient_centre_id}: the {_stage(p.stage)} stage is overdue"
        case ev.FinancingApplied():
            amount = f"{en_money(p.amount_fen)} ({_instrument(p.instrument)})"
            return f"Applied to {p.partner_id} for {amount}, application {p.application_id}"
        case ev.PartnerRequestDelivered():
            return f"Request {p.request_id} delivered to the partner, their reference {p.partner_reference}"
        case ev.PartnerRequestRefused():
            return f"The partner refused request {p.request_id}{_then(p.partner_message)}"
        case ev.CommitmentRecorded():
            until = f", valid until {en_date(p.expires_at)}" if p.expires_at else ""
            return f"{p.partner_id} committed {en_money(p.amount_fen)} ({_instrument(p.instrument)}){until}"
        case ev.FinancingDeclined():
            return f"{p.partner_id} declined to finance (request {p.request_id}){_then(p.message)}"
        case ev.CommitmentWithdrawn():
            return f"{p.partner_id} withdrew its commitment of {en_money(p.amount_fen)}{_then(p.message)}"
        case ev.CommitmentExpired():
            return f"{p.partner_id}'s commitment of {en_money(p.amount_fen)} expired"
        case ev.PartnerAnswerOverdue():
            used = f"{LADDER_PERCENT[p.step]}% of the time used"
            return f"Partner {p.partner_id} has not answered request {p.request_id} ({used}); {p.recipient_id} notified"
        case ev.TechnologyContractSigned():
            c = p.contract
            kind = _en()(c.contract_type.value).lower()
            return f"Contract {c.contract_no} ({kind}) signed by both parties, value {en_money(c.total_value_fen)}"
        case ev.RegistrationSubmitted():
            review = ", expert review needed" if p.expert_review else ""
            verb = "Resubmitted" if p.resubmission else "Submitted"
            return f"{verb} for contract registration: {p.submission_id} (contract {p.contract_no}){review}"
        case ev.RegistrationCorrectionRequested():
            return f"The registration office asks for corrections: {', '.join(p.reason_codes)}"
        case ev.RegistrationRefused():
            return f"The registration office refused to register: {', '.join(p.reason_codes)}"
        case ev.ContractRegistrationRecorded():
            return f"Registration application {p.submission_id} approved"
    return event.type


def roadshow_what_en(event: rs.RoadshowEvent) -> str:
    """The English line of a roadshow's archived event."""
    p = event.payload
    match p:
        case rs.RoadshowScheduled():
            where = p.venue if p.mode == rs.RoadshowMode.VENUE else _en()(rs.MODE_ZH[p.mode]).lower()
            return f"Roadshow “{p.title}” scheduled: {en_date(p.held_on)}, {where}, organised by {p.centre_id}"
        case rs.DealPresented():
            return f"Deal {p.deal_id} presented"
        case rs.InvestorInvited():
            return f"Investor {p.investor.name} ({p.investor.partner_id}) invited"
        case rs.InterestRegistered():
            amount = f"{en_money(p.amount_fen)} ({_instrument(p.instrument)})"
            return f"{p.investor_id} is interested in deal {p.deal_id}: {amount}{_then(p.note)}"
        case rs.DueDiligenceRequested():
            return f"{p.investor_id} asks deal {p.deal_id} for due-diligence materials: {', '.join(p.materials)}"
        case rs.ApplicationForwarded():
            return f"Interest forwarded to deal {p.deal_id} as financing application {p.application_id}"
        case rs.ApplicationNotForwarded():
            return f"Deal {p.deal_id} did not take financing application {p.application_id}: {p.refusal}"
        case rs.RoadshowClosed():
            return f"Roadshow closed{_then(p.note)}"
    return event.type


def deal_line(event: Event, lang: str) -> tuple[str, str]:
    """(who, what) of a deal's event in the page's language."""
    return (who(event), what(event)) if lang == DEFAULT else (who_en(event), what_en(event))


def roadshow_line(event: rs.RoadshowEvent, lang: str) -> tuple[str, str]:
    """(who, what) of a roadshow's event in the page's language."""
    return (who(event), roadshow_what(event)) if lang == DEFAULT else (who_en(event), roadshow_what_en(event))
