"""Forwarding a roadshow investor's interest to the deal it is for (activity `roadshows.forward`).

The deal decides: the application is sent as ApplyForFinancing by `system:roadshow` through the deal's own update,
so the deal's rules (stage, duplicate ids, amounts) apply and a refusal comes back in the deal's words.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.actors import ROADSHOW
from domain.commands import ApplyForFinancing
from domain.parties import Model
from domain.partners import Instrument, PartnerKind


class ForwardRequest(Model):
    roadshow_id: str
    deal_id: str
    application_id: str
    partner_id: str
    partner_kind: PartnerKind
    instrument: Instrument
    amount_fen: int
    note: str = ""


class ForwardResult(Model):
    refusal: str | None = None  # None: the deal recorded the application


class RoadshowForwarding:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="roadshows.forward")
    async def forward(self, request: ForwardRequest) -> ForwardResult:
        # Imported here: workflows.messages imports the deal's models, and this module must stay light for the worker.
        from workflows.messages import EXECUTE_UPDATE, Answer, CommandRequest, workflow_id

        command = ApplyForFinancing(
            command_id=f"roadshow:{request.roadshow_id}:{request.application_id}",
            actor=ROADSHOW,
            application_id=request.application_id,
            partner_id=request.partner_id,
            partner_kind=request.partner_kind,
            instrument=request.instrument,
            amount_fen=request.amount_fen,
            note=request.note or f"路演 {request.roadshow_id} 意向",
        )
        handle = self._client.get_workflow_handle(workflow_id(request.deal_id))
        try:
            await handle.execute_update(EXECUTE_UPDATE, CommandRequest(command=command), result_type=Answer)
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                return ForwardResult(refusal=f"[{cause.type}] {cause.message}")
            raise
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return ForwardResult(refusal=f"[unknown_deal] 没有编号为 {request.deal_id} 的进行中案件")
            raise
        return ForwardResult()
