"""A roadshow (路演): several deals presented to invited investors on one date, online or at a venue.

Pure decider of its own (`decide_roadshow`, `evolve_roadshow`), run by RoadshowWorkflow. The roadshow records who
was invited, which deals were presented, and each investor's interest and due-diligence requests per deal. An
interest becomes a financing application *in that deal* (ApplyForFinancing by `system:roadshow`), so commitments
live only in the deal they are for: a roadshow never holds or shows one deal's money to another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from domain.actors import ROADSHOW, Actor, Role
from domain.errors import DomainError
from domain.events import canonical_json
from domain.parties import Fen, Model, format_wan
from domain.partners import FINANCING_KINDS, Instrument, PartnerId, PartnerKind

RoadshowId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class RoadshowMode(StrEnum):
    ONLINE = "online"  # 线上
    VENUE = "venue"  # 线下会场


MODE_ZH = {RoadshowMode.ONLINE: "线上", RoadshowMode.VENUE: "线下会场"}


class InvitedInvestor(Model):
    partner_id: PartnerId
    name: str = Field(min_length=1)
    kind: PartnerKind

    @model_validator(mode="after")
    def _investor(self) -> InvitedInvestor:
        if self.kind not in FINANCING_KINDS:
            raise ValueError(f"路演只邀请投资方（bank/guarantee/fund），{self.partner_id} 是 {self.kind.value}")
        return self


class Interest(Model):
    investor_id: str
    deal_id: str
    amount_fen: Fen
    instrument: Instrument
    note: str = ""
    application_id: str = Field(description="the financing application it becomes in the deal")
    forwarded: bool = False
    refusal: str | None = None  # why the deal did not take the application, in the deal's words


class DueDiligenceRequest(Model):
    investor_id: str
    deal_id: str
    materials: tuple[str, ...]


# ------------------------------------------------------------------------------------------------ commands


class RoadshowCommandBase(Model):
    command_id: str = Field(min_length=1, max_length=128)
    actor: Actor


class ScheduleRoadshow(RoadshowCommandBase):
    type: Literal["ScheduleRoadshow"] = "ScheduleRoadshow"
    roadshow_id: RoadshowId
    title: str = Field(min_length=2, max_length=200)
    held_on: date
    mode: RoadshowMode
    venue: str = ""
    centre_id: str = Field(min_length=1, max_length=64, description="the organising centre")


class PresentDeal(RoadshowCommandBase):
    type: Literal["PresentDeal"] = "PresentDeal"
    deal_id: str = Field(min_length=1, max_length=64)


class InviteInvestor(RoadshowCommandBase):
    type: Literal["InviteInvestor"] = "InviteInvestor"
    investor: InvitedInvestor


class RegisterInterest(RoadshowCommandBase):
    type: Literal["RegisterInterest"] = "RegisterInterest"
    investor_id: str
    deal_id: str
    amount_fen: Fen
    instrument: Instrument
    note: str = Field(default="", max_length=2000)


class RequestDueDiligence(RoadshowCommandBase):
    type: Literal["RequestDueDiligence"] = "RequestDueDiligence"
    investor_id: str
    deal_id: str
    materials: tuple[str, ...] = Field(min_length=1)


class RecordForwarding(RoadshowCommandBase):
    """Issued by the roadshow workflow with what the deal answered to the application an interest became."""

    type: Literal["RecordForwarding"] = "RecordForwarding"
    deal_id: str
    application_id: str
    refusal: str | None = None


class CloseRoadshow(RoadshowCommandBase):
    type: Literal["CloseRoadshow"] = "CloseRoadshow"
    note: str = ""


RoadshowCommand = Annotated[
    ScheduleRoadshow | PresentDeal | InviteInvestor | RegisterInterest | RequestDueDiligence | RecordForwarding | CloseRoadshow,
    Field(discriminator="type"),
]

# --------------------------------------------------------------------------------------------------- events


class RoadshowScheduled(Model):
    type: Literal["RoadshowScheduled"] = "RoadshowScheduled"
    title: str
    held_on: date
    mode: RoadshowMode
    venue: str
    centre_id: str


class DealPresented(Model):
    type: Literal["DealPresented"] = "DealPresented"
    deal_id: str


class InvestorInvited(Model):
    type: Literal["InvestorInvited"] = "InvestorInvited"
    investor: InvitedInvestor


class InterestRegistered(Model):
    type: Literal["InterestRegistered"] = "InterestRegistered"
    investor_id: str
    deal_id: str
    amount_fen: Fen
    instrument: Instrument
    note: str
    application_id: str


class DueDiligenceRequested(Model):
    type: Literal["DueDiligenceRequested"] = "DueDiligenceRequested"
    investor_id: str
    deal_id: str
    materials: tuple[str, ...]


class ApplicationForwarded(Model):
    type: Literal["ApplicationForwarded"] = "ApplicationForwarded"
    application_id: str
    deal_id: str


class ApplicationNotForwarded(Model):
    type: Literal["ApplicationNotForwarded"] = "ApplicationNotForwarded"
    application_id: str
    deal_id: str
    refusal: str


class RoadshowClosed(Model):
    type: Literal["RoadshowClosed"] = "RoadshowClosed"
    note: str


RoadshowEventPayload = Annotated[
    RoadshowScheduled
    | DealPresented
    | InvestorInvited
    | InterestRegistered
    | DueDiligenceRequested
    | ApplicationForwarded
    | ApplicationNotForwarded
    | RoadshowClosed,
    Field(discriminator="type"),
]


class RoadshowEvent(Model):
    roadshow_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime
    actor: Actor
    command_id: str
    payload: RoadshowEventPayload

    @property
    def type(self) -> str:
        return self.payload.type

    def about_deal(self) -> str | None:
        """The deal the event is about, if any (who may see the event depends on it)."""
        return getattr(self.payload, "deal_id", None)

    def canonical_json(self) -> str:
        """The text the roadshow archive's hash chain covers, as for deals: sorted keys, no spaces, UTF-8 kept."""
        return canonical_json(self.model_dump(mode="json"))


