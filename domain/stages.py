"""The stage model of a deal and its legal transitions (DESIGN.md, "Stages")."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    DEMAND_MINING = "DEMAND_MINING"
    MATCHING = "MATCHING"
    BROKERING = "BROKERING"
    FINANCING = "FINANCING"
    SIGNING = "SIGNING"
    SIGNED = "SIGNED"
    WITHDRAWN = "WITHDRAWN"
    LAPSED = "LAPSED"


STAGE_NAMES_ZH: dict[Stage, str] = {
    Stage.DEMAND_MINING: "需求挖掘",
    Stage.MATCHING: "技术匹配",
    Stage.BROKERING: "经纪服务",
    Stage.FINANCING: "路演融资",
    Stage.SIGNING: "签约",
    Stage.SIGNED: "已签约",
    Stage.WITHDRAWN: "已撤回",
    Stage.LAPSED: "已失效",
}

OPEN_STAGES = (Stage.DEMAND_MINING, Stage.MATCHING, Stage.BROKERING, Stage.FINANCING, Stage.SIGNING)
TERMINAL_STAGES = frozenset({Stage.SIGNED, Stage.WITHDRAWN, Stage.LAPSED})

# Forward moves plus the one way back (negotiation failed); any open stage may also end early.
LEGAL_TRANSITIONS: frozenset[tuple[Stage, Stage]] = frozenset(
    {
        (Stage.DEMAND_MINING, Stage.MATCHING),
        (Stage.MATCHING, Stage.BROKERING),
        (Stage.BROKERING, Stage.MATCHING),
        (Stage.BROKERING, Stage.FINANCING),
        (Stage.FINANCING, Stage.SIGNING),
        (Stage.SIGNING, Stage.SIGNED),
        # A commitment that expires before the contract is signed reopens the financing gap (PARTNERS_PATCH).
        (Stage.SIGNING, Stage.FINANCING),
    }
    | {(s, Stage.WITHDRAWN) for s in OPEN_STAGES}
    | {(s, Stage.LAPSED) for s in OPEN_STAGES}
)


def zh(stage: Stage) -> str:
    return f"{STAGE_NAMES_ZH[stage]}（{stage.value}）"
