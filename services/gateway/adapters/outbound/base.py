"""The one interface every outbound provider adapter implements.

An adapter makes ONE provider call per `send`: it returns the provider's receipt or raises
`DeliveryFailed` saying whether a retry may help. Retries, back-off and status events belong
to the outbound use case, so every provider gets the same rules. Credentials come from the
channel endpoint and never appear in a failure's reason.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp
import orjson

from ccmesh.configplane.models import ChannelEndpoint
from gateway.domain.outbound_message import DeliveryFailed, OutboundMessage, Receipt, failure_of_status

#: One provider call may take this long before it counts as a (transient) failure.
CALL_TIMEOUT_SECONDS = 15.0


class ProviderAdapter(Protocol):
    #: Provider name as in MessageStatusChanged.provider: twilio, whatsapp_cloud, smtp, generic.
    name: str

    async def send(self, endpoint: ChannelEndpoint, message: OutboundMessage) -> Receipt: ...


def base_url(endpoint: ChannelEndpoint, public: str) -> str:
    """The API root: the endpoint's `provider_api_url` (a sandbox, a test server) or the public one."""
    return (endpoint.spec.provider_api_url or public).rstrip("/")


async def http_failure(response: aiohttp.ClientResponse, detail: str) -> DeliveryFailed:
    return failure_of_status(response.status, detail, response.headers.get("Retry-After"))


def connection_failure(error: BaseException) -> DeliveryFailed:
    # The class name says enough (refused, reset, timed out); the text may echo the URL's query.
    return DeliveryFailed(f"connection failed: {type(error).__name__}", transient=True)


async def json_body(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The response's JSON object; {} for an empty or non-JSON body (a proxy's HTML error page)."""
    raw = await response.read()
    try:
        value = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