# Error types of the roadshow archive activity that a retry cannot change (named in the workflow's retry policy).
ROADSHOW_ARCHIVE_CONFLICT = "RoadshowArchiveConflict"  # different content at an archived seq
ROADSHOW_ARCHIVE_GAP = "RoadshowArchiveGap"  # the event before the first new one is not archived


class RoadshowAppend(Model):
    """A roadshow's new events for its archive activity (`roadshows.append`), which derives the read model from them."""

    roadshow_id: str
    events: tuple[RoadshowEvent, ...] = Field(min_length=1)


class RoadshowAppendResult(Model):
    appended: int = Field(description="events inserted by this call")
    last_seq: int = Field(description="the roadshow's newest archived seq after the call")
    last_hash: str = Field(description="that event's chain hash: the head the workflow history keeps")


class RoadshowState(Model):
    roadshow_id: str = ""
    seq: int = 0
    title: str = ""
    held_on: date | None = None
    mode: RoadshowMode | None = None
    venue: str = ""
    centre_id: str = ""
    deal_ids: tuple[str, ...] = ()
    investors: tuple[InvitedInvestor, ...] = ()
    interests: tuple[Interest, ...] = ()
    due_diligence: tuple[DueDiligenceRequest, ...] = ()
    closed: bool = False

    def investor(self, partner_id: str) -> InvitedInvestor | None:
        return next((i for i in self.investors if i.partner_id == partner_id), None)

    @property
    def pending_forwarding(self) -> tuple[Interest, ...]:
        return tuple(i for i in self.interests if not i.forwarded and i.refusal is None)


class RoadshowDealView(Model):
    """What one deal may see of a roadshow: the roadshow itself and the interest and requests about this deal only."""

    roadshow_id: str
    title: str
    held_on: date | None
    deal_id: str
    presented: bool
    interests: tuple[Interest, ...]
    due_diligence: tuple[DueDiligenceRequest, ...]


def deal_view(state: RoadshowState, deal_id: str) -> RoadshowDealView:
    return RoadshowDealView(
        roadshow_id=state.roadshow_id,
        title=state.title,
        held_on=state.held_on,
        deal_id=deal_id,
        presented=deal_id in state.deal_ids,
        interests=tuple(i for i in state.interests if i.deal_id == deal_id),
        due_diligence=tuple(d for d in state.due_diligence if d.deal_id == deal_id),
    )


# --------------------------------------------------------------------------------------------------- decide


def decide_roadshow(state: RoadshowState, command: RoadshowCommand, now: datetime) -> list[RoadshowEvent]:
    """The events `command` causes, or DomainError saying why it is refused."""
    if command.actor.role == Role.AUDITOR:
        raise DomainError("forbidden", "审计员为只读角色，不能操作路演")
    if isinstance(command, ScheduleRoadshow):
        payloads: list[Any] = _schedule(state, command)
        roadshow_id = command.roadshow_id
    else:
        if not state.roadshow_id:
            raise DomainError("roadshow_not_scheduled", "路演尚未安排（ScheduleRoadshow）")
        if state.closed:
            raise DomainError("roadshow_closed", f"路演 {state.roadshow_id} 已结束，不再接受操作")
        _authorize(state, command)
        payloads = _HANDLERS[command.type](state, command)
        roadshow_id = state.roadshow_id
    return [
        RoadshowEvent(
            roadshow_id=roadshow_id,
            seq=state.seq + i,
            occurred_at=now,
            actor=command.actor,
            command_id=command.command_id,
            payload=p,
        )
        for i, p in enumerate(payloads, start=1)
    ]


