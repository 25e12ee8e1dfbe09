"""`GET /v1/agent/ws`: the agent workspace and supervisor feed (protocol: docs/websocket-api.md).

Authenticates (bearer header, or an `auth` message within 5 s), starts the socket's feed
(offers, held contacts' events, heartbeat: see agent_feed) and turns each client message into
one workspace use case.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from nats.aio.client import Client

from ccmesh import telemetry
from ccmesh.access import AccessControl
from ccmesh.auth import AuthError, Caller, bearer_token
from ccmesh.status import RpcError, retryable
from gateway.adapters.contact_events import typing_subject
from gateway.adapters.offer_fanout import OfferFanout
from gateway.adapters.workspace_store import HeldContact
from gateway.domain.socket_protocol import (
    CLOSE_FLOODING,
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL,
    CLOSE_UNAUTHENTICATED,
    ClientMessage,
    SocketError,
    bad_request,
)
from gateway.domain.workspace_state import (
    SETTABLE_STATES,
    SUPERVISOR_ROLES,
    WORKSPACE_ROLES,
    Offer,
)
from gateway.entrypoints.agent_feed import AgentFeed, WorkspaceSettings
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.socket_session import SocketSession, TenantConnections, track
from gateway.entrypoints.webchat_socket import socket_error_of
from gateway.service_layer.queue_board import QueueBoard
from gateway.service_layer.workspace import Workspace

log = logging.getLogger(__name__)

AUTH_SECONDS = 5.0
#: Workspace messages recorded in the audit log, as reads or changes (pings and typing are not).
_AUDITED = {
    "set_state": "change",
    "accept": "change",
    "decline": "change",
    "send": "change",
    "suggest": "read",
    "summarize": "read",
    "transfer": "change",
    "wrap_up": "change",
    "subscribe_queues": "read",
}
MAX_NOTES_CHARS = 2000


def agent_routes(
    workspace: Workspace,
    board: QueueBoard,
    access: AccessControl,
    nc: Client,
    settings: WorkspaceSettings,
) -> RouteAdder:
    connections = TenantConnections(settings.limits.per_tenant)
    # One subscription per tenant and offer event kind for all of this process's sockets.
    offers = OfferFanout(nc, settings.region)

    async def agent_socket(request: web.Request) -> web.StreamResponse:
        ws = SocketSession.response(settings.limits)
        await ws.prepare(request)
        session = SocketSession(ws, settings.limits)
        track(request, session)
        desk = _Desk(workspace, board, access, nc, offers, settings, session)
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

    async def close_offers(_app: web.Application) -> None:
        await offers.close()

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/agent/ws", agent_socket)
        app.on_cleanup.append(close_offers)

    return add


class _Desk:
    """One logged-in agent (or supervisor) socket."""

    def __init__(
        self,
        workspace: Workspace,
        board: QueueBoard,
        access: AccessControl,
        nc: Client,
        offers: OfferFanout,
        settings: WorkspaceSettings,
        session: SocketSession,
    ) -> None:
        self._workspace = workspace
        self._board = board
        self._access = access
        self._nc = nc
        self._offers = offers
        self._settings = settings
        self._session = session
        self._caller: Caller | None = None
        self._feed: AgentFeed | None = None

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
            caller = self._access.verify(token)
        except AuthError as error:
            await self._session.close(CLOSE_UNAUTHENTICATED, str(error))
            return None
        if caller.role not in WORKSPACE_ROLES:
            await self._session.close(CLOSE_FORBIDDEN, f"role {caller.role!r} may not use the workspace")
            return None
        self._caller = caller
        await self._access.record(caller, caller.tenant_id, action="workspace login", kind="read")
        return caller

    async def run(self) -> None:
        caller = self._require()
        try:
            login = await self._workspace.login(caller)
        except SocketError as error:
            await self._session.close(CLOSE_FORBIDDEN, error.message)
            return
        except RpcError as error:
            await self._session.close(CLOSE_INTERNAL, f"workspace unavailable: {error.code.name}; reconnect")
            return
        feed = self._feed = AgentFeed(
            caller, self._workspace, self._board, self._nc, self._settings, self._session, self._offers
        )
        if login.takes_contacts:
            await feed.start_presence()
            for held in login.contacts:
                await feed.follow_contact(held.contact_id, held.home_region)
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
        if self._feed is not None:
            await self._feed.close()

    def _require(self) -> Caller:
        assert self._caller is not None
        return self._caller

    def _require_feed(self) -> AgentFeed:
        assert self._feed is not None
        return self._feed

    # -- client messages -------------------------------------------------------------------------

    async def _handle(self, caller: Caller, message: ClientMessage) -> None:
        handler = self._handlers().get(message.type)
        if handler is None:
            raise bad_request(f"type: unknown message type {message.type!r}")
        contact_id = self._contact_named(message)
        if message.type in _AUDITED:
            # A socket is authenticated once: each of its reads and changes is recorded here.
            await self._access.record(
                caller,
                caller.tenant_id,
                action=f"workspace {message.type}",
                kind=_AUDITED[message.type],
                target=f"contact_id={contact_id}" if contact_id else "",
            )
        if not contact_id:
            await handler(caller, message)
            return
        # An agent's action on a contact is that contact's work: it joins the contact's trace,
        # linked to the socket's own (long) trace.
        with telemetry.contact_span(contact_id, f"workspace {message.type}"):
            await handler(caller, message)

    def _contact_named(self, message: ClientMessage) -> str:
        """The contact a client message is about ("" for none or a malformed one: the handler
        says what is wrong with it)."""
        reservation_id = message.body.get("reservationId")
        if isinstance(reservation_id, str) and self._feed is not None:
            offer = self._feed.offers.get(reservation_id)
            return offer.contact_id if offer is not None else ""
        contact_id = message.body.get("contactId")
        return contact_id if isinstance(contact_id, str) and len(contact_id) <= 200 else ""

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
        offer = self._require_feed().offers.get(reservation_id)
        if offer is None:
            raise SocketError(
                "forbidden", f"reservation {reservation_id!r} is not an open offer to {caller.subject}"
            )
        return offer

    async def _accept(self, caller: Caller, message: ClientMessage) -> None:
        offer = self._offer(caller, message)
        feed = self._require_feed()
        # Before accepting: no event slips by.
        await feed.follow_contact(offer.contact_id, offer.home_region)
        try:
            held = await self._workspace.accept(caller, offer)
        except BaseException as error:
            await feed.unfollow_contact(offer.contact_id)
            # A transient failure leaves the offer open: the agent may accept again, which
            # routing answers with the same result if the first accept was applied after all.
            if not retryable(error):
                feed.offers.answered(offer.reservation_id)
            raise
        feed.offers.answered(offer.reservation_id)
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
            self._require_feed().offers.answered(offer.reservation_id)
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
        held = await self._workspace.held(caller, contact_id)
        # A handed-over contact's customer is connected to its home region's gateway.
        subject = typing_subject(held.home_region or self._settings.region, caller.tenant_id, contact_id)
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
        await self._require_feed().unfollow_contact(contact_id)
        await self._session.reply(
            message, {"type": "transferred", "contactId": contact_id, "queue": moved_to}
        )

    async def _wrap_up(self, caller: Caller, message: ClientMessage) -> None:
        contact_id = message.text("contactId", max_chars=200)
        disposition = message.text("disposition", max_chars=64)
        notes = message.text("notes", max_chars=MAX_NOTES_CHARS, required=False)
        ticket = await self._workspace.wrap_up(caller, contact_id, disposition, notes)
        await self._require_feed().unfollow_contact(contact_id)
        await self._session.reply(
            message,
            {"type": "wrapped_up", "contactId": contact_id, "disposition": disposition, "ticket": ticket},
        )

    async def _subscribe_queues(self, caller: Caller, message: ClientMessage) -> None:
        if caller.role not in SUPERVISOR_ROLES:
            raise SocketError("forbidden", "the queue feed is for supervisors")
        interval = message.number("intervalSeconds", default=2.0, low=1.0, high=10.0)
        await self._session.reply(message, {"type": "ack"})
        self._require_feed().start_queue_feed(interval)

    async def _unsubscribe_queues(self, _: Caller, message: ClientMessage) -> None:
        self._require_feed().stop_queue_feed()
        await self._session.reply(message, {"type": "ack"})
