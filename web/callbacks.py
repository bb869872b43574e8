"""Partners' signed callbacks: `POST /partners/{partner_id}/callbacks`, turned into a signal to the right deal.

Partners are machines: no browser session and no CSRF token; each request authenticates itself instead.
1. HMAC-SHA256 (hex, header X-Kuayue-Signature) over "<timestamp>.<nonce>." + the raw body, with the partner's
   own secret from the partner directory; X-Kuayue-Timestamp is Unix seconds and must be within the window
   (±5 minutes); X-Kuayue-Nonce is used once per partner (table partner_nonces). Any failure is 401, and
   nothing reaches a workflow.
2. The body is checked fully here, because a signal cannot be refused to its sender: the deal must exist,
   the request must be one of its own and addressed to this partner, registration reason codes must be the
   rules' own. A clear 4xx says what was wrong. A repeated answer id is answered 200 "duplicate" and not sent.
   The checks read the read model (`deals`, `partner_requests`, `partner_answers`), not the workflow.
3. Then the answer is signalled (202). The workflow still ignores, with a log line, what no longer applies.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from domain.parties import Fen
from domain.partners import (
    FINANCING_DECISIONS,
    NONCE_HEADER,
    REGISTRATION_DECISIONS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Decision,
    Instrument,
    PartnerAnswer,
    PartnerEndpoint,
    PartnerKind,
    RegistrationRules,
    signature_matches,
)
from domain.stages import TERMINAL_STAGES
from store.nonces import remember_nonce
from store.queries import answer_recorded, deal_row, partner_request
from web.deals import Services
from workflows.messages import PARTNER_ANSWER_SIGNAL, PartnerAnswerSignal, workflow_id

router = APIRouter()

DEFAULT_WINDOW = timedelta(minutes=5)
TERMINAL_STAGE_VALUES = frozenset(s.value for s in TERMINAL_STAGES)
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


@dataclass(frozen=True)
class CallbackConfig:
    partners: dict[str, PartnerEndpoint]
    rules: RegistrationRules
    window: timedelta = DEFAULT_WINDOW


class CallbackBody(BaseModel):
    """What a partner posts: its answer to one of a deal's requests."""

    model_config = ConfigDict(extra="forbid")

    answer_id: str = Field(min_length=1, max_length=128)
    deal_id: str = Field(min_length=1, max_length=64)
    request_id: str = Field(min_length=1, max_length=64)
    decision: Decision
    amount_fen: Fen = 0
    instrument: Instrument | None = None
    conditions: str = ""
    expires_at: datetime | None = None
    registration_number: str | None = None
    reason_codes: tuple[str, ...] = ()
    message: str = ""


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "body"
        message = e["ctx"]["error"] if e["type"] == "value_error" and "error" in e.get("ctx", {}) else e["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def authenticate(config: CallbackConfig, partner_id: str, headers: Any, body: bytes, now: float) -> tuple[str, str] | None:
    """None when the signature, timestamp and nonce headers are well formed, signed and fresh; else (code, message)."""
    partner = config.partners.get(partner_id)
    if partner is None:
        return "unknown_partner", f"未知的合作方 {partner_id}"
    timestamp, nonce, signature = headers.get(TIMESTAMP_HEADER), headers.get(NONCE_HEADER), headers.get(SIGNATURE_HEADER)
    if not timestamp or not nonce or not signature:
        return "unsigned", f"缺少签名头：{TIMESTAMP_HEADER}、{NONCE_HEADER}、{SIGNATURE_HEADER} 均为必填"
    if not _NONCE.fullmatch(nonce) or not timestamp.isdigit():
        return "bad_headers", "时间戳应为 Unix 秒，随机数应为 16–128 位字母、数字、- 或 _"
    if not signature_matches(partner.secret, timestamp, nonce, body, signature):
        return "bad_signature", "签名不正确"
    if abs(now - int(timestamp)) > config.window.total_seconds():
        return "stale_timestamp", f"时间戳超出允许的时间窗口（±{int(config.window.total_seconds())} 秒）"
    return None


@router.post("/partners/{partner_id}/callbacks")
async def partner_callback(partner_id: str, request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    config: CallbackConfig | None = getattr(request.app.state, "partner_callbacks", None)
    if config is None:
        return _refuse(404, "callbacks_disabled", "本服务未配置合作方目录，不接受回调")
    body = await request.body()
    now = time.time()
    refusal = authenticate(config, partner_id, request.headers, body, now)
    if refusal is not None:
        return _refuse(401, *refusal)
    nonce = request.headers[NONCE_HEADER]
    # The store is synchronous: run it off the event loop, so one slow commit does not hold up every other request.
    fresh = await run_in_threadpool(
        remember_nonce, services.sessions, partner_id, nonce, datetime.fromtimestamp(now, UTC), config.window
    )
    if not fresh:
        return _refuse(401, "replayed_nonce", f"随机数 {nonce} 已使用过：重放的回调不予受理")
    try:
        callback = CallbackBody.model_validate_json(body)
        answer = PartnerAnswer(partner_id=partner_id, **callback.model_dump(exclude={"deal_id"}))
    except ValidationError as e:
        return _refuse(422, "invalid_answer", f"答复内容无效：{_describe(e)}")
    return await _signal_answer(services, config, callback.deal_id, answer)


@dataclass(frozen=True)
class _Facts:
    """What the read model says about the deal, the request and the answer id."""

    deal_stage: str | None
    request_partner: str | None
    request_kind: PartnerKind | None
    answer_known: bool


def _facts(services: Services, deal_id: str, answer: PartnerAnswer) -> _Facts:
    with services.sessions() as session:
        deal = deal_row(session, deal_id)
        request = partner_request(session, deal_id, answer.request_id)
        known = answer_recorded(session, deal_id, answer.partner_id, answer.answer_id)
    return _Facts(
        deal_stage=deal.stage.value if deal else None,
        request_partner=request.partner_id if request else None,
        request_kind=PartnerKind(request.kind) if request else None,
        answer_known=known,
    )


async def _signal_answer(services: Services, config: CallbackConfig, deal_id: str, answer: PartnerAnswer) -> JSONResponse:
    # The read model (written with the events, in the archive's transaction) answers every check, so a callback
    # needs no worker: when workers are down the signal waits in Temporal and is recorded when they are back.
    facts = await run_in_threadpool(_facts, services, deal_id, answer)
    if facts.deal_stage is None:
        return _refuse(404, "unknown_deal", f"没有编号为 {deal_id} 的案件")
    if facts.request_partner is None or facts.request_kind is None:
        return _refuse(404, "unknown_request", f"案件 {deal_id} 没有编号为 {answer.request_id} 的申请")
    if facts.request_partner != answer.partner_id:
        return _refuse(403, "not_your_request", f"申请 {answer.request_id} 不是发给 {answer.partner_id} 的")
    allowed = REGISTRATION_DECISIONS if facts.request_kind == PartnerKind.REGISTRATION_OFFICE else FINANCING_DECISIONS
    if answer.decision not in allowed:
        names = "、".join(sorted(d.value for d in allowed))
        return _refuse(422, "wrong_decision", f"申请 {answer.request_id} 只能答复 {names}，收到 {answer.decision.value}")
    if facts.request_kind == PartnerKind.REGISTRATION_OFFICE and answer.decision in (
        Decision.CORRECTION_REQUESTED,
        Decision.REFUSED,
    ):
        unknown = config.rules.unknown_reasons(answer.decision, answer.reason_codes)
        if unknown:
            known = (
                config.rules.correction_reasons
                if answer.decision == Decision.CORRECTION_REQUESTED
                else config.rules.refusal_reasons
            )
            allowed_codes = "、".join(f"{r.code}（{r.label}）" for r in known)
            return _refuse(
                422,
                "unknown_reason",
                f"原因代码 {'、'.join(unknown)} 不在登记规则 {config.rules.version} 中；允许：{allowed_codes}",
            )
    if facts.answer_known:
        return JSONResponse({"status": "duplicate", "answer_id": answer.answer_id}, status_code=200)
    if facts.deal_stage in TERMINAL_STAGE_VALUES:
        return _refuse(409, "deal_closed", f"案件 {deal_id} 已结束（{facts.deal_stage}），不再接受答复")
    handle = services.client.get_workflow_handle(workflow_id(deal_id))
    await handle.signal(PARTNER_ANSWER_SIGNAL, PartnerAnswerSignal(answer=answer))
    return JSONResponse({"status": "accepted", "answer_id": answer.answer_id}, status_code=202)