def _authorize(state: RoadshowState, command: RoadshowCommand) -> None:
    actor = command.actor
    if isinstance(command, RecordForwarding):
        if actor != ROADSHOW:
            raise DomainError("forbidden", "「RecordForwarding」只能由路演工作流发出")
        return
    _authorize_person(state, actor, command.type)


def _authorize_person(state: RoadshowState, actor: Actor, command_type: str) -> None:
    if actor.role == Role.SYSTEM:
        raise DomainError("forbidden", f"系统身份 {actor.id} 不能执行「{command_type}」")
    if actor.role in (Role.MANAGER, Role.BROKER) and actor.centre_id != state.centre_id:
        raise DomainError("forbidden", f"路演由中心 {state.centre_id} 组织，{actor.id}（{actor.centre_id}）无权操作")


# What people do on a scheduled roadshow (RecordForwarding is the workflow's own).
PERSON_COMMANDS = ("PresentDeal", "InviteInvestor", "RegisterInterest", "RequestDueDiligence", "CloseRoadshow")


def allowed_roadshow_commands(state: RoadshowState, actor: Actor | None = None) -> list[str]:
    """The command types `actor` may send the roadshow now (None: offered to anyone); the same rules as `decide`."""
    if not state.roadshow_id or state.closed:
        return []
    if actor is None:
        return list(PERSON_COMMANDS)
    if actor.role == Role.AUDITOR:
        return []
    try:
        _authorize_person(state, actor, "")
    except DomainError:
        return []
    return list(PERSON_COMMANDS)


def authorize_schedule(actor: Actor, centre_id: str) -> None:
    """Whether `actor` may schedule a roadshow organised by `centre_id`, by the rules `decide` applies; else DomainError."""
    if actor.role == Role.AUDITOR:
        raise DomainError("forbidden", "审计员为只读角色，不能操作路演")
    _check_organiser(actor, centre_id)


def _check_organiser(actor: Actor, centre_id: str) -> None:
    if actor.role not in (Role.MANAGER, Role.HUB_ADMIN):
        raise DomainError("forbidden", "只有中心管理员或省中心可以安排路演")
    if actor.role == Role.MANAGER and actor.centre_id != centre_id:
        raise DomainError("forbidden", f"中心管理员只能为本中心安排路演（{actor.centre_id}），收到 {centre_id}")


def _schedule(state: RoadshowState, cmd: ScheduleRoadshow) -> list[Any]:
    if state.roadshow_id:
        raise DomainError("roadshow_exists", f"路演 {state.roadshow_id} 已安排，不能重复安排")
    _check_organiser(cmd.actor, cmd.centre_id)
    if cmd.mode == RoadshowMode.VENUE and not cmd.venue.strip():
        raise DomainError("venue_required", "线下路演须填写会场地址")
    return [RoadshowScheduled(title=cmd.title, held_on=cmd.held_on, mode=cmd.mode, venue=cmd.venue, centre_id=cmd.centre_id)]


def _present(state: RoadshowState, cmd: PresentDeal) -> list[Any]:
    if cmd.deal_id in state.deal_ids:
        raise DomainError("already_presented", f"案件 {cmd.deal_id} 已在本次路演中")
    return [DealPresented(deal_id=cmd.deal_id)]


def _invite(state: RoadshowState, cmd: InviteInvestor) -> list[Any]:
    if state.investor(cmd.investor.partner_id) is not None:
        raise DomainError("already_invited", f"投资方 {cmd.investor.partner_id} 已受邀")
    return [InvestorInvited(investor=cmd.investor)]


def _known(state: RoadshowState, investor_id: str, deal_id: str) -> None:
    if state.investor(investor_id) is None:
        invited = "、".join(i.partner_id for i in state.investors) or "（暂无）"
        raise DomainError("not_invited", f"投资方 {investor_id} 未受邀参加本次路演；受邀：{invited}")
    if deal_id not in state.deal_ids:
        presented = "、".join(state.deal_ids) or "（暂无）"
        raise DomainError("not_presented", f"案件 {deal_id} 不在本次路演中；路演案件：{presented}")


