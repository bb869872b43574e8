"""The form of each command a person can send from the deal page, and its payload from what they typed.

Fields name the command's own fields (see `domain/commands.py`); money is typed in 万元 and sent in fen.
Checking is left to `starter.parse_command` and the deal's `decide`, so the messages are the domain's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.events import DeclineReason, Instrument, Side
from domain.parties import FEN_PER_WAN, ContractType, TransferMode
from domain.state import DealState
from starter import CommandRejected

Options = tuple[tuple[str, str], ...]

DECLINE_REASONS: Options = (
    (DeclineReason.TOO_EARLY_STAGE.value, "技术成熟度不够"),
    (DeclineReason.BENEFIT_UNCLEAR.value, "效益不明确"),
    (DeclineReason.COMMERCIAL_ROUTE_UNCLEAR.value, "商业化路径不清"),
    (DeclineReason.PRICE.value, "价格不合适"),
    (DeclineReason.IP_UNCLEAR.value, "知识产权不清"),
    (DeclineReason.TOO_VAGUE.value, "描述过于笼统"),
    (DeclineReason.OTHER.value, "其他"),
)
SIDES: Options = ((Side.ENTERPRISE.value, "企业方"), (Side.OWNER.value, "成果方"))
INSTRUMENTS: Options = (
    (Instrument.LOAN.value, "贷款"),
    (Instrument.GUARANTEE.value, "担保"),
    (Instrument.EQUITY.value, "股权投资"),
    (Instrument.GRANT.value, "资助"),
)
PARTNER_KINDS: Options = (("bank", "银行"), ("guarantee", "融资担保公司"), ("fund", "基金"))
TRANSFER_MODES: Options = tuple((m.value, m.value) for m in TransferMode)
CONTRACT_TYPES: Options = tuple((t.value, t.value) for t in ContractType)


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str = "text"  # text | textarea | select | money | date | int
    options: Options = ()
    required: bool = True


@dataclass(frozen=True)
class CommandForm:
    command_type: str
    fields: tuple[FormField, ...] = field(default_factory=tuple)


Form = Mapping[str, str]


def _achievements(ids: tuple[str, ...], state: DealState) -> Options:
    def title(aid: str) -> str:
        candidate = state.candidate(aid)
        return f"{aid} {candidate.achievement.title}" if candidate else aid

    return tuple((aid, title(aid)) for aid in ids)


def form_for(command_type: str, state: DealState) -> CommandForm:
    """The fields of `command_type`'s form, with choices taken from the deal as it is now."""
    candidate_ids = tuple(c.achievement.achievement_id for c in state.candidates)
    fields: dict[str, tuple[FormField, ...]] = {
        "ValidateDemand": (FormField("note", "核实说明", "textarea", required=False),),
        "ProposeCandidates": (
            FormField("achievement_id", "成果编号"),
            FormField("title", "成果名称"),
            FormField("institution", "所属单位"),
            FormField("score", "匹配得分"),
            FormField("reasons", "推荐理由（以；分隔）", required=False),
        ),
        "ShortlistCandidate": (FormField("achievement_id", "候选成果", "select", _achievements(candidate_ids, state)),),
        "RejectCandidate": (
            FormField("achievement_id", "候选成果", "select", _achievements(candidate_ids, state)),
            FormField("reason", "原因", "select", DECLINE_REASONS),
            FormField("note", "说明", "textarea", required=False),
        ),
        "AcceptMatch": (
            FormField("achievement_id", "入围成果", "select", _achievements(state.shortlisted, state)),
            FormField("side", "确认方", "select", SIDES),
        ),
        "AgreeTerms": (
            FormField("transfer_mode", "转化方式", "select", TRANSFER_MODES),
            FormField("price_wan", "价格（万元）", "money"),
        ),
        "FailNegotiation": (
            FormField("reason", "原因", "select", DECLINE_REASONS),
            FormField("note", "说明", "textarea", required=False),
        ),
        "RecordCommitment": (
            FormField("investor", "出资方"),
            FormField("instrument", "方式", "select", INSTRUMENTS),
            FormField("amount_wan", "金额（万元）", "money"),
        ),
        "WaiveFinancing": (FormField("reason", "无需融资的理由", "textarea"),),
        "SignContract": (
            FormField("contract_type", "合同类型", "select", CONTRACT_TYPES),
            FormField("total_wan", "合同成交额（万元）", "money"),
            FormField("technical_wan", "技术交易额（万元）", "money"),
            FormField("signed_on", "签订日期", "date"),
        ),
        "RegisterContract": (FormField("registration_number", "登记编号"),),
        "ApplyForFinancing": (
            FormField("application_id", "申请编号"),
            FormField("partner_id", "合作方编号（如 jxbank）"),
            FormField("partner_kind", "合作方类型", "select", PARTNER_KINDS),
            FormField("instrument", "方式", "select", INSTRUMENTS),
            FormField("amount_wan", "申请金额（万元）", "money"),
            FormField("note", "说明", "textarea", required=False),
        ),
        "SignTechnologyContract": (
            FormField("contract_no", "合同编号"),
            FormField("contract_type", "合同类型", "select", CONTRACT_TYPES),
            FormField("assignor_name", "乙方（受托方/让与方）名称"),
            FormField("assignor_credit_code", "乙方统一社会信用代码"),
            FormField("total_wan", "合同成交额（万元）", "money"),
            FormField("technical_wan", "技术交易额（万元）", "money"),
            FormField("first_wan", "首期付款（万元，余款为第二期）", "money"),
            FormField("first_due", "首期付款日期", "date"),
            FormField("second_due", "第二期付款日期", "date"),
            FormField("signed_on", "签订日期", "date"),
            FormField("assignee_signatory", "甲方签署人"),
            FormField("assignor_signatory", "乙方签署人"),
        ),
        "SubmitRegistration": (
            FormField("submission_id", "登记申请编号"),
            FormField("partner_id", "登记机构编号（如 jxregistry）"),
        ),
        "WithdrawDeal": (FormField("reason", "撤回理由", "textarea"),),
        "ReassignBroker": (
            FormField("broker_id", "新经纪人账号"),
            FormField("broker_name", "新经纪人姓名"),
            FormField("reason", "改派理由", "textarea"),
        ),
        "ExtendDeadline": (
            FormField("working_days", "延长工作日", "int"),
            FormField("reason", "延期理由", "textarea"),
        ),
    }
    return CommandForm(command_type, fields.get(command_type, ()))


