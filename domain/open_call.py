"""Open calls (揭榜挂帅): a deal's demand published with a deadline and solver qualifications, answered by bids.

The same decider shape as `domain.decider`: `decide(state, command, ctx) -> events` or DomainError(code, Chinese
message), `evolve`, `fold`. It runs in OpenCallWorkflow, in its update validators, and on the server before a
call is started, so the web layer and the workflow cannot disagree. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from functools import singledispatch
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from domain.actors import TIMER, Actor, Role
from domain.errors import DomainError
from domain.events import canonical_json
from domain.identifiers import RegionCode
from domain.parties import AchievementRef, Demand, Fen, Model
from domain.stages import Stage, zh

OPEN_CALL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# A call is published while the demand is being worked and before a match exists.
PUBLISHABLE_STAGES = (Stage.DEMAND_MINING, Stage.MATCHING)
LONGEST_CALL = timedelta(days=366)
# After the close the enterprise's side has this long to select; then the call ends unselected, so an abandoned
# call (the deal withdrawn, nobody fit) does not wait forever.
SELECTION_PERIOD = timedelta(days=90)
_BEIJING = timezone(timedelta(hours=8))


class InstitutionKind(StrEnum):
    UNIVERSITY = "university"  # 高校
    RESEARCH_INSTITUTE = "research_institute"  # 科研院所
    NEW_RD_INSTITUTION = "new_rd_institution"  # 新型研发机构
    ENTERPRISE = "enterprise"  # 企业


KIND_ZH = {
    InstitutionKind.UNIVERSITY: "高校",
    InstitutionKind.RESEARCH_INSTITUTE: "科研院所",
    InstitutionKind.NEW_RD_INSTITUTION: "新型研发机构",
    InstitutionKind.ENTERPRISE: "企业",
}


class OpenCallStatus(StrEnum):
    DRAFT = "draft"  # not yet published (only before the first event)
    OPEN = "open"  # 揭榜中
    CLOSED = "closed"  # 已截止: bids are in, the enterprise side selects
    AWARDED = "awarded"  # 已选定揭榜方
    LAPSED = "lapsed"  # 选定期满未选定，已结束


STATUS_ZH = {
    OpenCallStatus.DRAFT: "未发布",
    OpenCallStatus.OPEN: "揭榜中",
    OpenCallStatus.CLOSED: "已截止",
    OpenCallStatus.AWARDED: "已选定揭榜方",
    OpenCallStatus.LAPSED: "选定期满未选定，已结束",
}


def beijing(moment: datetime) -> str:
    """A moment as people here read it: 2026年12月01日 17:00（北京时间）."""
    return moment.astimezone(_BEIJING).strftime("%Y年%m月%d日 %H:%M") + "（北京时间）"


def region_contains(scope: str, code: str) -> bool:
    """Whether region `code` lies in `scope`: 360000 is all of Jiangxi, 360800 all of Ji'an, 360802 one district."""
    if scope[2:] == "0000":
        return code[:2] == scope[:2]
    if scope[4:] == "00":
        return code[:4] == scope[:4]
    return code == scope


class SolverQualifications(Model):
    """Who may answer the call (揭榜方资格条件); an empty kinds list admits every kind, no region admits everywhere."""

    institution_kinds: tuple[InstitutionKind, ...] = ()
    min_trl: int = Field(default=1, ge=1, le=9, description="technology readiness (GB/T 22900) at least")
    region_code: RegionCode | None = Field(default=None, description="360000: in Jiangxi; 360800: in Ji'an")

    def describe(self) -> str:
        kinds = "、".join(KIND_ZH[k] for k in self.institution_kinds) or "不限"
        region = self.region_code or "不限"
        return f"单位类型：{kinds}；技术就绪度 ≥ {self.min_trl}；所在地区：{region}"


class DealSnapshot(Model):
    """What the call knows of its deal, read from the deal when the call is published."""

    deal_id: str = Field(min_length=1, max_length=64)
    stage: Stage
    broker_id: str
    centre_id: str
    demand: Demand


class Bid(Model):
    """An institution's answer: which achievement solves the demand, with its readiness and region from the registry."""

    achievement: AchievementRef
    institution_kind: InstitutionKind
    trl: int = Field(ge=1, le=9)
    region_code: RegionCode
    proposal: str = Field(min_length=1, max_length=2000, description="how the achievement meets the indicators")
    price_fen: Fen | None = Field(default=None, description="None: negotiable (面议)")


