"""Bench agents as a person's browser meets the platform: logged in on the agent workspace
socket, available, accepting every offer the moment it is pushed.

Then each contact is released so the agent's slots stay free through a long run:
- `complete`: routing's `AnswerOffer(COMPLETE)` over the mesh (what `bench/gateway` does); the
  slot is freed without the wrap-up's side work (ticket, summary), so the figures stay on the
  path from webhook to offer;
- `wrap_up`: the workspace's own `wrap_up` (the ai service makes a ticket for each contact);
- `none`: contacts are held (each agent takes at most its channel capacity).

Every offer, accept and release is also kept per contact (`OfferLog.offers`, `accepts`,
`released_contacts`), and each agent counts the contacts it holds against its capacity: what the
chaos tier and the fault bench check after a kill. An agent whose socket closes (its gateway was
killed) logs in again until the floor is closed, as a workspace page does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc
import orjson

from ccmesh.auth import TokenAuthority
from ccmesh.status import RpcError
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
    #: Per contact: every offer pushed to an agent, as (agent id, reservation id, wall clock).
    offers: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)
    #: Per contact: the agents whose accept the workspace confirmed (twice is a double booking).
    accepts: dict[str, list[str]] = field(default_factory=dict)
    #: Contacts whose release (complete or wrap-up) succeeded, and those routing refused.
    released_contacts: set[str] = field(default_factory=set)
    release_refused: dict[str, str] = field(default_factory=dict)
    #: "<agent> held <n> > <capacity>" each time an offer found its agent full.
    over_capacity: list[str] = field(default_factory=list)
    #: Agent sockets that closed under the floor and were logged in again.
    reconnects: int = 0
    #: Contacts a waiter still waits for, and the event set when none is left.
    _waiting: set[str] = field(default_factory=set)
    _all_offered: asyncio.Event = field(default_factory=asyncio.Event)

    def offered(self, contact_id: str, at: float, agent_id: str = "", reservation_id: str = "") -> None:
        self.offers.setdefault(contact_id, []).append((agent_id, reservation_id, at))
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
    capacity: int = API_CAPACITY,
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
                            channel=common_pb2.CHANNEL_KIND_API, max_concurrent=capacity
                        )
                    ],
                    brands=[brand],
                    queues=[queue],
                    home_region=region,
                )
            )
        )
    return ids


#: Failures of a call that say the callee was away, not that it refused.
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class WorkspaceAgent:
    #: How long a release is retried while routing or NATS restarts.
    COMPLETE_RETRY_SECONDS = 60.0

    def __init__(
        self,
        agent_id: str,
        tenant: str,
        ws: aiohttp.ClientWebSocketResponse,
        log: OfferLog,
        release: str,
        routing: routing_pb2_grpc.RoutingServiceStub,
        capacity: int = 0,
        hold_seconds: float = 0.0,
    ) -> None:
        self.agent_id = agent_id
        self.tenant = tenant
        self._ws = ws
        self._log = log
        self._release = release
        self._routing = routing
        #: Contacts offered or accepted and not yet released; 0: capacity not checked.
        self._capacity = capacity
        self._hold_seconds = hold_seconds
        self.held: dict[str, str] = {}
        self._accepting: dict[str, str] = {}
        self._releasing: set[str] = set()
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

    def reconnected(self, ws: aiohttp.ClientWebSocketResponse, ready: dict[str, Any]) -> None:
        """A new socket after the old one closed: the contacts the workspace says this agent still
        holds are released as a person would (their conversations come back on the new page)."""
        self._ws = ws
        self._log.reconnects += 1
        # The count starts again from what the workspace says the agent holds: an offer pushed to
        # the old socket whose end (timed out, withdrawn) came while no socket was open would
        # otherwise stay counted for good and show as an over-capacity much later.
        listed = set(ready.get("contacts", []))
        self.held = {c: r for c, r in self.held.items() if c in listed}
        for contact_id in ready.get("contacts", []):
            # The workspace says the agent holds it: its accept went through even if the
            # `accepted` answer died with the old socket.
            accepted_by = self._log.accepts.setdefault(contact_id, [])
            if self.agent_id not in accepted_by:
                accepted_by.append(self.agent_id)
            if contact_id not in self._log.released_contacts:
                self._spawn(self._release_held(contact_id, self.held.get(contact_id, "")))

    async def run(self) -> None:
        """Read pushes until the socket closes; accept offers, release accepted contacts."""
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            seen = time.time()
            message = orjson.loads(frame.data)
            kind = message.get("type")
            if kind == "offer":
                contact_id, reservation_id = message["contactId"], message["reservationId"]
                self._log.offered(contact_id, seen, self.agent_id, reservation_id)
                self.held[contact_id] = reservation_id
                if self._capacity and len(self.held) > self._capacity:
                    held = len(self.held)
                    self._log.over_capacity.append(f"{self.agent_id} held {held} > {self._capacity}")
                request_id = self._id()
                self._accepting[request_id] = contact_id
                await self._send(type="accept", id=request_id, reservationId=reservation_id)
            elif kind == "accepted":
                self._log.accepted += 1
                self._accepting.pop(str(message.get("id")), None)
                self._log.accepts.setdefault(message["contactId"], []).append(self.agent_id)
                self._spawn(self._release_held(message["contactId"], message["reservationId"]))
            elif kind == "offer_withdrawn":
                self.held.pop(str(message.get("contactId")), None)
            elif kind == "wrapped_up":
                self._log.released += 1
            elif kind == "error":
                # A failed accept frees nothing for sure; dropping it here can only hide an
                # over-capacity, never report one that did not happen.
                failed = self._accepting.pop(str(message.get("id")), None)
                if failed is not None:
                    self.held.pop(failed, None)
                self._log.error(str(message.get("code")))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release_held(self, contact_id: str, reservation_id: str) -> None:
        if contact_id in self._releasing:  # accepted here, and listed again at a reconnect
            return
        self._releasing.add(contact_id)
        if self._hold_seconds:
            await asyncio.sleep(self._hold_seconds)
        if self._release == "complete" and reservation_id:
            # Freed before the answer: routing may offer the slot again before its reply arrives.
            self.held.pop(contact_id, None)
            refusal = await self._complete(reservation_id, contact_id)
            if refusal is None:
                self._log.released_contacts.add(contact_id)
            else:
                self._log.release_refused[contact_id] = refusal
        elif self._release in ("wrap_up", "complete"):
            self.held.pop(contact_id, None)
            try:
                await self._send(type="wrap_up", id=self._id(), contactId=contact_id, disposition="resolved")
            except Exception:  # a closed socket: the workspace lists the contact again at the reconnect
                self._releasing.discard(contact_id)
                return
            self._log.released_contacts.add(contact_id)

    async def _complete(self, reservation_id: str, contact_id: str) -> str | None:
        """Routing's `AnswerOffer(COMPLETE)`; tried again while routing or NATS is away (a
        restart), never after routing answered with a refusal. None, or the last failure."""
        deadline = time.monotonic() + self.COMPLETE_RETRY_SECONDS
        while True:
            try:
                await self._routing.AnswerOffer(
                    routing_pb2.AnswerOfferRequest(
                        tenant_id=self.tenant,
                        agent_id=self.agent_id,
                        reservation_id=reservation_id,
                        answer=routing_pb2.OFFER_ANSWER_COMPLETE,
                        # Named, so a retry of a complete that was applied succeeds.
                        contact_id=contact_id,
                    ),
                    timeout=5.0,
                )
                self._log.released += 1
                return None
            except RpcError as error:  # counted and reported; the bench goes on
                self._log.error(f"complete:{error.code.name}")
                if error.code not in _TRANSIENT or time.monotonic() > deadline:
                    return str(error)
            except Exception as error:  # the connection itself (NATS restarting)
                self._log.error(f"complete:{type(error).__name__}")
                if time.monotonic() > deadline:
                    return f"{type(error).__name__}: {error}"
            await asyncio.sleep(0.5)


async def connect_workspace(
    session: aiohttp.ClientSession, ws_url: str, authority: TokenAuthority, tenant: str, agent_id: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    """An agent's socket, authenticated and available; with the `ready` push."""
    ws = await session.ws_connect(ws_url, heartbeat=None, max_msg_size=0)
    try:
        await ws.send_str(
            orjson.dumps({"type": "auth", "token": authority.mint(tenant, "agent", agent_id)}).decode()
        )
        ready = await _expect(ws, "ready")
        await ws.send_str(
            orjson.dumps({"type": "set_state", "id": "available", "state": "available"}).decode()
        )
        await _expect(ws, "state")
    except BaseException:
        await ws.close()
        raise
    return ws, ready


