"""Who may see what: the one read-scope rule every page and API route goes through.

Acting is the domain's business (`domain.decider.allowed_commands` and `decide`); seeing is decided here,
following 1+M+N:
- a broker sees the deals assigned to them; a manager their centre's deals; the hub admin and auditors all;
- N centres (universities and institutes) take part through their achievements: a broker or manager whose centre
  is the centre of an achievement's institution also sees every deal in which that achievement was proposed
  (the `deal_achievement_centres` read model, written from `CandidatesProposed`). Seeing such a deal gives no
  right to act on it: the domain lets managers act only on their own centre's deals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select

from domain.actors import Actor, Role
from store.models import DealAchievementCentreRecord, DealRecord, RoadshowDealRecord, RoadshowRecord


@dataclass(frozen=True)
class Scope:
    """A filter on the `deals` read model; `None` fields do not restrict, `nothing` hides every deal."""

    broker_id: str | None = None
    centre_id: str | None = None
    # Also the deals that involve achievements of this (N) centre's institutions.
    achievements_of_centre: str | None = None
    nothing: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions on `deals` that keep exactly the visible rows (empty: everything)."""
        if self.nothing:
            return [false()]
        own = [DealRecord.broker_id == self.broker_id] if self.broker_id is not None else []
        own += [DealRecord.centre_id == self.centre_id] if self.centre_id is not None else []
        if not own:
            return []
        if self.achievements_of_centre is None:
            return own
        involved = select(DealAchievementCentreRecord.deal_id).where(
            DealAchievementCentreRecord.centre_id == self.achievements_of_centre
        )
        return [or_(and_(*own), DealRecord.deal_id.in_(involved))]


def scope_of(actor: Actor) -> Scope:
    """The deals `actor` may see."""
    match actor.role:
        case Role.HUB_ADMIN | Role.AUDITOR:
            return Scope()
        case Role.MANAGER if actor.centre_id:
            return Scope(centre_id=actor.centre_id, achievements_of_centre=actor.centre_id)
        case Role.BROKER:
            return Scope(broker_id=actor.id, achievements_of_centre=actor.centre_id)
        case _:
            return Scope(nothing=True)


def acting_scope(actor: Actor) -> Scope:
    """The deals `actor` may act on, by the domain's rule (`domain.decider`): a broker their own, a manager their
    centre's, the hub all; auditors none. Seeing a deal through an N centre's achievement gives no right to act."""
    match actor.role:
        case Role.HUB_ADMIN:
            return Scope()
        case Role.MANAGER if actor.centre_id:
            return Scope(centre_id=actor.centre_id)
        case Role.BROKER:
            return Scope(broker_id=actor.id)
        case _:
            return Scope(nothing=True)


@dataclass(frozen=True)
class RoadshowScope:
    """A filter on the `roadshows` read model (路演): the roadshows one person may open."""

    everything: bool = False
    # Organised by this centre, or presenting a deal of this centre.
    centre_id: str | None = None
    # Presenting a deal within this deal scope (so every deal page's roadshow links open).
    deals: Scope | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.everything:
            return []
        presenting = select(RoadshowDealRecord.roadshow_id).join(DealRecord, DealRecord.deal_id == RoadshowDealRecord.deal_id)
        either: list[ColumnElement[bool]] = []
        if self.centre_id is not None:
            either.append(RoadshowRecord.centre_id == self.centre_id)
            either.append(RoadshowRecord.roadshow_id.in_(presenting.where(DealRecord.centre_id == self.centre_id)))
        if self.deals is not None and not self.deals.nothing:
            either.append(RoadshowRecord.roadshow_id.in_(presenting.where(*self.deals.conditions())))
        return [or_(*either)] if either else [false()]


def roadshow_scope(actor: Actor) -> RoadshowScope:
    """The roadshows `actor` may see: the hub admin and auditors all; a manager or broker those their centre
    organises or presents a deal at, and those presenting a deal they may see (an N centre's, say); others none."""
    match actor.role:
        case Role.HUB_ADMIN | Role.AUDITOR:
            return RoadshowScope(everything=True)
        case Role.MANAGER | Role.BROKER:
            return RoadshowScope(centre_id=actor.centre_id, deals=scope_of(actor))
        case _:
            return RoadshowScope()


