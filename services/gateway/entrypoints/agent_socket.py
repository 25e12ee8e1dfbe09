"""`GET /v1/agent/ws`: the agent workspace and supervisor feed (protocol: docs/websocket-api.md).

Authenticates (bearer header, or an `auth` message within 5 s), keeps the agent's presence
heartbeat going while the socket is open, pushes the agent's offers and the events of the
contacts it holds, and turns each client message into one workspace use case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ccmesh import naming
from ccmesh.auth import AuthError, Caller, TokenAuthority, bearer_token
from ccmesh.status import RpcError
from contactcenter.events.v1 import events_pb2
from gateway.adapters.contact_events import follow, follow_contact, typing_subject
from gateway.adapters.workspace_store import HeldContact
from gateway.domain.socket_protocol import (
    CLOSE_FLOODING,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    ClientMessage,
    SocketError,
    bad_request,
)
from gateway.domain.socket_views import agent_view
from gateway.domain.workspace_state import (
    SETTABLE_STATES,
    SUPERVISOR_ROLES,
    WORKSPACE_ROLES,
    Offer,
    OfferBook,
)
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.socket_session import SocketLimits, SocketSession, TenantConnections
from gateway.entrypoints.webchat_socket import socket_error_of
from gateway.service_layer.queue_board import QueueStatsClient, queue_board
from gateway.service_layer.workspace import Workspace

log = logging.getLogger(__name__)

AUTH_SECONDS = 5.0
MAX_NOTES_CHARS = 2000
#: Offer-related events of the tenant; the socket keeps those naming its agent.
_OFFER_EVENTS = ("contact_offered", "offer_declined", "offer_timed_out", "contact_requeued")
_WITHDRAWN = {"offer_declined": "declined", "offer_timed_out": "timed_out", "contact_requeued": "requeued"}


@dataclass(frozen=True)
class WorkspaceSettings:
    region: str
    limits: SocketLimits
    #: Presence heartbeat to routing while the socket is open (below routing's timeout).
    heartbeat_seconds: float = 5.0
    #: Routing's offer timeout (CC_ACD_OFFER_TIMEOUT_SECONDS there), for the offer's countdown.
    offer_timeout_seconds: float = 20.0


def agent_routes(
    workspace: Workspace,
    board: QueueStatsClient,
    authority: TokenAuthority,
    nc: Client,
    settings: WorkspaceSettings,
) -> RouteAdder:
    connections = TenantConnections(settings.limits.per_tenant)

    async def agent_socket(request: web.Request) -> web.StreamResponse:
        ws = SocketSession.response(settings.limits)
        await ws.prepare(request)
        session = SocketSession(ws, settings.limits)
        desk = _Desk(workspace, board, authority, nc, settings, session)
        header_token = bearer_token(request.headers.items())
        try:
            caller = await desk.authenticate(header_token)
            if caller is None:
                return ws
            if not connections.take(caller.tenant_id):
                await session.close(CLOSE_FLOODING, "too many open workspaces for this tenant")
                return ws
            try:
                await desk.run()
            finally:
                connections.give_back(caller.tenant_id)
        finally:
            await desk.leave()
        return ws

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/agent/ws", agent_socket)

    return add


class _Desk:
    """One logged-in agent (or supervisor) socket."""

    def __init__(
        self,
        workspace: Workspace,
        board: QueueStatsClient,
        authority: TokenAuthority,
        nc: Client,
        settings: WorkspaceSettings,
        session: SocketSession,
    ) -> None:
        self._workspace = workspace
        self._board = board
        self._authority = authority
        self._nc = nc
        self._settings = settings
        self._session = session
        self._caller: Caller | None = None
        self._offers = OfferBook()
        self._followed: dict[str, list[Subscription]] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._board_task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def authenticate(self, header_token: str | None) -> Caller | None:
        token = header_token
        if token is None:
            messages = self._session.messages(first_message_seconds=AUTH_SECONDS)
            first = await anext(messages, None)
            await messages.aclose()
            if first is None:
                return None  # closed already (timeout 4408, garbage 4400, or the client left)
            if first.type != "auth" or not isinstance(first.body.get("token"), str):
                await self._session.close(
                    CLOSE_UNAUTHENTICATED, "the first message must be auth with a token"
                )
                return None
            token = str(first.body["token"])
        try:
            caller = self._authority.verify(token)
        except AuthError as error:
            await self._session.close(CLOSE_UNAUTHENTICATED, str(error))
            return None
        if caller.role not in WORKSPACE_ROLES:
            await self._session.close(CLOSE_FORBIDDEN, f"role {caller.role!r} may not use the workspace")
            return None
        self._caller = caller
        return caller

    async def run(self) -> None:
        caller = self._require()
        try:
            login = await self._workspace.login(caller)
        except SocketError as error:
            await self._session.close(CLOSE_FORBIDDEN, error.message)
            return
        if login.takes_contacts:
            await self._follow_offers(caller)
            self._spawn(self._heartbeats(caller))
            for held in login.contacts:
                await self._follow_contact(held.contact_id)
        await self._session.send(
            {
                "type": "ready",
                "tenant": caller.tenant_id,
                "agentId": caller.subject,
                "role": caller.role,
                "displayName": login.display_name,
                "state": login.state,
                "contacts": [held.contact_id for held in login.contacts],
            }
        )
        # A reconnected workspace gets its conversations back, as after accepting them.
        for held in login.contacts:
            await self._push_conversation(caller, held)
        async for message in self._session.messages(first_message_seconds=self._settings.limits.idle_seconds):
            try:
                await self._handle(caller, message)
            except SocketError as error:
                await self._session.error(error, message.id)
            except RpcError as error:
                await self._session.error(socket_error_of(error), message.id)
            except Exception:
                log.exception("workspace message %s failed", message.type)
                await self._session.error(SocketError("internal", "unexpected failure; retry"), message.id)

    async def leave(self) -> None:
        """Stop everything this socket started; presence stops with it (routing times it out)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        subscriptions = self._subscriptions + [s for subs in self._followed.values() for s in subs]
        self._subscriptions, self._followed = [], {}
        for subscription in subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def _require(self) -> Caller:
        assert self._caller is not None
        return self._caller

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # Background pushes (offers, suggestions, the queue feed) must not fail silently.
        if not task.cancelled() and task.exception() is not None:
            log.error("workspace background task failed", exc_info=task.exception())

    async def _heartbeats(self, caller: Caller) -> None:
        while True:
            await asyncio.sleep(self._settings.heartbeat_seconds)
            try:
                await self._workspace.heartbeat(caller)
            except RpcError as error:
                log.warning("heartbeat of agent %s failed: %s", caller.subject, error.code.name)

    # -- pushes ----------------------------------------------------------------------------------

    async def _follow_offers(self, caller: Caller) -> None:
        async def on_event(event: events_pb2.Event) -> None:
            kind = event.WhichOneof("payload")
            if kind == "contact_offered" and event.contact_offered.agent_id == caller.subject:
                offered = event.contact_offered
                at = event.occurred_at.seconds + event.occurred_at.nanos / 1e9
                offer = Offer(offered.reservation_id, event.contact_id, offered.queue, at or time.time())
                self._offers.offered(offer)
                self._spawn(self._push_offer(caller, offer))
            elif kind in _WITHDRAWN:
                payload: Any = getattr(event, kind)
                if payload.agent_id == caller.subject and self._offers.answered(payload.reservation_id):
                    await self._session.send(
                        {
                            "type": "offer_withdrawn",
                            "reservationId": payload.reservation_id,
                            "contactId": event.contact_id,
                            "reason": _WITHDRAWN[kind],
                        }
                    )

        region = self._settings.region
        for kind in _OFFER_EVENTS:
            subject = naming.event_subject(region, caller.tenant_id, kind, "*")
            self._subscriptions.append(await follow(self._nc, subject, on_event))

    async def _push_offer(self, caller: Caller, offer: Offer) -> None:
        view = await self._workspace.offer_view(caller, offer)
        # Routing's offer timeout is its own setting; the gateway is told the same value.
        expires = offer.offered_at + self._settings.offer_timeout_seconds
        await self._session.send({**view, "at": offer.offered_at, "expiresAt": expires})

    async def _follow_contact(self, contact_id: str) -> None:
        caller = self._require()
        if contact_id in self._followed:
            return

        async def on_event(event: events_pb2.Event) -> None:
            view = agent_view(event)
            if view is not None:
                await self._session.send(view)
            if event.WhichOneof("payload") == "message_received":
                self._spawn(self._push_suggestions(caller, contact_id, event.message_received.text))

        async def on_typing(msg: Msg) -> None:
            with contextlib.suppress(orjson.JSONDecodeError):
                if orjson.loads(msg.data).get("from") == "customer":
                    await self._session.send({"type": "typing", "contactId": contact_id, "from": "customer"})

        region, tenant = self._settings.region, caller.tenant_id
        self._followed[contact_id] = [
            await follow_contact(self._nc, region, tenant, contact_id, on_event),
            await self._nc.subscribe(typing_subject(region, tenant, contact_id), cb=on_typing),
        ]

    async def _unfollow_contact(self, contact_id: str) -> None:
        for subscription in self._followed.pop(contact_id, []):
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _push_suggestions(self, caller: Caller, contact_id: str, text: str) -> None:
        try:
            await self._session.send(await self._workspace.suggest(caller, contact_id, text))
        except (RpcError, SocketError) as error:
            # Suggestions are a help, not the conversation: a failure is logged, never fatal.
            log.info("no suggestions for contact %s: %s", contact_id, error)

    async def _queue_feed(self, caller: Caller, interval: float) -> None:
        while True:
            try:
                await self._session.send(
                    {"type": "queues", **await queue_board(self._board, caller.tenant_id)}
                )
            except RpcError as error:
                await self._session.error(socket_error_of(error), None)
            await asyncio.sleep(interval)

    # -- client messages -------------------------------------------------------------------------

    async def _handle(self, caller: Caller, message: ClientMessage) -> None:
        handler = self._handlers().get(message.type)
        if handler is None:
            raise bad_request(f"type: unknown message type {message.type!r}")
        await handler(caller, message)

    def _handlers(self) -> dict[str, Callable[[Caller, ClientMessage], Awaitable[None]]]:
        return {
            "auth": self._auth_again,
            "set_state": self._set_state,
            "accept": self._accept,
            "decline": self._decline,
            "send": self._send,
            "typing": self._typing,
            "suggest": self._suggest,
            "summarize": self._summarize,
            "transfer": self._transfer,
            "wrap_up": self._wrap_up,
            "subscribe_queues": self._subscribe_queues,
            "unsubscribe_queues": self._unsubscribe_queues,
            "ping": self._ping,
        }

    async def _auth_again(self, _: Caller, __: ClientMessage) -> None:
        raise bad_request("auth: already authenticated")

    async def _ping(self, _: Caller, message: ClientMessage) -> None:
        await self._session.reply(message, {"type": "pong"})

    async def _set_state(self, caller: Caller, message: ClientMessage) -> None:
        state, requeued = await self._workspace.set_state(caller, message.choice("state", SETTABLE_STATES))
        await self._session.reply(message, {"type": "state", "state": state, "requeued": requeued})

    def _offer(self, caller: Caller, message: ClientMessage) -> Offer:
        reservation_id = message.text("reservationId", max_chars=200)
        offer = self._offers.get(reservation_id)
        if offer is None:
            raise SocketError(
                "forbidden", f"reservation {reservation_id!r} is not an open offer to {caller.subject}"
            )
        return offer

    async def _accept(self, caller: Caller, message: ClientMessage) -> None:
        offer = self._offer(caller, message)
        await self._follow_contact(offer.contact_id)  # before accepting: no event slips by
        try:
            held = await self._workspace.accept(caller, offer)
        except BaseException:
            await self._unfollow_contact(offer.contact_id)
            raise
        finally:
            self._offers.answered(offer.reservation_id)
        await self._session.reply(
            message,
            {"type": "accepted", "reservationId": offer.reservation_id, "contactId": offer.contact_id},
        )
        await self._push_conversation(caller, held)

    async def _push_conversation(self, caller: Caller, held: HeldContact) -> None:
        await self._session.send(await self._workspace.conversation(caller, held))

    async def _decline(self, caller: Caller, message: ClientMessage) -> None:
        offer = self._offer(caller, message)
        try:
            await self._workspace.decline(caller, offer)
        finally:
            self._offers.answered(offer.reservation_id)
        await self._session.reply(
            message,
            {"type": "declined", "reservationId": offer.reservation_id, "contactId": offer.contact_id},
        )

    async def _send(self, caller: Caller, message: ClientMessage) -> None:
        contact_id = message.text("contactId", max_chars=200)
        message_id = await self._workspace.send(caller, contact_id, message.text("text"), message.id)
        await self._session.reply(message, {"type": "sent", "contactId": contact_id, "messageId": message_id})

    async def _typing(self, caller: Caller, message: ClientMessage) -> None:
        contact_id = message.text("contactId", max_chars=200)
        await self._workspace.held(caller, contact_id)
        subject = typing_subject(self._settings.region, caller.tenant_id, contact_id)
        await self._nc.publish(subject, b'{"from":"agent"}')

    async def _suggest(self, caller: Caller, message: ClientMessage) -> None:
        contact_id = message.text("contactId", max_chars=200)
        text = message.text("text", required=False)
        await self._session.reply(message, await self._workspace.suggest(caller, contact_id, text))

    async def _summarize(self, caller: Caller, message: ClientMessage) -> None:
        contact_id = message.text("contactId", max_chars=200)
        await self._session.reply(message, await self._workspace.summarize(caller, contact_id))

    async def _transfer(self, caller: Caller, message: ClientMessage) -> None:
        contact_id = message.text("contactId", max_chars=200)
        queue = message.text("queue", max_chars=200)
        reason = message.text("reason", max_chars=200, required=False)
        moved_to = await self._workspace.transfer(caller, contact_id, queue, reason)
        await self._unfollow_contact(contact_id)
        await self._session.reply(
            message, {"type": "transferred", "contactId": contact_id, "queue": moved_to}
        )

    async def _wrap_up(self, caller: Caller, message: ClientMessage) -> None:
        contact_id = message.text("contactId", max_chars=200)
        disposition = message.text("disposition", max_chars=64)
        notes = message.text("notes", max_chars=MAX_NOTES_CHARS, required=False)
        ticket = await self._workspace.wrap_up(caller, contact_id, disposition, notes)
        await self._unfollow_contact(contact_id)
        await self._session.reply(
            message,
            {"type": "wrapped_up", "contactId": contact_id, "disposition": disposition, "ticket": ticket},
        )

    async def _subscribe_queues(self, caller: Caller, message: ClientMessage) -> None:
        if caller.role not in SUPERVISOR_ROLES:
            raise SocketError("forbidden", "the queue feed is for supervisors")
        interval = message.number("intervalSeconds", default=2.0, low=1.0, high=10.0)
        if self._board_task is not None:
            self._board_task.cancel()
        await self._session.reply(message, {"type": "ack"})
        self._board_task = self._spawn(self._queue_feed(caller, interval))

    async def _unsubscribe_queues(self, _: Caller, message: ClientMessage) -> None:
        if self._board_task is not None:
            self._board_task.cancel()
            self._board_task = None
        await self._session.reply(message, {"type": "ack"})
