"""A whole deal, command by command, as a broker (and partners) would take it from demand to SIGNED.

Used by the tests, the benchmark and the quickstart's demo; every command is a real domain command.
"""

from __future__ import annotations

from datetime import date

from domain.actors import Actor, Role
from domain.commands import (
    AcceptMatch,
    AgreeTerms,
    Command,
    OpenDeal,
    ProposeCandidates,
    RecordCommitment,
    RegisterContract,
    ShortlistCandidate,
    SignContract,
    ValidateDemand,
    WaiveFinancing,
)
from domain.events import Candidate, Instrument, Side
from domain.parties import AchievementRef, Contract, ContractType, Institution, Terms, TransferMode

PARTNER = Actor(id="system:partner", role=Role.SYSTEM)

# One plausible supplier per example deal (the seed article names them).
_SUPPLIERS = {
    "C2625": ("江西省科学院", "龙脑樟残渣好氧发酵制备生物有机肥技术"),
    "C3425": ("南昌大学", "高刚度超声电主轴设计与精密装配技术"),
    "C3562": ("东南大学", "异质结电池 PECVD 关键装备设计技术"),
}


def broker_actor(open_cmd: OpenDeal) -> Actor:
    return Actor(id=open_cmd.broker.broker_id, role=Role.BROKER, centre_id=open_cmd.broker.centre_id)


def lifecycle(open_cmd: OpenDeal) -> list[Command]:
    """The commands that take the deal opened by `open_cmd` to SIGNED, each with a stable command id."""
    deal = open_cmd.deal_id
    broker = broker_actor(open_cmd)
    institution, title = _SUPPLIERS.get(open_cmd.demand.industry_code, ("江西省科学院", "通用技术成果"))
    achievement = AchievementRef(achievement_id=f"ACH-{deal}", title=title, institution=Institution(name=institution))
    price = open_cmd.demand.budget.min_fen
    need = open_cmd.demand.financing_need_fen
    commands: list[Command] = [
        ValidateDemand(command_id=f"{deal}:validate", actor=broker, note="指标、预算与知识产权预期已与企业确认"),
        ProposeCandidates(
            command_id=f"{deal}:propose",
            actor=broker,
            candidates=(Candidate(achievement=achievement, score=0.92, reasons=("行业相同", "技术就绪度满足要求")),),
            source="broker",
        ),
        ShortlistCandidate(command_id=f"{deal}:shortlist", actor=broker, achievement_id=achievement.achievement_id),
        AcceptMatch(command_id=f"{deal}:accept-e", actor=broker, achievement_id=achievement.achievement_id, side=Side.ENTERPRISE),
        AcceptMatch(command_id=f"{deal}:accept-o", actor=broker, achievement_id=achievement.achievement_id, side=Side.OWNER),
        AgreeTerms(command_id=f"{deal}:terms", actor=broker, terms=Terms(transfer_mode=TransferMode.LICENCE, price_fen=price)),
    ]
    if need:
        half = need // 2
        commands += [
            RecordCommitment(
                command_id=f"{deal}:guarantee",
                actor=PARTNER,
                investor="江西省信用融资担保集团",
                instrument=Instrument.GUARANTEE,
                amount_fen=half,
            ),
            RecordCommitment(
                command_id=f"{deal}:loan", actor=PARTNER, investor="九江银行", instrument=Instrument.LOAN, amount_fen=need - half
            ),
        ]
    else:
        commands.append(WaiveFinancing(command_id=f"{deal}:waive", actor=broker, reason="委托研究经费由企业自筹，无需融资"))
    commands += [
        SignContract(
            command_id=f"{deal}:sign",
            actor=broker,
            contract=Contract(
                contract_type=ContractType.LICENCE, total_value_fen=price, technical_value_fen=price, signed_on=date(2026, 12, 1)
            ),
        ),
        RegisterContract(command_id=f"{deal}:register", actor=PARTNER, registration_number=f"36{deal.replace('-', '')[:14]}"),
    ]
    return commands
