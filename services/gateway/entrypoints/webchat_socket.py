"""`GET /v1/webchat/{endpoint}/ws`: the chat widget's socket (protocol: docs/websocket-api.md).

Decodes the customer's messages, calls the web chat use cases, and forwards the contact's
events (replies, "an agent joined", the end) as they are published.
"""

from __future__ import annotations

import contextlib
import logging
import re
from contextlib import AbstractContextManager

import grpc
import orjson
from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.trace import Span

from ccmesh import telemetry
from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.status import RpcError
from contactcenter.events.v1 import events_pb2
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_events import follow_contact, typing_subject
from gateway.adapters.contact_store import StillProcessing
from gateway.domain.socket_protocol import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FLOODING,
    ClientMessage,
    SocketError,
    bad_request,
)
from gateway.domain.socket_views import customer_view
from gateway.entrypoints.http import RouteAdder, error_response
from gateway.entrypoints.socket_session import SocketLimits, SocketSession, TenantConnections, track
from gateway.service_layer.webchat import Visitor, WebchatService

log = logging.getLogger(__name__)

VISITOR_COOKIE = "cc_visitor"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_RPC_ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT: "bad_request",
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.PERMISSION_DENIED: "forbidden",
    grpc.StatusCode.FAILED_PRECONDITION: "conflict",
    grpc.StatusCode.ABORTED: "conflict",
}


def socket_error_of(error: RpcError) -> SocketError:
    return SocketError(_RPC_ERRORS.get(error.code, "unavailable"), error.message)


def webchat_routes(
    service: WebchatService,
    directory: ChannelDirectory,
    nc: Client,
    region: str,
    limits: SocketLimits,
) -> RouteAdder:
    connections = TenantConnections(limits.per_tenant)

    async def chat_socket(request: web.Request) -> web.StreamResponse:
        name = request.match_info["endpoint"]
        endpoint = directory.by_name(name)
        if endpoint is None or endpoint.spec.channel != Channel.WEBCHAT:
            return error_response(grpc.StatusCode.NOT_FOUND, f"no web chat endpoint {name!r}")
        allowed = endpoint.spec.webchat.allowed_origins if endpoint.spec.webchat else []
        origin = request.headers.get("Origin", "")
        if allowed and origin not in allowed:
            return error_response(
                grpc.StatusCode.PERMISSION_DENIED, f"origin {origin or '(none)'!r} may not open this chat"
            )
        ws = SocketSession.response(limits)
        if not ws.can_prepare(request).ok:
            return error_response(grpc.StatusCode.INVALID_ARGUMENT, "expected a WebSocket upgrade")
        visitor = service.visitor(request.cookies.get(VISITOR_COOKIE))
        if visitor.new:
            ws.set_cookie(VISITOR_COOKIE, visitor.token, httponly=True, samesite="Lax", path="/")
        await ws.prepare(request)
        session = SocketSession(ws, limits)
        track(request, session)
        tenant = endpoint.spec.tenant
        if not connections.take(tenant):
            await session.close(CLOSE_FLOODING, "too many open chats for this tenant")
            return ws
        chat = _Chat(service, endpoint, session, nc, region, visitor)
        try:
            await chat.run()
        finally:
            connections.give_back(tenant)
            await chat.leave()
        return ws

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/webchat/{endpoint}/ws", chat_socket)

    return add


