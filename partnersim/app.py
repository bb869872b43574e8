"""The simulator: a real FastAPI service that receives Kuayue's requests and calls back with signed answers.

Partners are the entries of a partner directory (the same file Kuayue reads, secrets included). For each
request it answers, after `delay` seconds, with a callback to the request's `callback_url`, signed with the
partner's secret exactly as a real partner must (domain.partners.sign_callback). What it does is set per
partner or per request through `POST /control` (see Behaviour): HTTP 500 for the next N deliveries, hang
for the next N (the caller times out), refuse with 422, answer malformed, answer twice, answer never,
or answer with a given decision, amount, reasons or expiry. Different delays give answers out of order.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from domain.partners import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Decision,
    PartnerEndpoint,
    PartnerKind,
    sign_callback,
)


class Behaviour(BaseModel):
    """How a partner (or one request) behaves. Counters (`http500`, `hang`) are used up one delivery at a time."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["answer", "never", "malformed", "reject"] = "answer"
    delay: float = Field(default=0.2, ge=0, description="seconds before the callback")
    twice: bool = False  # the same answer (same answer id) is called back twice
    http500: int = Field(default=0, ge=0, description="answer the next N deliveries with HTTP 500")
    hang: int = Field(default=0, ge=0, description="hang the next N deliveries past the caller's timeout")
    hang_seconds: float = 30.0
    decision: Decision | None = None  # default: committed (investors) or registered (office)
    amount_fen: int | None = None  # default: the amount applied for
    expires_in_seconds: float | None = None
    reason_codes: tuple[str, ...] = ()
    message: str = ""


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner_id: str | None = None
    request_id: str | None = None
    behaviour: Behaviour


@dataclass
class Received:
    partner_id: str
    key: str
    body: dict[str, Any]
    reference: str
    deliveries: int = 1