# ------------------------------------------------------------------------------------------- commands


class OpenCallCommandBase(Model):
    command_id: str = Field(min_length=1, max_length=128)
    actor: Actor


class PublishOpenCall(OpenCallCommandBase):
    type: Literal["PublishOpenCall"] = "PublishOpenCall"
    open_call_id: str = Field(pattern=OPEN_CALL_ID_PATTERN)
    deal: DealSnapshot
    deadline: AwareDatetime
    qualifications: SolverQualifications


class SubmitBid(OpenCallCommandBase):
    type: Literal["SubmitBid"] = "SubmitBid"
    bid: Bid


class CloseOpenCall(OpenCallCommandBase):
    """Sent by the call's own timer at the deadline, or by the enterprise side to close early (with a reason)."""

    type: Literal["CloseOpenCall"] = "CloseOpenCall"
    reason: str = Field(default="", max_length=500)


class SelectWinner(OpenCallCommandBase):
    type: Literal["SelectWinner"] = "SelectWinner"
    bid_id: str = Field(min_length=1, max_length=16)
    note: str = Field(default="", max_length=500)


class LapseOpenCall(OpenCallCommandBase):
    """Sent by the call's own timer when the selection period after the close has passed without a selection."""

    type: Literal["LapseOpenCall"] = "LapseOpenCall"


OpenCallCommand = Annotated[
    PublishOpenCall | SubmitBid | CloseOpenCall | SelectWinner | LapseOpenCall, Field(discriminator="type")
]


class OpenCallContext(Model):
    """What `decide` needs from outside: the workflow's clock and, for a selection, the deal's answer."""

    now: datetime
    deal_seq: int | None = Field(default=None, description="the deal event that made the winner its accepted match")


# --------------------------------------------------------------------------------------------- events


class OpenCallPublished(Model):
    type: Literal["OpenCallPublished"] = "OpenCallPublished"
    deal_id: str
    demand_title: str
    enterprise_name: str
    broker_id: str
    centre_id: str
    deadline: datetime
    qualifications: SolverQualifications


class BidSubmitted(Model):
    type: Literal["BidSubmitted"] = "BidSubmitted"
    bid_id: str
    bid: Bid


class OpenCallClosed(Model):
    type: Literal["OpenCallClosed"] = "OpenCallClosed"
    bids: int
    early: bool = Field(description="closed by the enterprise side before the deadline")
    reason: str = ""


class WinnerSelected(Model):
    type: Literal["WinnerSelected"] = "WinnerSelected"
    bid_id: str
    achievement_id: str
    deal_seq: int = Field(description="the deal event at which the winner became the deal's accepted match")
    note: str = ""


class OpenCallLapsed(Model):
    type: Literal["OpenCallLapsed"] = "OpenCallLapsed"
    bids: int
    selection_days: int


OpenCallEventPayload = Annotated[
    OpenCallPublished | BidSubmitted | OpenCallClosed | WinnerSelected | OpenCallLapsed, Field(discriminator="type")
]


class OpenCallEvent(Model):
    open_call_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime
    actor: Actor
    command_id: str | None = None
    payload: OpenCallEventPayload

    @property
    def type(self) -> str:
        return self.payload.type

    def canonical_json(self) -> str:
        return canonical_json(self.model_dump(mode="json"))


# ---------------------------------------------------------------------------------------------- state


class ReceivedBid(Model):
    bid_id: str
    bid: Bid
    submitted_at: datetime
    submitted_by: str


class OpenCallState(Model):
    open_call_id: str = ""
    seq: int = 0
    status: OpenCallStatus = OpenCallStatus.DRAFT
    deal_id: str = ""
    demand_title: str = ""
    enterprise_name: str = ""
    broker_id: str = ""
    centre_id: str = ""
    deadline: datetime | None = None
    qualifications: SolverQualifications = SolverQualifications()
    bids: tuple[ReceivedBid, ...] = ()
    closed_at: datetime | None = None
    closed_early: bool = False
    winner_bid_id: str | None = None
    deal_seq: int | None = None

    def bid(self, bid_id: str) -> ReceivedBid | None:
        return next((b for b in self.bids if b.bid_id == bid_id), None)


def initial_state() -> OpenCallState:
    return OpenCallState()


# --------------------------------------------------------------------------------------------- decide


