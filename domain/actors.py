"""Who performs a command or caused an event: a signed-in user with a role, or the system itself."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from domain.parties import Model


class Role(StrEnum):
    BROKER = "broker"
    MANAGER = "manager"  # an M or N centre's manager
    HUB_ADMIN = "hub_admin"  # the provincial hub (the "1")
    AUDITOR = "auditor"  # read-only, everywhere
    SYSTEM = "system"  # timers and partners: id is "system:timer" or "system:partner"


class Actor(Model):
    id: str = Field(min_length=1, max_length=128)
    role: Role
    centre_id: str | None = Field(default=None, description="the centre a manager or broker belongs to")


TIMER = Actor(id="system:timer", role=Role.SYSTEM)
PARTNER = Actor(id="system:partner", role=Role.SYSTEM)  # a partner's authenticated answer (bank, registration office)
MATCHING = Actor(id="system:matching", role=Role.SYSTEM)  # the matching engine, when a deal enters matching
ROADSHOW = Actor(id="system:roadshow", role=Role.SYSTEM)  # a roadshow forwarding an investor's interest to a deal