class _Chat:
    """One customer's socket: hello first, then messages, with the contact's events pushed."""

    def __init__(
        self,
        service: WebchatService,
        endpoint: ChannelEndpoint,
        session: SocketSession,
        nc: Client,
        region: str,
        visitor: Visitor,
    ) -> None:
        self._service = service
        self._endpoint = endpoint
        self._session = session
        self._nc = nc
        self._region = region
        self._visitor = visitor
        self._contact_id: str | None = None
        self._subscriptions: list[Subscription] = []
        self._greeted = False

    async def run(self) -> None:
        async for message in self._session.messages():
            if not self._greeted and message.type != "hello":
                await self._session.close(CLOSE_BAD_MESSAGE, "the first message must be hello")
                return
            try:
                await self._handle(message)
            except SocketError as error:
                await self._session.error(error, message.id)
            except RpcError as error:
                await self._session.error(socket_error_of(error), message.id)
            except StillProcessing as error:
                await self._session.error(SocketError("conflict", f"{error}; retry"), message.id)
            except Exception:
                log.exception("web chat message %s failed", message.type)
                await self._session.error(SocketError("internal", "unexpected failure; retry"), message.id)

    async def _handle(self, message: ClientMessage) -> None:
        kind = message.type
        if kind == "hello":
            await self._hello(message)
        elif kind == "message":
            with self._contact_work("webchat message"):
                await self._message(message)
        elif kind == "typing":
            if self._contact_id is not None:
                subject = typing_subject(self._region, self._endpoint.spec.tenant, self._contact_id)
                await self._nc.publish(subject, b'{"from":"customer"}')
        elif kind == "callback_request":
            await self._callback(message)
        elif kind == "ping":
            await self._session.reply(message, {"type": "pong"})
        else:
            raise bad_request(f"type: unknown message type {kind!r}")

    def _contact_work(self, name: str) -> AbstractContextManager[Span]:
        """The customer's work on their contact is in the contact's trace. A message that starts a
        contact starts its trace: the socket's own trace is long and may see several contacts
        (each contact's trace links to the socket's)."""
        contact_id = self._contact_id or ""
        if contact_id and telemetry.contact_traces.span_context_of(contact_id) is not None:
            return telemetry.contact_span(contact_id, name)
        return telemetry.new_trace_span(name)

    async def _hello(self, message: ClientMessage) -> None:
        if self._greeted:
            raise bad_request("hello: already greeted")
        token = message.text("visitor", max_chars=200, required=False)
        message.text("name", max_chars=100, required=False)
        if token:
            offered = self._service.visitor(token)
            if not offered.new:
                self._visitor = offered
        contact_id = await self._service.open_contact(self._endpoint, self._visitor)
        self._greeted = True
        await self._session.reply(
            message,
            {
                "type": "welcome",
                "visitor": self._visitor.token,
                "visitorId": self._visitor.visitor_id,
                "endpoint": self._endpoint.metadata.name,
                "title": self._endpoint.spec.webchat.title if self._endpoint.spec.webchat else "",
                "contactId": contact_id,
            },
        )
        if contact_id is not None:
            # Follow first, then read: a reply published in between shows up (twice at worst,
            # with the same messageId), never not at all.
            await self._watch(contact_id)
            history = await self._service.history(self._endpoint, contact_id)
            await self._session.send({"type": "history", "contactId": contact_id, "messages": history})

    async def _message(self, message: ClientMessage) -> None:
        if message.id is None or not message.id.strip():
            raise bad_request("id: required on a message (it makes re-sends safe)")
        text = message.text("text")
        accepted, duplicate = await self._service.post(self._endpoint, self._visitor, message.id, text)
        if accepted.contact_id != self._contact_id:
            await self._watch(accepted.contact_id, replay=True)
        await self._session.reply(
            message,
            {
                "type": "ack",
                "contactId": accepted.contact_id,
                "messageId": accepted.message_id,
                "duplicate": duplicate,
            },
        )

    async def _callback(self, message: ClientMessage) -> None:
        phone = message.text("phone", max_chars=20).replace(" ", "")
        if not _E164.match(phone):
            raise bad_request("phone: an E.164 number, e.g. +442071838750")
        status = await self._service.request_callback(
            self._endpoint, self._visitor, self._contact_id, phone, message.id or phone
        )
        await self._session.reply(message, {"type": "ack", "contactId": self._contact_id, "callback": status})

    async def _watch(self, contact_id: str, *, replay: bool = False) -> None:
        """Follow this contact's events (and agent typing) instead of the previous contact's;
        `replay`: also push what it already said to the customer (a contact this message opened)."""
        await self.leave()
        self._contact_id = contact_id
        tenant = self._endpoint.spec.tenant

        shown: set[str] = set()

        async def on_event(event: events_pb2.Event) -> None:
            view = customer_view(event)
            if view is not None and view.get("messageId", event.event_id) not in shown:
                shown.add(view.get("messageId", event.event_id))
                await self._session.send(view)

        async def on_typing(msg: Msg) -> None:
            with contextlib.suppress(orjson.JSONDecodeError):
                if orjson.loads(msg.data).get("from") == "agent":
                    await self._session.send({"type": "typing", "contactId": contact_id, "from": "agent"})

        self._subscriptions = [
            await follow_contact(self._nc, self._region, tenant, contact_id, on_event),
            await self._nc.subscribe(typing_subject(self._region, tenant, contact_id), cb=on_typing),
        ]
        # What the contact said to the customer before this socket followed it: the replies of
        # the step the first message ran (a journey's welcome and first question).
        for view in await self._service.history(self._endpoint, contact_id) if replay else []:
            if view.get("from") != "customer" and view["messageId"] not in shown:
                shown.add(view["messageId"])
                await self._session.send({"type": "message", **view})

    async def leave(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