def decide(state: OpenCallState, command: OpenCallCommand, ctx: OpenCallContext) -> list[OpenCallEvent]:
    """The events `command` causes, or DomainError saying what was wrong and what is allowed."""
    if command.actor.role == Role.AUDITOR:
        raise DomainError("forbidden", f"审计员为只读角色，不能执行「{command.type}」")
    payloads: list[Any]
    if isinstance(command, PublishOpenCall):
        payloads = [_publish(state, command, ctx)]
        return _stamp(state, command, ctx, payloads, command.open_call_id)
    if state.status == OpenCallStatus.DRAFT:
        raise DomainError("not_published", "揭榜尚未发布")
    match command:
        case SubmitBid():
            payloads = [_submit(state, command, ctx)]
        case CloseOpenCall():
            payloads = [_close(state, command, ctx)]
        case SelectWinner():
            payloads = [_select(state, command, ctx)]
        case LapseOpenCall():
            payloads = [_lapse(state, command, ctx)]
    return _stamp(state, command, ctx, payloads, state.open_call_id)


def _stamp(
    state: OpenCallState, command: OpenCallCommand, ctx: OpenCallContext, payloads: Sequence[Any], open_call_id: str
) -> list[OpenCallEvent]:
    return [
        OpenCallEvent(
            open_call_id=open_call_id,
            seq=state.seq + i,
            occurred_at=ctx.now,
            actor=command.actor,
            command_id=command.command_id,
            payload=p,
        )
        for i, p in enumerate(payloads, start=1)
    ]


def authorize_enterprise_side(actor: Actor, deal_id: str, broker_id: str, centre_id: str, what: str) -> None:
    """The enterprise's side of a deal: its broker, a manager of its centre, or the hub (the deal's own roles)."""
    if actor.role == Role.AUDITOR:
        raise DomainError("forbidden", f"审计员为只读角色，不能{what}")
    if actor.role == Role.HUB_ADMIN:
        return
    if actor.role == Role.MANAGER and actor.centre_id == centre_id:
        return
    if actor.role == Role.BROKER and actor.id == broker_id:
        return
    raise DomainError(
        "forbidden",
        f"只有案件 {deal_id} 的经纪人 {broker_id}、其中心 {centre_id} 的管理员或省中心可以{what}；"
        f"{actor.id}（{actor.role.value}，中心 {actor.centre_id or '无'}）无权操作",
    )


def _publish(state: OpenCallState, cmd: PublishOpenCall, ctx: OpenCallContext) -> OpenCallPublished:
    if state.status != OpenCallStatus.DRAFT:
        raise DomainError("open_call_exists", f"揭榜 {state.open_call_id} 已发布，不能重复发布")
    deal = cmd.deal
    authorize_enterprise_side(cmd.actor, deal.deal_id, deal.broker_id, deal.centre_id, "发布揭榜")
    if deal.stage not in PUBLISHABLE_STAGES:
        allowed = "、".join(zh(s) for s in PUBLISHABLE_STAGES)
        raise DomainError("wrong_stage", f"案件 {deal.deal_id} 当前处于 {zh(deal.stage)}，只有 {allowed} 阶段的需求可以发布揭榜")
    if cmd.deadline <= ctx.now:
        raise DomainError("deadline_past", f"截止时间 {beijing(cmd.deadline)} 已过；应晚于现在（{beijing(ctx.now)}）")
    if cmd.deadline - ctx.now > LONGEST_CALL:
        days = LONGEST_CALL.days
        raise DomainError("deadline_too_far", f"截止时间 {beijing(cmd.deadline)} 距今超过 {days} 天；揭榜期最长 {days} 天")
    return OpenCallPublished(
        deal_id=deal.deal_id,
        demand_title=deal.demand.title,
        enterprise_name=deal.demand.enterprise.name,
        broker_id=deal.broker_id,
        centre_id=deal.centre_id,
        deadline=cmd.deadline,
        qualifications=cmd.qualifications,
    )


def _refuse_when_closed(state: OpenCallState, now: datetime) -> None:
    assert state.deadline is not None
    if state.closed_at is not None and state.closed_early:
        raise DomainError(
            "open_call_closed",
            f"揭榜已于 {beijing(state.closed_at)}提前截止（原定 {beijing(state.deadline)}），不再接受揭榜",
        )
    if state.status != OpenCallStatus.OPEN or now >= state.deadline:
        raise DomainError("open_call_closed", f"揭榜已于 {beijing(state.deadline)}截止，不再接受揭榜（现在是 {beijing(now)}）")