def _interest(state: RoadshowState, cmd: RegisterInterest) -> list[Any]:
    _known(state, cmd.investor_id, cmd.deal_id)
    if cmd.amount_fen <= 0:
        raise DomainError("amount_not_positive", f"意向金额应大于 0，收到 {format_wan(cmd.amount_fen)}")
    if any(i.investor_id == cmd.investor_id and i.deal_id == cmd.deal_id for i in state.interests):
        raise DomainError("already_interested", f"投资方 {cmd.investor_id} 已对案件 {cmd.deal_id} 登记意向")
    return [
        InterestRegistered(
            investor_id=cmd.investor_id,
            deal_id=cmd.deal_id,
            amount_fen=cmd.amount_fen,
            instrument=cmd.instrument,
            note=cmd.note,
            application_id=f"{state.roadshow_id}-{cmd.investor_id}",
        )
    ]


def _due_diligence(state: RoadshowState, cmd: RequestDueDiligence) -> list[Any]:
    _known(state, cmd.investor_id, cmd.deal_id)
    return [DueDiligenceRequested(investor_id=cmd.investor_id, deal_id=cmd.deal_id, materials=cmd.materials)]


def _forwarding(state: RoadshowState, cmd: RecordForwarding) -> list[Any]:
    interest = next(
        (i for i in state.pending_forwarding if (i.deal_id, i.application_id) == (cmd.deal_id, cmd.application_id)), None
    )
    if interest is None:
        raise DomainError("nothing_to_forward", f"案件 {cmd.deal_id} 没有待转交的申请 {cmd.application_id}")
    if cmd.refusal is None:
        return [ApplicationForwarded(application_id=cmd.application_id, deal_id=interest.deal_id)]
    return [ApplicationNotForwarded(application_id=cmd.application_id, deal_id=interest.deal_id, refusal=cmd.refusal)]


def _close(state: RoadshowState, cmd: CloseRoadshow) -> list[Any]:
    return [RoadshowClosed(note=cmd.note)]


_HANDLERS: dict[str, Callable[[RoadshowState, Any], list[Any]]] = {
    "PresentDeal": _present,
    "InviteInvestor": _invite,
    "RegisterInterest": _interest,
    "RequestDueDiligence": _due_diligence,
    "RecordForwarding": _forwarding,
    "CloseRoadshow": _close,
}


# --------------------------------------------------------------------------------------------------- evolve


def evolve_roadshow(state: RoadshowState, event: RoadshowEvent) -> RoadshowState:
    if event.seq != state.seq + 1:
        raise DomainError("seq_gap", f"路演事件序号不连续：期望 {state.seq + 1}，收到 {event.seq}")
    p = event.payload
    changes: dict[str, Any] = {"seq": event.seq}
    match p:
        case RoadshowScheduled():
            changes.update(
                roadshow_id=event.roadshow_id, title=p.title, held_on=p.held_on, mode=p.mode, venue=p.venue, centre_id=p.centre_id
            )
        case DealPresented():
            changes["deal_ids"] = (*state.deal_ids, p.deal_id)
        case InvestorInvited():
            changes["investors"] = (*state.investors, p.investor)
        case InterestRegistered():
            interest = Interest(
                investor_id=p.investor_id,
                deal_id=p.deal_id,
                amount_fen=p.amount_fen,
                instrument=p.instrument,
                note=p.note,
                application_id=p.application_id,
            )
            changes["interests"] = (*state.interests, interest)
        case DueDiligenceRequested():
            request = DueDiligenceRequest(investor_id=p.investor_id, deal_id=p.deal_id, materials=p.materials)
            changes["due_diligence"] = (*state.due_diligence, request)
        case ApplicationForwarded():
            changes["interests"] = _set(state.interests, p.deal_id, p.application_id, forwarded=True)
        case ApplicationNotForwarded():
            changes["interests"] = _set(state.interests, p.deal_id, p.application_id, refusal=p.refusal)
        case RoadshowClosed():
            changes["closed"] = True
    return state.model_copy(update=changes)


def _set(interests: tuple[Interest, ...], deal_id: str, application_id: str, **changes: Any) -> tuple[Interest, ...]:
    # An application id is unique within its deal; the same investor has the same id in every deal it is interested in.
    key = (deal_id, application_id)
    return tuple(i.model_copy(update=changes) if (i.deal_id, i.application_id) == key else i for i in interests)


def fold_roadshow(events: Iterable[RoadshowEvent], state: RoadshowState | None = None) -> RoadshowState:
    state = state or RoadshowState()
    for e in events:
        state = evolve_roadshow(state, e)
    return state
