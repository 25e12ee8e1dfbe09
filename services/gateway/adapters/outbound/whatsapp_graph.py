"""WhatsApp Cloud API (Graph API): a text message to the customer's wa_id.

`POST {base}/v{N}/{phone_number_id}/messages` with `Authorization: Bearer <access token>` and
`{"messaging_product": "whatsapp", "to": <wa_id>, "type": "text", "text": {"body": ...}}`; the
answer names the message `{"messages": [{"id": "wamid..."}]}`, errors `{"error": {...}}`.
"""

from __future__ import annotations

import aiohttp

from ccmesh.configplane.models import ChannelEndpoint
from gateway.adapters.outbound.base import (
    CALL_TIMEOUT_SECONDS,
    base_url,
    connection_failure,
    http_failure,
    json_body,
)
from gateway.domain.outbound_message import DeliveryFailed, OutboundMessage, Receipt

PUBLIC_API = "https://graph.facebook.com"
GRAPH_VERSION = "v21.0"


class WhatsAppGraph:
    name = "whatsapp_cloud"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def send(self, endpoint: ChannelEndpoint, message: OutboundMessage) -> Receipt:
        line = endpoint.spec.whatsapp
        if line is None or not line.access_token:
            raise DeliveryFailed(
                f"endpoint {endpoint.metadata.name}: whatsapp.accessToken is needed to send", transient=False
            )
        url = f"{base_url(endpoint, PUBLIC_API)}/{GRAPH_VERSION}/{line.phone_number_id}/messages"
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to,
            "type": "text",
            "text": {"preview_url": False, "body": message.text},
        }
        try:
            async with self._session.post(
                url,
                json=payload,
                headers={"Authorization": f"Bearer {line.access_token}"},
                timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_SECONDS),
            ) as response:
                body = await json_body(response)
                if response.status >= 300:
                    error = body.get("error") or {}
                    detail = f"Graph error {error.get('code', '')}: {error.get('message', '')}".strip()
                    raise await http_failure(response, detail)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise connection_failure(error) from None
        messages = body.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else {}
        return Receipt(str(first.get("id", "")) if isinstance(first, dict) else "")