def qualification_problems(q: SolverQualifications, bid: Bid) -> list[str]:
    """What keeps `bid` out, one phrase per unmet condition (empty when it qualifies)."""
    problems = []
    if q.institution_kinds and bid.institution_kind not in q.institution_kinds:
        problems.append(f"单位类型为{KIND_ZH[bid.institution_kind]}，不在允许的类型之内")
    if bid.trl < q.min_trl:
        problems.append(f"成果技术就绪度 {bid.trl} 低于要求的 {q.min_trl}")
    if q.region_code is not None and not region_contains(q.region_code, bid.region_code):
        problems.append(f"成果所在地区 {bid.region_code} 不在要求的地区 {q.region_code} 之内")
    return problems


def _submit(state: OpenCallState, cmd: SubmitBid, ctx: OpenCallContext) -> BidSubmitted:
    _refuse_when_closed(state, ctx.now)
    bid, actor = cmd.bid, cmd.actor
    owner_centre = bid.achievement.institution.centre_id
    if actor.role == Role.SYSTEM:
        raise DomainError("forbidden", f"系统身份 {actor.id} 不能揭榜")
    if actor.role == Role.AUDITOR:
        raise DomainError("forbidden", f"审计员为只读角色，不能揭榜（{actor.id}）")
    if actor.role in (Role.BROKER, Role.MANAGER) and (owner_centre is None or actor.centre_id != owner_centre):
        raise DomainError(
            "forbidden",
            f"只能为本中心的成果揭榜：成果 {bid.achievement.achievement_id} 属于中心 {owner_centre or '（未登记）'}，"
            f"{actor.id} 属于 {actor.centre_id or '未知中心'}",
        )
    problems = qualification_problems(state.qualifications, bid)
    if problems:
        raise DomainError("not_qualified", f"不符合揭榜条件：{'；'.join(problems)}。本榜要求：{state.qualifications.describe()}")
    earlier = next((b for b in state.bids if b.bid.achievement.achievement_id == bid.achievement.achievement_id), None)
    if earlier is not None:
        raise DomainError(
            "already_bid",
            f"成果 {bid.achievement.achievement_id} 已于 {beijing(earlier.submitted_at)} 揭榜（{earlier.bid_id}）；"
            "每项成果只能揭榜一次",
        )
    return BidSubmitted(bid_id=f"B{len(state.bids) + 1}", bid=bid)


def _close(state: OpenCallState, cmd: CloseOpenCall, ctx: OpenCallContext) -> OpenCallClosed:
    if state.status != OpenCallStatus.OPEN:
        raise DomainError("open_call_closed", f"揭榜已截止（{STATUS_ZH[state.status]}），不能再次截止")
    assert state.deadline is not None
    if cmd.actor == TIMER:
        if ctx.now < state.deadline:
            raise DomainError("not_due", f"截止时间 {beijing(state.deadline)} 未到")
        return OpenCallClosed(bids=len(state.bids), early=False)
    if cmd.actor.role == Role.SYSTEM:
        raise DomainError("forbidden", f"系统身份 {cmd.actor.id} 不能截止揭榜")
    authorize_enterprise_side(cmd.actor, state.deal_id, state.broker_id, state.centre_id, "提前截止揭榜")
    if not cmd.reason.strip():
        raise DomainError("reason_required", "提前截止揭榜须说明理由")
    return OpenCallClosed(bids=len(state.bids), early=ctx.now < state.deadline, reason=cmd.reason)


def _select(state: OpenCallState, cmd: SelectWinner, ctx: OpenCallContext) -> WinnerSelected:
    authorize_enterprise_side(cmd.actor, state.deal_id, state.broker_id, state.centre_id, "选定揭榜方")
    assert state.deadline is not None
    if state.status == OpenCallStatus.OPEN:
        raise DomainError("open_call_open", f"揭榜尚未截止（截止时间 {beijing(state.deadline)}），截止后才能选定揭榜方")
    if state.status == OpenCallStatus.AWARDED:
        raise DomainError("already_awarded", f"已选定揭榜方 {state.winner_bid_id}，不能再次选定")
    if state.status == OpenCallStatus.LAPSED:
        raise DomainError("open_call_lapsed", f"揭榜截止后 {SELECTION_PERIOD.days} 天内未选定揭榜方，揭榜已结束，不能再选定")
    received = state.bid(cmd.bid_id)
    if received is None:
        known = "、".join(b.bid_id for b in state.bids) or "（未收到任何揭榜）"
        raise DomainError("unknown_bid", f"揭榜方案 {cmd.bid_id} 不存在；已收到：{known}")
    return WinnerSelected(
        bid_id=received.bid_id,
        achievement_id=received.bid.achievement.achievement_id,
        deal_seq=ctx.deal_seq or 0,  # 0 only while validating; the workflow records the deal's answer
        note=cmd.note,
    )


