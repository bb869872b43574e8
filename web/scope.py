"""Which deals an actor may see: the one read-scope rule every page and API route goes through.

Acting is the domain's business (`domain.decider.allowed_commands` and `decide`); seeing is decided here,
following 1+M+N: a broker sees the deals assigned to them, a manager their centre's, the hub and auditors all.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.actors import Actor, Role
from domain.projection import DealSummary


@dataclass(frozen=True)
class Scope:
    """A filter on the `deals` read model; `None` fields do not restrict, `nothing` hides every deal."""

    broker_id: str | None = None
    centre_id: str | None = None
    nothing: bool = False

    def allows(self, deal: DealSummary) -> bool:
        if self.nothing:
            return False
        if self.broker_id is not None and deal.broker_id != self.broker_id:
            return False
        return self.centre_id is None or deal.centre_id == self.centre_id


def scope_of(actor: Actor) -> Scope:
    """The deals `actor` may see."""
    match actor.role:
        case Role.HUB_ADMIN | Role.AUDITOR:
            return Scope()
        case Role.MANAGER if actor.centre_id:
            return Scope(centre_id=actor.centre_id)
        case Role.BROKER:
            return Scope(broker_id=actor.id)
        case _:
            return Scope(nothing=True)


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
