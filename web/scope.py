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
