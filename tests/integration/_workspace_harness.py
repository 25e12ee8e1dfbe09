"""Shared pieces of the web chat and agent workspace tests: the full mesh (identity, routing, ai,
gateway with its HTTP side on a free port), a web chat endpoint handing contacts to the `support`
queue, agents known to identity, and small WebSocket clients that wait for a message type."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from _gateway_conversation import apply_endpoints, endpoint
from _platform import WAIT_SECONDS, Platform, eu_contact_center

from ccmesh.natsserver import free_port
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

CHAT = "acme-chat"
LOCKED_CHAT = "acme-chat-locked"
ALLOWED_ORIGIN = "https://shop.acme.example"


def identity_agent(agent_id: str, name: str) -> identity_pb2.Agent:
    return identity_pb2.Agent(
        agent_id=agent_id,
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        display_name=name,
        languages=["en"],
        brands=["acme-retail"],
        channels=[identity_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, max_concurrent=1)],
    )


async def start_workspace(platform: Platform, **gateway: Any) -> str:
    """The mesh with a web chat endpoint, queues support and billing, agents alice and bob; the
    gateway's base URL. The region streams AI insights, as the workspace shows them."""
    document = eu_contact_center()
    ai = document.spec.ai.model_copy(update={"stream_insights": True})
    await platform.apply(document.model_copy(update={"spec": document.spec.model_copy(update={"ai": ai})}))
    await apply_endpoints(
        platform.nc,
        endpoint(CHAT, "webchat", "acme-web", queue="support", webchat={"title": "ACME chat"}),
        endpoint(
            LOCKED_CHAT,
            "webchat",
            "acme-web-locked",
            queue="support",
            webchat={"allowedOrigins": [ALLOWED_ORIGIN]},
        ),
    )
    port = free_port()
    settings = {"http_port": port, "agent_heartbeat_seconds": 1.0, **gateway}
    await platform.start("identity", "routing", "ai", "gateway", settings={"gateway": settings})
    routing = platform.stub(RoutingServiceStub, role="admin")
    for queue in ("support", "billing"):
        await routing.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(tenant_id="acme", queue=routing_pb2.QueueDefinition(name=queue))
        )
    identity = platform.stub(IdentityServiceStub, role="admin")
    for agent_id, name in (("alice", "Alice"), ("bob", "Bob")):
        await identity.UpsertAgent(identity_pb2.UpsertAgentRequest(agent=identity_agent(agent_id, name)))
    return f"http://127.0.0.1:{port}"


@dataclass
class Client:
    """One WebSocket client; `expect` skips pushes of other types (kept in `seen`)."""

    ws: aiohttp.ClientWebSocketResponse
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, **message: Any) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(WAIT_SECONDS):
            frame = await self.ws.receive()
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {frame.type!r} {frame.data!r} {frame.extra!r}")
        message: dict[str, Any] = orjson.loads(frame.data)
        self.seen.append(message)
        return message

    async def expect(self, kind: str, **matching: Any) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message["type"] == kind and all(message.get(k) == v for k, v in matching.items()):
                return message

    async def closed_with(self) -> int:
        """The close code the server ended the socket with (after any frames still queued)."""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                frame = await self.ws.receive()
                if frame.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSING,
                ):
                    break
                if frame.type == aiohttp.WSMsgType.ERROR:
                    break
        code = self.ws.close_code
        assert code is not None
        return code


async def customer(http: aiohttp.ClientSession, base: str, endpoint_name: str = CHAT, **hello: Any) -> Client:
    ws = await http.ws_connect(f"{base}/v1/webchat/{endpoint_name}/ws")
    client = Client(ws)
    await client.send(type="hello", **hello)
    await client.expect("welcome")
    return client


async def agent(http: aiohttp.ClientSession, base: str, token: str) -> Client:
    ws = await http.ws_connect(f"{base}/v1/agent/ws")
    client = Client(ws)
    await client.send(type="auth", token=token)
    await client.expect("ready")
    return client


async def available(client: Client) -> None:
    await client.send(type="set_state", id="state", state="available")
    await client.expect("state", id="state")