def selection_ends_at(state: OpenCallState) -> datetime:
    """When a closed call that nobody selected from ends."""
    assert state.closed_at is not None
    return state.closed_at + SELECTION_PERIOD


def _lapse(state: OpenCallState, cmd: LapseOpenCall, ctx: OpenCallContext) -> OpenCallLapsed:
    if cmd.actor != TIMER:
        raise DomainError("forbidden", f"「LapseOpenCall」只能由系统定时器发出，{cmd.actor.id} 无权执行")
    if state.status != OpenCallStatus.CLOSED:
        raise DomainError("not_closed", f"揭榜处于「{STATUS_ZH[state.status]}」，只有已截止未选定的揭榜会到期结束")
    if ctx.now < selection_ends_at(state):
        raise DomainError("not_due", f"选定期到 {beijing(selection_ends_at(state))} 才结束")
    return OpenCallLapsed(bids=len(state.bids), selection_days=SELECTION_PERIOD.days)


# --------------------------------------------------------------------------------------------- evolve


def evolve(state: OpenCallState, event: OpenCallEvent) -> OpenCallState:
    return _apply(event.payload, state, event).model_copy(update={"seq": event.seq})


def fold(events: Iterable[OpenCallEvent], state: OpenCallState | None = None) -> OpenCallState:
    s = state or initial_state()
    for e in events:
        s = evolve(s, e)
    return s


@singledispatch
def _apply(payload: object, state: OpenCallState, event: OpenCallEvent) -> OpenCallState:
    raise TypeError(f"no evolve rule for {type(payload).__name__}")


@_apply.register
def _(p: OpenCallPublished, s: OpenCallState, e: OpenCallEvent) -> OpenCallState:
    return s.model_copy(
        update={
            "open_call_id": e.open_call_id,
            "status": OpenCallStatus.OPEN,
            "deal_id": p.deal_id,
            "demand_title": p.demand_title,
            "enterprise_name": p.enterprise_name,
            "broker_id": p.broker_id,
            "centre_id": p.centre_id,
            "deadline": p.deadline,
            "qualifications": p.qualifications,
        }
    )


@_apply.register
def _(p: BidSubmitted, s: OpenCallState, e: OpenCallEvent) -> OpenCallState:
    received = ReceivedBid(bid_id=p.bid_id, bid=p.bid, submitted_at=e.occurred_at, submitted_by=e.actor.id)
    return s.model_copy(update={"bids": (*s.bids, received)})


@_apply.register
def _(p: OpenCallClosed, s: OpenCallState, e: OpenCallEvent) -> OpenCallState:
    return s.model_copy(update={"status": OpenCallStatus.CLOSED, "closed_at": e.occurred_at, "closed_early": p.early})


@_apply.register
def _(p: WinnerSelected, s: OpenCallState, e: OpenCallEvent) -> OpenCallState:
    return s.model_copy(update={"status": OpenCallStatus.AWARDED, "winner_bid_id": p.bid_id, "deal_seq": p.deal_seq})


# ------------------------------------------------------------------------------- activity requests


class OpenCallAppend(Model):
    """New events of a call for the archive activity, with the call's state after them (for its list row)."""

    events: tuple[OpenCallEvent, ...] = Field(min_length=1)
    state: OpenCallState


class AwardRequest(Model):
    """Make the selected bid the deal's accepted match, acting as the user who selected it."""

    open_call_id: str
    deal_id: str
    bid_id: str
    bid: Bid
    actor: Actor
    reasons: tuple[str, ...] = ()


class AwardResult(Model):
    deal_seq: int
    deal_stage: Stage


@_apply.register
def _(p: OpenCallLapsed, s: OpenCallState, e: OpenCallEvent) -> OpenCallState:
    return s.model_copy(update={"status": OpenCallStatus.LAPSED})
