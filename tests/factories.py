"""Real domain objects for tests: the three example deals of the seed article, actors, plans."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from domain.actors import Actor, Role
from domain.commands import OpenDeal
from domain.events import Candidate
from domain.identifiers import uscc_check_character
from domain.parties import AchievementRef, Contract, ContractType, Institution, Terms, TransferMode
from domain.partners import (
    AnswerPlan,
    AnswerPlanRequest,
    PartnerKind,
    RegistrationRules,
    TechnologyContract,
)
from domain.sla import LADDER_PERCENT, DeadlinePlan, LadderStep, PlannedStep
from domain.stages import Stage
from examples.partners_demo import technology_contract as example_contract

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "deals"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))

HUB_ADMIN = Actor(id="hub-admin", role=Role.HUB_ADMIN, centre_id="hub")
AUDITOR = Actor(id="auditor-zhao", role=Role.AUDITOR)
PARTNER = Actor(id="system:partner", role=Role.SYSTEM)


def open_command(path: Path, deal_id: str | None = None) -> OpenDeal:
    data = json.loads(path.read_text(encoding="utf-8"))
    if deal_id:
        data["deal_id"] = deal_id
    return OpenDeal(command_id=f"open:{data['deal_id']}", actor=HUB_ADMIN, **data)


def broker_of(cmd: OpenDeal) -> Actor:
    return Actor(id=cmd.broker.broker_id, role=Role.BROKER, centre_id=cmd.broker.centre_id)


def manager_of(cmd: OpenDeal) -> Actor:
    return Actor(id=f"manager-{cmd.centre.centre_id}", role=Role.MANAGER, centre_id=cmd.centre.centre_id)


def achievement(n: int) -> AchievementRef:
    return AchievementRef(
        achievement_id=f"ACH-{n:04d}",
        title=f"成果 {n}",
        institution=Institution(name="江西省科学院", centre_id="jxas-centre"),
    )


def candidates(*ns: int) -> tuple[Candidate, ...]:
    return tuple(Candidate(achievement=achievement(n), score=10.0 - n, reasons=("行业相同",)) for n in ns)


def terms(price_fen: int = 50_000_000) -> Terms:
    return Terms(transfer_mode=TransferMode.LICENCE, price_fen=price_fen)


def contract(value_fen: int = 50_000_000) -> Contract:
    return Contract(
        contract_type=ContractType.LICENCE, total_value_fen=value_fen, technical_value_fen=value_fen, signed_on=date(2026, 12, 1)
    )


def simple_plan(stage: Stage, started_at: datetime, budget: int = 10, extra: int = 0) -> DeadlinePlan:
    """A plan on plain calendar days (one working day = one day), for pure domain tests."""
    steps = tuple(
        PlannedStep(
            step=s,
            working_days=max(1, (budget + extra) * LADDER_PERCENT[s] // 100),
            due_at=started_at + timedelta(days=max(1, (budget + extra) * LADDER_PERCENT[s] // 100)),
            provisional=False,
        )
        for s in LadderStep
    )
    return DeadlinePlan(
        stage=stage,
        started_at=started_at,
        budget_working_days=budget,
        extra_working_days=extra,
        steps=steps,
        policy_version="test",
        calendar_version="calendar-days",
        inactivity_lapse_days=180,
    )


T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

REGISTRATION_RULES_FILE = EXAMPLES.parents[1] / "policy" / "registration-2026.json"


def registration_rules() -> RegistrationRules:
    return RegistrationRules.model_validate_json(REGISTRATION_RULES_FILE.read_bytes())


def simple_answer_plan(request: AnswerPlanRequest) -> AnswerPlan:
    """A partner's answer deadline from the real rules file, on plain calendar days (for pure domain tests)."""
    rules = registration_rules()
    expert = request.kind == PartnerKind.REGISTRATION_OFFICE and rules.needs_expert_review(request.amount_fen)
    if request.kind == PartnerKind.REGISTRATION_OFFICE:
        days = rules.expert_review_working_days if expert else rules.registration_working_days
        stage = Stage.SIGNING
    else:
        days, stage = rules.answer_working_days[request.kind], Stage.FINANCING
    return AnswerPlan(
        request_id=request.request_id,
        plan=simple_plan(stage, request.started_at, budget=days),
        expert_review=expert,
        rules_version=rules.version,
    )


def technology_contract(
    open_cmd: OpenDeal, value_fen: int = 50_000_000, contract_no: str = "HT-2026-0001", signed_on: date = date(2026, 12, 1)
) -> TechnologyContract:
    """A complete contract between the deal's enterprise and an institution, paid in two instalments."""
    return example_contract(open_cmd, value_fen, contract_no, signed_on)


# An illustrative code with a valid check character (GB 32100), not a real institution's.
INSTITUTION_CREDIT_CODE = "12360000" + "491000001" + uscc_check_character("12360000491000001")