async def log_in(
    session: aiohttp.ClientSession,
    ws_url: str,
    authority: TokenAuthority,
    tenant: str,
    agent_id: str,
    log: OfferLog,
    release: str,
    routing: routing_pb2_grpc.RoutingServiceStub,
    capacity: int = 0,
    hold_seconds: float = 0.0,
) -> WorkspaceAgent:
    ws, _ = await connect_workspace(session, ws_url, authority, tenant, agent_id)
    return WorkspaceAgent(agent_id, tenant, ws, log, release, routing, capacity, hold_seconds)


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
    """Every bench agent's socket, read concurrently. With `relogin` (ws URL and token authority),
    an agent whose socket closes logs in again, retrying until the floor is closed."""

    #: Between log-in attempts while the gateway is away.
    RELOGIN_PAUSE_SECONDS = 0.5

    def __init__(
        self,
        agents: list[WorkspaceAgent],
        session: aiohttp.ClientSession,
        relogin: tuple[str, TokenAuthority] | None = None,
    ) -> None:
        self.agents = agents
        self._session = session
        self._relogin = relogin
        self._closing = False
        self._readers = [asyncio.create_task(self._serve(agent)) for agent in agents]

    async def _serve(self, agent: WorkspaceAgent) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await agent.run()
            if self._relogin is None or self._closing:
                return
            ws_url, authority = self._relogin
            while not self._closing:
                try:
                    ws, ready = await connect_workspace(
                        self._session, ws_url, authority, agent.tenant, agent.agent_id
                    )
                except (aiohttp.ClientError, ConnectionError, RuntimeError, TimeoutError):
                    await asyncio.sleep(self.RELOGIN_PAUSE_SECONDS)
                    continue
                agent.reconnected(ws, ready)
                break

    async def close(self) -> None:
        self._closing = True
        for agent in self.agents:
            await agent.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self._session.close()
