"""What one workspace socket is pushed: its agent's offers, the events of the contacts it holds,
suggested replies, the queue board; and the presence heartbeat it keeps going meanwhile.

Everything here runs on NATS callbacks and background tasks owned by the socket; `close()`
stops all of it, so a dropped socket leaves nothing behind (and its heartbeat stops, which is
how routing learns the agent is gone).
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
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ccmesh import telemetry
from ccmesh.auth import Caller
from ccmesh.status import RpcError
from contactcenter.events.v1 import events_pb2
from gateway.adapters.contact_events import follow_contact, follow_handed_over, typing_subject
from gateway.adapters.offer_fanout import OfferFanout
from gateway.domain.socket_protocol import SocketError
from gateway.domain.socket_views import agent_view
from gateway.domain.workspace_state import Offer, OfferBook
from gateway.entrypoints.socket_session import SocketLimits, SocketSession
from gateway.entrypoints.webchat_socket import socket_error_of
from gateway.service_layer.queue_board import QueueBoard
from gateway.service_layer.workspace import Workspace

log = logging.getLogger(__name__)

#: Routing's event -> the `offer_withdrawn` reason; `closed`: the customer left while it rang.
_WITHDRAWN = {
    "offer_declined": "declined",
    "offer_timed_out": "timed_out",
    "contact_requeued": "requeued",
    "offer_withdrawn": "closed",
}


@dataclass(frozen=True)
class WorkspaceSettings:
    region: str
    limits: SocketLimits
    #: Presence heartbeat to routing while the socket is open (below routing's timeout).
    heartbeat_seconds: float = 5.0
    #: Routing's offer timeout (CC_ACD_OFFER_TIMEOUT_SECONDS there), for the offer's countdown.
    offer_timeout_seconds: float = 20.0


class AgentFeed:
    def __init__(
        self,
        caller: Caller,
        workspace: Workspace,
        board: QueueBoard,
        nc: Client,
        settings: WorkspaceSettings,
        session: SocketSession,
        offer_events: OfferFanout,
    ) -> None:
        self._caller = caller
        self._offer_events = offer_events
        self._stop_offers: Callable[[], Awaitable[None]] | None = None
        self._workspace = workspace
        self._board = board
        self._nc = nc
        self._settings = settings
        self._session = session
        #: The offers this socket was shown and has not answered.
        self.offers = OfferBook()
        self._followed: dict[str, list[Subscription]] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._board_task: asyncio.Task[None] | None = None

    async def start_presence(self) -> None:
        """Offers of this agent, and the heartbeat that keeps it routable."""
        await self._follow_offers()
        self._spawn(self._heartbeats())

    async def close(self) -> None:
        # Offers first, so no new push is spawned while the running ones are cancelled.
        stop_offers, self._stop_offers = self._stop_offers, None
        if stop_offers is not None:
            with contextlib.suppress(Exception):
                await stop_offers()
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

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._settings.heartbeat_seconds)
            try:
                await self._workspace.heartbeat(self._caller)
            except RpcError as error:
                log.warning("heartbeat of agent %s failed: %s", self._caller.subject, error.code.name)

    # -- offers --------------------------------------------------------------------------------

    async def _follow_offers(self) -> None:
        caller = self._caller

        # The fan-out hands over only events naming this agent (`offer_fanout.agent_named`).
        async def on_event(event: events_pb2.Event) -> None:
            kind = event.WhichOneof("payload")
            if kind == "contact_offered":
                offered = event.contact_offered
                at = event.occurred_at.seconds + event.occurred_at.nanos / 1e9
                offer = Offer(
                    offered.reservation_id,
                    event.contact_id,
                    offered.queue,
                    at or time.time(),
                    home_region=offered.home_region,
                    callback=offered.callback,
                )
                if self.offers.offered(offer):  # not an offer told again
                    self._spawn(self._push_offer(offer))
            elif kind in _WITHDRAWN:
                payload: Any = getattr(event, kind)
                if self.offers.answered(payload.reservation_id):
                    await self._session.send(
                        {
                            "type": "offer_withdrawn",
                            "reservationId": payload.reservation_id,
                            "contactId": event.contact_id,
                            "reason": _WITHDRAWN[kind],
                        }
                    )

        def listener(event: events_pb2.Event) -> None:
            self._spawn(on_event(event))

        self._stop_offers = await self._offer_events.listen(caller.tenant_id, caller.subject, listener)

    async def _push_offer(self, offer: Offer) -> None:
        with telemetry.contact_span(offer.contact_id, "workspace offer"):
            view = await self._workspace.offer_view(self._caller, offer)
            # Routing's offer timeout is its own setting; the gateway is told the same value.
            expires = offer.offered_at + self._settings.offer_timeout_seconds
            await self._session.send({**view, "at": offer.offered_at, "expiresAt": expires})

    # -- held contacts -------------------------------------------------------------------------

    async def follow_contact(self, contact_id: str, home_region: str = "") -> None:
        """Push the contact's events as they happen; a contact handed over from another region
        is followed where its conversation goes on (its home region), nothing is stored here."""
        caller = self._caller
        if contact_id in self._followed:
            return

        async def on_event(event: events_pb2.Event) -> None:
            view = agent_view(event)
            if view is not None:
                await self._session.send(view)
            if event.WhichOneof("payload") == "message_received":
                self._spawn(self._push_suggestions(contact_id, event.message_received.text))

        async def on_typing(msg: Msg) -> None:
            with contextlib.suppress(orjson.JSONDecodeError):
                if orjson.loads(msg.data).get("from") == "customer":
                    await self._session.send({"type": "typing", "contactId": contact_id, "from": "customer"})

        region, tenant = home_region or self._settings.region, caller.tenant_id
        # Homed elsewhere: its events come as its home region lets them leave (maybe redacted).
        homed_elsewhere = bool(home_region) and home_region != self._settings.region
        follow_events = follow_handed_over if homed_elsewhere else follow_contact
        self._followed[contact_id] = [
            await follow_events(self._nc, region, tenant, contact_id, on_event),
            await self._nc.subscribe(typing_subject(region, tenant, contact_id), cb=on_typing),
        ]

    async def unfollow_contact(self, contact_id: str) -> None:
        for subscription in self._followed.pop(contact_id, []):
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _push_suggestions(self, contact_id: str, text: str) -> None:
        try:
            await self._session.send(await self._workspace.suggest(self._caller, contact_id, text))
        except (RpcError, SocketError) as error:
            # Suggestions are a help, not the conversation: a failure is logged, never fatal.
            log.info("no suggestions for contact %s: %s", contact_id, error)

    # -- the supervisor's board ----------------------------------------------------------------

    def start_queue_feed(self, interval: float) -> None:
        self.stop_queue_feed()
        self._board_task = self._spawn(self._queue_feed(interval))

    def stop_queue_feed(self) -> None:
        if self._board_task is not None:
            self._board_task.cancel()
            self._board_task = None

    async def _queue_feed(self, interval: float) -> None:
        while True:
            try:
                board = await self._board.board(
                    self._caller.tenant_id, self._caller.brands, self._caller.queues
                )
                await self._session.send({"type": "queues", **board})
            except RpcError as error:
                await self._session.error(socket_error_of(error), None)
            await asyncio.sleep(interval)