@dataclass
class Simulator:
    partners: dict[str, PartnerEndpoint]
    default: Behaviour = field(default_factory=Behaviour)
    by_partner: dict[str, Behaviour] = field(default_factory=dict)
    by_request: dict[str, Behaviour] = field(default_factory=dict)
    received: dict[tuple[str, str], Received] = field(default_factory=dict)
    callbacks: list[tuple[str, int, str]] = field(default_factory=list)  # (request id, HTTP status, response text)
    attempts: dict[str, int] = field(default_factory=dict)  # delivery attempts per request id, incl. failed ones
    callback_ms: list[float] = field(default_factory=list)  # how long each callback took to be answered
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    http: httpx.AsyncClient | None = None

    def behaviour(self, partner_id: str, request_id: str) -> Behaviour:
        return self.by_request.get(request_id) or self.by_partner.get(partner_id) or self.default

    def answer_body(self, partner: PartnerEndpoint, request: dict[str, Any], b: Behaviour) -> dict[str, Any]:
        office = partner.kind == PartnerKind.REGISTRATION_OFFICE
        decision = b.decision or (Decision.REGISTERED if office else Decision.COMMITTED)
        body: dict[str, Any] = {
            # Unique per partner, as a real partner's answer numbers are; the same on a repeat of this answer.
            "answer_id": f"{partner.partner_id}-{request['deal_id']}-{request['request_id']}-{decision.value}",
            "deal_id": request["deal_id"],
            "request_id": request["request_id"],
            "decision": decision.value,
            "message": b.message,
        }
        if decision == Decision.COMMITTED:
            body["amount_fen"] = b.amount_fen if b.amount_fen is not None else request["amount_fen"]
            body["instrument"] = request.get("instrument") or "loan"
            body["conditions"] = "以项目设备及知识产权质押"
            if b.expires_in_seconds is not None:
                body["expires_at"] = (datetime.now(UTC) + timedelta(seconds=b.expires_in_seconds)).isoformat()
        if decision == Decision.REGISTERED:
            body["registration_number"] = f"2026JX{abs(hash(request['request_id'])) % 10**8:08d}"
        if decision in (Decision.CORRECTION_REQUESTED, Decision.REFUSED):
            body["reason_codes"] = list(b.reason_codes)
        return body

    async def call_back(self, partner: PartnerEndpoint, url: str, body: bytes, request_id: str) -> int:
        """Send one signed callback; retried (new nonce each time) while Kuayue cannot be reached or answers 5xx."""
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        status = 0
        for attempt in range(5):
            timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(16)
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                NONCE_HEADER: nonce,
                SIGNATURE_HEADER: sign_callback(partner.secret, timestamp, nonce, body),
            }
            started = time.perf_counter()
            try:
                response = await self.http.post(url, content=body, headers=headers)
                self.callback_ms.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            status = response.status_code
            self.callbacks.append((request_id, status, response.text))
            if status < 500:
                break
            await asyncio.sleep(0.2 * 2**attempt)
        return status

    async def answer_later(self, partner: PartnerEndpoint, request: dict[str, Any], b: Behaviour) -> None:
        await asyncio.sleep(b.delay)
        url = request["callback_url"]
        if b.mode == "malformed":
            body = json.dumps({"deal_id": request["deal_id"], "request_id": request["request_id"], "decision": "maybe"}).encode()
        else:
            body = json.dumps(self.answer_body(partner, request, b), ensure_ascii=False).encode()
        await self.call_back(partner, url, body, request["request_id"])
        if b.twice:
            await self.call_back(partner, url, body, request["request_id"])

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every scheduled callback has been sent (for tests)."""
        deadline = time.monotonic() + timeout
        while self.tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def create_sim_app(partners: dict[str, PartnerEndpoint], default: Behaviour | None = None) -> FastAPI:
    app = FastAPI(title="Kuayue partner simulator")
    sim = Simulator(partners=partners, default=default or Behaviour())
    app.state.sim = sim

    @app.post("/partners/{partner_id}/requests")
    async def receive(partner_id: str, request: Request) -> JSONResponse:
        partner = sim.partners.get(partner_id)
        if partner is None:
            return JSONResponse({"message": f"unknown partner {partner_id}"}, status_code=404)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return JSONResponse({"message": "Idempotency-Key header is required"}, status_code=400)
        body = await request.json()
        request_id = str(body.get("request_id", ""))
        sim.attempts[request_id] = sim.attempts.get(request_id, 0) + 1
        b = sim.behaviour(partner_id, request_id)
        if b.http500 > 0:
            b.http500 -= 1
            return JSONResponse({"message": "simulated outage"}, status_code=500)
        if b.hang > 0:
            b.hang -= 1
            await asyncio.sleep(b.hang_seconds)
            return JSONResponse({"message": "too late"}, status_code=504)
        if b.mode == "reject":
            return JSONResponse({"message": b.message or "申请材料不完整：缺少企业征信授权书"}, status_code=422)
        seen = sim.received.get((partner_id, key))
        if seen is not None:  # the same application again: same reference, no second answer
            seen.deliveries += 1
            return JSONResponse({"reference": seen.reference}, status_code=200)
        reference = f"{partner_id}-{len(sim.received) + 1:05d}"
        sim.received[(partner_id, key)] = Received(partner_id, key, body, reference)
        if b.mode != "never":
            task = asyncio.create_task(sim.answer_later(partner, body, b.model_copy()))
            sim.tasks.add(task)
            task.add_done_callback(sim.tasks.discard)
        return JSONResponse({"reference": reference}, status_code=202)

    @app.post("/control")
    async def control(c: Control) -> dict[str, str]:
        if c.request_id:
            sim.by_request[c.request_id] = c.behaviour
        elif c.partner_id:
            sim.by_partner[c.partner_id] = c.behaviour
        else:
            sim.default = c.behaviour
        return {"status": "ok"}

    @app.post("/control/reset")
    async def reset() -> dict[str, str]:
        sim.by_partner.clear()
        sim.by_request.clear()
        sim.default = default or Behaviour()
        return {"status": "ok"}

    @app.get("/received")
    async def received() -> list[dict[str, Any]]:
        return [
            {"partner_id": r.partner_id, "key": r.key, "reference": r.reference, "deliveries": r.deliveries, **r.body}
            for r in sim.received.values()
        ]

    return app
