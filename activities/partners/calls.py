"""Delivering requests to partners over HTTP (activity `partners.deliver`).

- An idempotency key per request (`<deal id>:<request id>`): a retried delivery is the same request to the
  partner, never a second application.
- Timeouts on every call; a 5xx, a timeout or a refused connection raises and Temporal retries with backoff.
- A 4xx is the partner refusing the request itself: ApplicationError "PartnerRefused" (not retried), its
  message carries the partner's words, which the workflow records in PartnerRequestRefused.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.partners import PARTNER_REFUSED, DeliveryReceipt, DeliveryRequest, PartnerEndpoint

IDEMPOTENCY_HEADER = "Idempotency-Key"
_MESSAGE_LIMIT = 1000  # what the event keeps of a partner's error text


class PartnerCalls:
    """Holds the HTTP client and the partner directory; the worker builds it once and shares the client."""

    def __init__(self, http: httpx.AsyncClient, partners: Mapping[str, PartnerEndpoint], callback_base_url: str) -> None:
        self._http = http
        self._partners = partners
        self._callback_base_url = callback_base_url.rstrip("/")

    @activity.defn(name="partners.deliver")
    async def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        partner = self._partners.get(request.partner_id)
        if partner is None:
            known = ", ".join(sorted(self._partners)) or "none configured"
            raise ApplicationError(
                f"合作方 {request.partner_id} 未在合作方目录中配置（已配置：{known}）", type=PARTNER_REFUSED, non_retryable=True
            )
        if partner.kind != request.kind:
            raise ApplicationError(
                f"合作方 {partner.partner_id} 是 {partner.kind.value}，不受理 {request.kind.value} 的申请",
                type=PARTNER_REFUSED,
                non_retryable=True,
            )
        body = {
            **request.model_dump(mode="json"),
            "callback_url": f"{self._callback_base_url}/partners/{partner.partner_id}/callbacks",
        }
        response = await self._http.post(
            f"{partner.url.rstrip('/')}/requests",
            json=body,
            headers={IDEMPOTENCY_HEADER: f"{request.deal_id}:{request.request_id}"},
        )
        if 400 <= response.status_code < 500:
            raise ApplicationError(
                _partner_message(response)[:_MESSAGE_LIMIT],
                response.status_code,
                type=PARTNER_REFUSED,
                non_retryable=True,
            )
        # 5xx: raise_for_status raises, and Temporal retries with the activity's backoff.
        response.raise_for_status()
        try:
            return DeliveryReceipt(partner_reference=str(response.json()["reference"]))
        except (ValueError, KeyError, TypeError) as exc:
            # A 2xx without a reference is the partner's fault but may be transient (a proxy page): retry.
            raise RuntimeError(f"partner {partner.partner_id} answered {response.status_code} without a reference") from exc


def _partner_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"
    if isinstance(data, dict):
        for key in ("message", "detail", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return response.text.strip()