def sees_whole_roadshow(actor: Actor, organiser_centre_id: str) -> bool:
    """Who sees every deal of a roadshow and its interest: the hub admin, auditors and the organising centre's staff
    (the domain lets them act on it). Anyone else sees only the deals they may see: one deal's money is not shown
    to another deal's side."""
    if actor.role in (Role.HUB_ADMIN, Role.AUDITOR):
        return True
    return actor.role in (Role.MANAGER, Role.BROKER) and actor.centre_id == organiser_centre_id


@dataclass(frozen=True)
class DashboardScope:
    """Which figures a dashboard shows: one centre's, or the province's (with each centre and the demand map)."""

    centre_id: str | None
    province_view: bool


def dashboard_scope(actor: Actor, centre_id: str | None = None) -> DashboardScope | None:
    """A manager sees their own centre; the hub admin and auditors the province or any one centre; others nothing.

    None means no dashboard for this actor (or not that centre): the caller answers 403.
    """
    match actor.role:
        case Role.HUB_ADMIN | Role.AUDITOR:
            return DashboardScope(centre_id or None, province_view=not centre_id)
        case Role.MANAGER if actor.centre_id and centre_id in (None, "", actor.centre_id):
            return DashboardScope(actor.centre_id, province_view=False)
        case _:
            return None


@dataclass(frozen=True)
class Recipient:
    """Whose notifications a person reads: a broker their own, a manager their centre's, the hub admin the hub's."""

    role: Role
    recipient_id: str


def notification_recipient(actor: Actor) -> Recipient | None:
    """The outbox address `actor` reads (None: auditors and others receive no notifications)."""
    match actor.role:
        case Role.BROKER:
            return Recipient(Role.BROKER, actor.id)
        case Role.MANAGER | Role.HUB_ADMIN if actor.centre_id:
            return Recipient(actor.role, actor.centre_id)
        case _:
            return None


def check_declines_visible(actor: Actor, centre_id: str) -> None:
    """Why an N centre's achievements are passed over is for its managers, the hub and auditors: else Forbidden."""
    from web.deals import Forbidden  # web.deals reads scopes from here; imported late to keep the modules acyclic

    if actor.role in (Role.HUB_ADMIN, Role.AUDITOR) or (actor.role == Role.MANAGER and actor.centre_id == centre_id):
        return
    raise Forbidden(
        f"只有中心 {centre_id} 的管理员、省中心和审计员可以查看该中心成果的被拒原因；{actor.id} 无权查看",
        code="declines_not_allowed",
    )


def check_may_bid(actor: Actor) -> None:
    """Bids come from the staff (brokers, managers) of the centre that owns the achievement; else Forbidden.

    The hub is refused here although the open call's domain rule would let it bid: the hub also publishes, closes
    and selects on the enterprise's side, and one party on both sides of a call is what an open call must avoid.
    Which centre owns the achievement is the domain's check."""
    from web.deals import Forbidden  # imported late, as above

    if actor.role in (Role.BROKER, Role.MANAGER) and actor.centre_id:
        return
    raise Forbidden(f"只有成果所属中心的经纪人或管理员可以揭榜；{actor.id}（{actor.role.value}）无权揭榜", code="bid_not_allowed")


ARCHIVE_SCOPE = "all"  # a verification of the whole archive; a centre's is "centre:<id>"


def verification_scope(actor: Actor, centre_id: str | None) -> str:
    """The scope of the chain verification `actor` asks for (a centre's deals, or the whole archive); else Forbidden.

    Auditors and the hub admin may verify any centre and the whole archive; a centre manager only their centre.
    """
    from web.deals import Forbidden  # imported late, as above

    if actor.role in (Role.HUB_ADMIN, Role.AUDITOR):
        return f"centre:{centre_id}" if centre_id else ARCHIVE_SCOPE
    if actor.role == Role.MANAGER and actor.centre_id:
        if not centre_id:
            raise Forbidden("只有审计员和省中心管理员可以校验整个存档", code="verify_archive_not_allowed")
        if centre_id != actor.centre_id:
            raise Forbidden(f"中心管理员只能校验本中心（{actor.centre_id}）的案件", code="verify_other_centre")
        return f"centre:{centre_id}"
    raise Forbidden(f"{actor.id}（{actor.role.value}）无权校验哈希链", code="verify_not_allowed")


def visible_verification_scopes(actor: Actor) -> list[str] | None:
    """The verification jobs `actor` may see, by scope: None for every job (auditors, the hub), a manager their centre's."""
    if actor.role in (Role.HUB_ADMIN, Role.AUDITOR):
        return None
    if actor.role == Role.MANAGER and actor.centre_id:
        return [f"centre:{actor.centre_id}"]
    return []
