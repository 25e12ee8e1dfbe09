"""A real gateway with its HTTP side on a free loopback port, and signed provider requests.

    async def test_x(platform: Platform) -> None:
        async with http_gateway(platform) as gateway:
            async with gateway.session.post(gateway.url("/v1/twilio/t-sms/sms"), ...) as response: ...

The gateway runs through `ccmesh.service_host.serve()` exactly as in production (same config
object, `CC_HTTP_PORT` set); the channel endpoints below are applied to the config plane
before it starts. Signatures are computed with the providers' documented algorithms.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from _gateway_conversation import apply_endpoints as apply_endpoints_on
from _gateway_conversation import stored_events
from _platform import REGION, SECRET, START_SECONDS, STOP_SECONDS, Platform, definition_of

from ccmesh import naming
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.natsserver import free_port
from ccmesh.service_host import serve
from gateway.domain.generic_signature import generic_signature
from gateway.domain.twilio_signature import twilio_signature
from gateway.domain.whatsapp_signature import whatsapp_signature

AUTH_TOKEN = "twilio-test-token-0123456789"
APP_SECRET = "meta-app-secret-0123"
VERIFY_TOKEN = "meta-verify-token-0123"
SIGNING_SECRET = "generic-signing-secret-0123"
PHONE_NUMBER_ID = "106540352242922"
SECRETS = (AUTH_TOKEN, APP_SECRET, VERIFY_TOKEN, SIGNING_SECRET)


def channel_endpoint(name: str, **spec: Any) -> ChannelEndpoint:
    return ChannelEndpoint.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ChannelEndpoint",
            "metadata": {"name": name},
            "spec": {"region": REGION, "tenant": "acme", "brand": "acme-retail", **spec},
        }
    )


TWILIO = {"accountSid": "AC" + "0123456789abcdef" * 2, "authToken": AUTH_TOKEN}
ENDPOINTS = (
    channel_endpoint(
        "t-sms", channel="sms", provider="twilio", address="+442071838750", queue="support", twilio=TWILIO
    ),
    channel_endpoint(
        "t-wa",
        channel="whatsapp",
        provider="whatsapp_cloud",
        address=PHONE_NUMBER_ID,
        queue="support",
        whatsapp={"phoneNumberId": PHONE_NUMBER_ID, "appSecret": APP_SECRET, "verifyToken": VERIFY_TOKEN},
    ),
    channel_endpoint(
        "t-generic",
        channel="api",
        provider="generic",
        address="partner",
        queue="support",
        generic={"signingSecret": SIGNING_SECRET},
    ),
    channel_endpoint(
        "t-limited",
        channel="api",
        provider="generic",
        address="partner-limited",
        queue="support",
        generic={"signingSecret": SIGNING_SECRET},
        rateLimit={"perSecond": 0.01, "burst": 2},
    ),
    channel_endpoint(
        "t-closed",
        channel="sms",
        provider="twilio",
        address="+442071838759",
        queue="support",
        twilio=TWILIO,
        enabled=False,
    ),
)


@dataclass
class HttpGateway:
    base: str
    session: aiohttp.ClientSession
    public_base: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def signed_url(self, path: str) -> str:
        """The URL Twilio signs: the public one when the gateway is configured with it."""
        return (self.public_base or self.base) + path

    async def twilio(
        self, path: str, params: dict[str, str], *, signature: str | None = "valid", token: str = AUTH_TOKEN
    ) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "valid":
            signature = twilio_signature(self.signed_url(path), params.items(), token)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.session.post(self.url(path), data=urlencode(params), headers=headers)

    async def whatsapp(
        self, endpoint: str, body: bytes, *, secret: str | None = APP_SECRET
    ) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Hub-Signature-256"] = whatsapp_signature(secret, body)
        return await self.session.post(self.url(f"/v1/whatsapp/{endpoint}"), data=body, headers=headers)

    async def generic(
        self, endpoint: str, body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
    ) -> aiohttp.ClientResponse:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json",
            "X-CC-Timestamp": stamp,
            "X-CC-Signature": generic_signature(secret, stamp, body),
        }
        return await self.session.post(
            self.url(f"/v1/generic/{endpoint}/messages"), data=body, headers=headers
        )


def whatsapp_payload(*messages: dict[str, Any], statuses: tuple[dict[str, Any], ...] = ()) -> bytes:
    """A webhook body in Meta's format, one entry and change carrying the given messages."""
    senders = {m["from"] for m in messages}
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "442071838760", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Jane"}, "wa_id": sender} for sender in sorted(senders)],
    }
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}],
    }
    return orjson.dumps(payload)


async def apply_endpoints(platform: Platform, *endpoints: ChannelEndpoint) -> None:
    await apply_endpoints_on(platform.nc, *endpoints)


@contextlib.asynccontextmanager
async def http_gateway(platform: Platform, **config: Any) -> AsyncIterator[HttpGateway]:
    """The gateway service with HTTP on; identity (and whatever else) is started by the caller."""
    port = free_port()
    definition = definition_of("gateway")
    settings = definition.config_model(
        region=REGION,
        nats_url=platform.nats_url,
        auth_secret=SECRET,
        grpc_port=-1,
        http_port=port,
        instance_name="gateway-http-test",
        shutdown_grace_seconds=2.0,
        default_deadline_seconds=5.0,
        **config,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(definition, settings, stop), name="serve-gateway-http")
    base = f"http://127.0.0.1:{port}"
    session = aiohttp.ClientSession()
    try:
        async with asyncio.timeout(START_SECONDS):
            while True:
                if task.done():
                    task.result()
                    raise AssertionError("gateway ended before it was serving HTTP")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(base + "/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.05)
        yield HttpGateway(base, session, config.get("public_base_url", ""))
    finally:
        await session.close()
        stop.set()
        await asyncio.wait_for(task, STOP_SECONDS)


async def stream_events(platform: Platform) -> list[Any]:
    """Every event stored on the region's stream so far, oldest first."""
    return await stored_events(platform.nc, naming.event_subject(REGION, "*", "*", "*"))
