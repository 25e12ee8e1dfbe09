"""The generic provider: replies POSTed as JSON to the endpoint's callback URL, signed like inbound.

Headers `X-CC-Timestamp` (Unix seconds) and `X-CC-Signature: sha256=<hex of HMAC-SHA256 over
"<timestamp>.<body>">` with the endpoint's signing secret; `Idempotency-Key` is the message id,
so a provider that saw a retry's first attempt can drop the repeat.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson

from ccmesh.configplane.models import ChannelEndpoint
from gateway.adapters.outbound.base import CALL_TIMEOUT_SECONDS, connection_failure, http_failure
from gateway.domain.generic_signature import generic_signature
from gateway.domain.outbound_message import DeliveryFailed, OutboundMessage, Receipt


class GenericCallback:
    name = "generic"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def send(self, endpoint: ChannelEndpoint, message: OutboundMessage) -> Receipt:
        settings = endpoint.spec.generic
        if settings is None or not settings.callback_url:
            raise DeliveryFailed(
                f"endpoint {endpoint.metadata.name}: generic.callbackUrl is needed to send", transient=False
            )
        body = orjson.dumps(
            {
                "messageId": message.message_id,
                "tenant": message.tenant_id,
                "contactId": message.contact_id,
                "to": message.to,
                "text": message.text,
                "sender": message.sender,
            }
        )
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-CC-Timestamp": timestamp,
            "X-CC-Signature": generic_signature(settings.signing_secret, timestamp, body),
            "Idempotency-Key": message.message_id,
        }
        try:
            async with self._session.post(
                settings.callback_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_SECONDS),
            ) as response:
                raw = await response.read()
                if response.status >= 300:
                    raise await http_failure(response, raw[:200].decode(errors="replace"))
                answer: Any = orjson.loads(raw) if raw.strip().startswith(b"{") else {}
        except (aiohttp.ClientError, TimeoutError) as error:
            raise connection_failure(error) from None
        except orjson.JSONDecodeError:
            answer = {}
        return Receipt(str(answer.get("id", "")) if isinstance(answer, dict) else "")
