"""Bench agents as a person's browser meets the platform: logged in on the agent workspace
socket, available, accepting every offer the moment it is pushed.

Then each contact is released so the agent's slots stay free through a long run:
- `complete`: routing's `AnswerOffer(COMPLETE)` over the mesh (what `bench/gateway` does); the
  slot is freed without the wrap-up's side work (ticket, summary), so the figures stay on the
  path from webhook to offer;
- `wrap_up`: the workspace's own `wrap_up` (the ai service makes a ticket for each contact);
- `none`: contacts are held (each agent takes at most its channel capacity).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from ccmesh.auth import TokenAuthority
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc

RELEASES = ("complete", "wrap_up", "none")
#: Identity's upper bound on one channel's concurrent contacts.
API_CAPACITY = 50


@dataclass
class OfferLog:
    """When each contact's offer reached an agent (wall clock), and what went wrong."""

    offered_at: dict[str, float] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    released: int = 0
    #: Contacts a waiter still waits for, and the event set when none is left.
    _waiting: set[str] = field(default_factory=set)
    _all_offered: asyncio.Event = field(default_factory=asyncio.Event)

    def offered(self, contact_id: str, at: float) -> None:
        self.offered_at.setdefault(contact_id, at)
        self._waiting.discard(contact_id)
        if not self._waiting:
            self._all_offered.set()

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    async def wait_offered(self, contact_ids: list[str], seconds: float) -> None:
        """Until every one of `contact_ids` was offered, or `seconds` passed."""
        self._waiting = {c for c in contact_ids if c not in self.offered_at}
        if not self._waiting:
            return
        self._all_offered.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_offered.wait(), timeout=seconds)
        self._waiting = set()


async def create_agents(
    identity: identity_pb2_grpc.IdentityServiceStub,
    tenant: str,
    region: str,
    brand: str,
    queue: str,
    count: int,
) -> list[str]:
    """Agent profiles in identity (the workspace copies them into routing at log-in)."""
    ids = [f"bench-agent-{index:03d}" for index in range(count)]
    for agent_id in ids:
        await identity.UpsertAgent(
            identity_pb2.UpsertAgentRequest(
                agent=identity_pb2.Agent(
                    agent_id=agent_id,
                    tenant=common_pb2.TenantRef(tenant_id=tenant),
                    display_name=agent_id,
                    languages=["en"],
                    channels=[
                        identity_pb2.ChannelCapacity(
                            channel=common_pb2.CHANNEL_KIND_API, max_concurrent=API_CAPACITY
                        )
                    ],
                    brands=[brand],
                    queues=[queue],
                    home_region=region,
                )
            )
        )
    return ids


class WorkspaceAgent:
    def __init__(
        self,
        agent_id: str,
        tenant: str,
        ws: aiohttp.ClientWebSocketResponse,
        log: OfferLog,
        release: str,
        routing: routing_pb2_grpc.RoutingServiceStub,
    ) -> None:
        self.agent_id = agent_id
        self.tenant = tenant
        self._ws = ws
        self._log = log
        self._release = release
        self._routing = routing
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def _id(self) -> str:
        self._next_id += 1
        return f"{self.agent_id}-{self._next_id}"

    async def _send(self, **frame: Any) -> None:
        await self._ws.send_str(orjson.dumps(frame).decode())

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()

    async def run(self) -> None:
        """Read pushes until the socket closes; accept offers, release accepted contacts."""
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            seen = time.time()
            message = orjson.loads(frame.data)
            kind = message.get("type")
            if kind == "offer":
                self._log.offered(message["contactId"], seen)
                await self._send(type="accept", id=self._id(), reservationId=message["reservationId"])
            elif kind == "accepted":
                self._log.accepted += 1
                if self._release == "wrap_up":
                    await self._send(
                        type="wrap_up", id=self._id(), contactId=message["contactId"], disposition="resolved"
                    )
                elif self._release == "complete":
                    self._spawn(self._complete(message["reservationId"]))
            elif kind == "wrapped_up":
                self._log.released += 1
            elif kind == "error":
                self._log.error(str(message.get("code")))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete(self, reservation_id: str) -> None:
        try:
            await self._routing.AnswerOffer(
                routing_pb2.AnswerOfferRequest(
                    tenant_id=self.tenant,
                    agent_id=self.agent_id,
                    reservation_id=reservation_id,
                    answer=routing_pb2.OFFER_ANSWER_COMPLETE,
                )
            )
            self._log.released += 1
        except Exception as error:  # counted and reported; the bench goes on
            self._log.error(f"complete:{type(error).__name__}")


async def log_in(
    session: aiohttp.ClientSession,
    ws_url: str,
    authority: TokenAuthority,
    tenant: str,
    agent_id: str,
    log: OfferLog,
    release: str,
    routing: routing_pb2_grpc.RoutingServiceStub,
) -> WorkspaceAgent:
    ws = await session.ws_connect(ws_url, heartbeat=None, max_msg_size=0)
    await ws.send_str(
        orjson.dumps({"type": "auth", "token": authority.mint(tenant, "agent", agent_id)}).decode()
    )
    await _expect(ws, "ready")
    await ws.send_str(orjson.dumps({"type": "set_state", "id": "available", "state": "available"}).decode())
    await _expect(ws, "state")
    return WorkspaceAgent(agent_id, tenant, ws, log, release, routing)


async def _expect(ws: aiohttp.ClientWebSocketResponse, kind: str, seconds: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            frame = await ws.receive()
            if frame.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"agent socket: expected {kind!r}, got {frame.type!r} {frame.extra!r}")
            message: dict[str, Any] = orjson.loads(frame.data)
            if message.get("type") == kind:
                return message
            if message.get("type") == "error":
                raise RuntimeError(f"agent socket: {message}")


class AgentFloor:
    """Every bench agent's socket, read concurrently."""

    def __init__(self, agents: list[WorkspaceAgent], session: aiohttp.ClientSession) -> None:
        self.agents = agents
        self._session = session
        self._readers = [asyncio.create_task(agent.run()) for agent in agents]

    async def close(self) -> None:
        for agent in self.agents:
            await agent.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self._session.close()
