"""A running partner stack for tests: the simulator, Kuayue's web service (callbacks) and a worker, on free ports.

Everything is real: the simulator is the FastAPI service of `partnersim`, served by uvicorn; the web app is
Kuayue's; the worker delivers over HTTP with httpx and the simulator calls back with signed requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from temporalio.client import Client

import starter
from domain.actors import Actor
from domain.commands import (
    AcceptMatch,
    AgreeTerms,
    OpenDeal,
    ProposeCandidates,
    ShortlistCandidate,
    SignTechnologyContract,
    ValidateDemand,
)
from domain.events import Candidate, Side
from domain.partners import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, PartnerEndpoint, sign_callback
from domain.state import DealState
from kuayue.partners import load_registration_rules, simulated_directory
from partnersim.app import Behaviour, Simulator, create_sim_app
from store.db import make_engine, make_session_factory
from tests.factories import achievement, broker_of, technology_contract, terms
from tests.workflows.conftest import Kuayue, running_kuayue
from web.app import create_app
from web.callbacks import CallbackConfig
from web.config import WebConfig
from web.serve import serving


@dataclass
class PartnerStack:
    kuayue: Kuayue
    sim: Simulator
    sim_url: str
    web_url: str
    partners: dict[str, PartnerEndpoint]
    http: httpx.AsyncClient

    async def behave(self, behaviour: Behaviour, *, partner_id: str | None = None, request_id: str | None = None) -> None:
        """Tell the simulator how to behave, through its control endpoint."""
        body = {"partner_id": partner_id, "request_id": request_id, "behaviour": behaviour.model_dump(mode="json")}
        response = await self.http.post(f"{self.sim_url}/control", json=body)
        response.raise_for_status()

    async def state(self, deal_id: str) -> DealState:
        return await starter.deal_state(self.kuayue.client, deal_id)

    async def wait_for(self, deal_id: str, check: Callable[[DealState], bool], timeout: float = 30.0) -> DealState:
        deadline = time.monotonic() + timeout
        while True:
            state = await self.state(deal_id)
            if check(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"deal {deal_id} did not get there in {timeout}s; it is {state.stage}: {state}")
            await asyncio.sleep(0.1)

    async def callback(
        self,
        partner_id: str,
        body: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> httpx.Response:
        """A callback signed as the partner would sign it (or with the given secret, timestamp and nonce)."""
        raw = json.dumps(body, ensure_ascii=False).encode()
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_urlsafe(16)
        signature = sign_callback(secret or self.partners[partner_id].secret, ts, nonce, raw)
        headers = {TIMESTAMP_HEADER: ts, NONCE_HEADER: nonce, SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
        return await self.http.post(f"{self.web_url}/partners/{partner_id}/callbacks", content=raw, headers=headers)


@contextlib.asynccontextmanager
async def partner_stack(client: Client, db_url: str, default: Behaviour | None = None) -> AsyncIterator[PartnerStack]:
    """Simulator, then Kuayue's web service, then a worker that delivers to the one and is called back on the other."""
    secrets_only = simulated_directory("http://simulator")  # the secrets; the URL is known once it listens
    sim_app = create_sim_app(secrets_only, default or Behaviour(delay=0.05))
    async with serving(sim_app, port=0) as sim_server:
        partners = {pid: e.model_copy(update={"url": f"{sim_server.url}/partners/{pid}"}) for pid, e in secrets_only.items()}
        web_app = create_app(
            WebConfig(database_url=db_url, secret_key=secrets.token_urlsafe(32)),
            client,
            make_session_factory(make_engine(db_url)),
            CallbackConfig(partners=partners, rules=load_registration_rules()),
        )
        async with (
            serving(web_app, port=0) as web_server,
            httpx.AsyncClient(timeout=10.0) as http,
            running_kuayue(
                client,
                db_url,
                partners=partners,
                callback_base_url=web_server.url,
                partner_http=httpx.AsyncClient(timeout=httpx.Timeout(2.0)),
            ) as kuayue,
        ):
            yield PartnerStack(kuayue, sim_app.state.sim, sim_server.url, web_server.url, partners, http)


async def to_financing(stack: PartnerStack, open_cmd: OpenDeal) -> Actor:
    """Take a freshly opened deal to the end of BROKERING (terms agreed) as its broker; returns the broker."""
    return await take_to_financing(stack.kuayue, open_cmd)


async def take_to_financing(kuayue: Kuayue, open_cmd: OpenDeal) -> Actor:
    """`to_financing` with any running Kuayue (no partner stack needed)."""
    broker = broker_of(open_cmd)
    deal = open_cmd.deal_id
    ach = achievement(1)
    steps = [
        ValidateDemand(command_id="v", actor=broker),
        ProposeCandidates(command_id="p", actor=broker, candidates=(Candidate(achievement=ach, score=9.0),)),
        ShortlistCandidate(command_id="s", actor=broker, achievement_id=ach.achievement_id),
        AcceptMatch(command_id="ae", actor=broker, achievement_id=ach.achievement_id, side=Side.ENTERPRISE),
        AcceptMatch(command_id="ao", actor=broker, achievement_id=ach.achievement_id, side=Side.OWNER),
    ]
    for command in steps:
        await kuayue.act(deal, command)
    await kuayue.act(deal, AgreeTerms(command_id="t", actor=broker, terms=terms()))
    return broker


async def sign(stack: PartnerStack, open_cmd: OpenDeal, broker: Actor, value_fen: int, no: str) -> None:
    contract = technology_contract(open_cmd, value_fen=value_fen, contract_no=no, signed_on=date(2026, 11, 20))
    await stack.kuayue.act(open_cmd.deal_id, SignTechnologyContract(command_id=f"sign-{no}", actor=broker, contract=contract))