def fen(text: str, label: str) -> int:
    """万元 as typed (commas allowed) → integer fen; refuses what is not an exact amount in fen."""
    try:
        amount = Decimal(text.replace(",", "").replace("，", "").strip()) * FEN_PER_WAN
    except InvalidOperation as e:
        raise CommandRejected("invalid_input", f"{label}「{text}」不是金额；请填写万元数，如 1250.00") from e
    if not amount.is_finite() or amount != amount.to_integral_value() or amount < 0:  # "Infinity" parses as a Decimal
        raise CommandRejected("invalid_input", f"{label}「{text}」无效：金额不能为负，且最多精确到分（万元后六位小数）")
    return int(amount)


def _day(text: str, label: str) -> str:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError as e:
        raise CommandRejected("invalid_input", f"{label}「{text}」不是日期；请按 2026-03-05 的格式填写") from e


def _int(text: str, label: str) -> int:
    try:
        return int(text.strip())
    except ValueError as e:
        raise CommandRejected("invalid_input", f"{label}「{text}」不是整数") from e


def _propose(f: Form, state: DealState) -> dict[str, Any]:
    try:
        score = float(f.get("score", "").strip())
    except ValueError as e:
        raise CommandRejected("invalid_input", f"匹配得分「{f.get('score', '')}」不是数字") from e
    reasons = tuple(r.strip() for r in f.get("reasons", "").replace(";", "；").split("；") if r.strip())
    achievement = {
        "achievement_id": f.get("achievement_id", "").strip(),
        "title": f.get("title", "").strip(),
        "institution": {"name": f.get("institution", "").strip()},
    }
    return {"candidates": [{"achievement": achievement, "score": score, "reasons": reasons}], "source": "broker"}


def _reassign(f: Form, state: DealState) -> dict[str, Any]:
    # A reassignment stays within the deal's centre; moving a deal between centres is not a broker change.
    centre_id = state.centre.centre_id if state.centre else ""
    broker = {"broker_id": f.get("broker_id", "").strip(), "name": f.get("broker_name", "").strip(), "centre_id": centre_id}
    return {"broker": broker, "reason": f.get("reason", "")}


def _technology_contract(f: Form, state: DealState) -> dict[str, Any]:
    # The enterprise (甲方) is the deal's own; the form asks only for what the deal does not know.
    enterprise = state.demand.enterprise if state.demand else None
    total = fen(f.get("total_wan", ""), "合同成交额")
    first = fen(f.get("first_wan", ""), "首期付款")
    signed_on = _day(f.get("signed_on", ""), "签订日期")
    return {
        "contract": {
            "contract_no": f.get("contract_no", "").strip(),
            "contract_type": f.get("contract_type", ""),
            "parties": [
                {
                    "role": "委托方/受让方",
                    "name": enterprise.name if enterprise else "",
                    "credit_code": enterprise.credit_code if enterprise else "",
                },
                {
                    "role": "受托方/让与方",
                    "name": f.get("assignor_name", "").strip(),
                    "credit_code": f.get("assignor_credit_code", ""),
                },
            ],
            "total_value_fen": total,
            "technical_value_fen": fen(f.get("technical_wan", ""), "技术交易额"),
            "payment_schedule": [
                {"due_on": _day(f.get("first_due", ""), "首期付款日期"), "amount_fen": first},
                {"due_on": _day(f.get("second_due", ""), "第二期付款日期"), "amount_fen": max(total - first, 0)},
            ],
            "signed_on": signed_on,
            "signatures": [
                {"role": "委托方/受让方", "signatory": f.get("assignee_signatory", "").strip(), "signed_on": signed_on},
                {"role": "受托方/让与方", "signatory": f.get("assignor_signatory", "").strip(), "signed_on": signed_on},
            ],
        }
    }


_BUILDERS: dict[str, Callable[[Form, DealState], dict[str, Any]]] = {
    "ValidateDemand": lambda f, s: {"note": f.get("note", "")},
    "ProposeCandidates": _propose,
    "ShortlistCandidate": lambda f, s: {"achievement_id": f.get("achievement_id", "")},
    "RejectCandidate": lambda f, s: {k: f.get(k, "") for k in ("achievement_id", "reason", "note")},
    "AcceptMatch": lambda f, s: {"achievement_id": f.get("achievement_id", ""), "side": f.get("side", "")},
    "AgreeTerms": lambda f, s: {
        "terms": {"transfer_mode": f.get("transfer_mode", ""), "price_fen": fen(f.get("price_wan", ""), "价格")}
    },
    "FailNegotiation": lambda f, s: {"reason": f.get("reason", ""), "note": f.get("note", "")},
    "RecordCommitment": lambda f, s: {
        "investor": f.get("investor", ""),
        "instrument": f.get("instrument", ""),
        "amount_fen": fen(f.get("amount_wan", ""), "金额"),
    },
    "WaiveFinancing": lambda f, s: {"reason": f.get("reason", "")},
    "SignContract": lambda f, s: {
        "contract": {
            "contract_type": f.get("contract_type", ""),
            "total_value_fen": fen(f.get("total_wan", ""), "合同成交额"),
            "technical_value_fen": fen(f.get("technical_wan", ""), "技术交易额"),
            "signed_on": _day(f.get("signed_on", ""), "签订日期"),
        }
    },
    "RegisterContract": lambda f, s: {"registration_number": f.get("registration_number", "").strip()},
    "ApplyForFinancing": lambda f, s: {
        **{k: f.get(k, "").strip() for k in ("application_id", "partner_id", "partner_kind", "instrument", "note")},
        "amount_fen": fen(f.get("amount_wan", ""), "申请金额"),
    },
    "SignTechnologyContract": _technology_contract,
    "SubmitRegistration": lambda f, s: {k: f.get(k, "").strip() for k in ("submission_id", "partner_id")},
    "WithdrawDeal": lambda f, s: {"reason": f.get("reason", "")},
    "ReassignBroker": _reassign,
    "ExtendDeadline": lambda f, s: {"working_days": _int(f.get("working_days", ""), "延长工作日"), "reason": f.get("reason", "")},
}


def payload_from_form(command_type: str, form: Form, state: DealState) -> dict[str, Any]:
    """The command's JSON payload from the form's text fields; bad numbers and dates are refused in Chinese."""
    builder = _BUILDERS.get(command_type)
    if builder is None:
        raise CommandRejected("unknown_command", f"没有名为「{command_type}」的操作")
    return builder(form, state)
