"""Routing's offer events for every workspace socket of this process, from one subscription.

Each socket wants the offer events naming its agent. Subscribing per socket made NATS deliver
every offer event of the tenant to every logged-in agent's socket, each decoding it to drop
all but one: messages grew with the number of agents. Here one subscription per (tenant,
event kind) serves the whole process; an event is decoded once and handed only to the
listeners of the agent it names. The subscriptions open with a tenant's first listener and
close with its last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from ccmesh import naming
from contactcenter.events.v1 import events_pb2
from gateway.adapters.contact_events import follow

log = logging.getLogger(__name__)

#: Offer-related events routing publishes; each names the agent the offer was for.
OFFER_EVENTS = (
    "contact_offered",
    "offer_declined",
    "offer_timed_out",
    "contact_requeued",
    "offer_withdrawn",
)

#: Called with each offer event naming the listener's agent; must not block (spawn work).
OfferListener = Callable[[events_pb2.Event], None]


def agent_named(event: events_pb2.Event) -> str:
    """The agent an offer event is about ("" for any other event)."""
    kind = event.WhichOneof("payload")
    if kind not in OFFER_EVENTS:
        return ""
    payload: Any = getattr(event, kind)
    return str(payload.agent_id)


@dataclass
class _Tenant:
    listeners: dict[str, list[OfferListener]] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)


class OfferFanout:
    def __init__(self, nc: Client, region: str) -> None:
        self._nc = nc
        self._region = region
        self._tenants: dict[str, _Tenant] = {}
        #: One lock per tenant: a second socket must not subscribe while the first one does.
        self._locks: dict[str, asyncio.Lock] = {}

    def listening(self, tenant_id: str) -> int:
        """How many listeners the tenant has (for tests and the process's own view)."""
        found = self._tenants.get(tenant_id)
        return sum(len(v) for v in found.listeners.values()) if found else 0

    async def listen(
        self, tenant_id: str, agent_id: str, listener: OfferListener
    ) -> Callable[[], Awaitable[None]]:
        """Hand `listener` the tenant's offer events naming `agent_id`; returns the call that
        stops it (the tenant's subscriptions close with its last listener)."""
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                tenant = _Tenant()
                self._tenants[tenant_id] = tenant
                try:
                    for kind in OFFER_EVENTS:
                        subject = naming.event_subject(self._region, tenant_id, kind, "*")
                        tenant.subscriptions.append(await follow(self._nc, subject, self._deliver_to(tenant)))
                    # The server knows the subscriptions once this returns: an offer published
                    # right after a socket opens reaches it.
                    await self._nc.flush()
                except Exception:
                    del self._tenants[tenant_id]
                    await _unsubscribe(tenant.subscriptions)
                    raise
            tenant.listeners.setdefault(agent_id, []).append(listener)

        async def stop() -> None:
            async with lock:
                listeners = tenant.listeners.get(agent_id, [])
                if listener in listeners:
                    listeners.remove(listener)
                if not listeners:
                    tenant.listeners.pop(agent_id, None)
                if not tenant.listeners and self._tenants.get(tenant_id) is tenant:
                    del self._tenants[tenant_id]
                    await _unsubscribe(tenant.subscriptions)

        return stop

    def _deliver_to(self, tenant: _Tenant) -> Callable[[events_pb2.Event], Awaitable[None]]:
        async def deliver(event: events_pb2.Event) -> None:
            for listener in list(tenant.listeners.get(agent_named(event), ())):
                try:
                    listener(event)
                except Exception:
                    # One socket's failure must not keep the event from the agent's others.
                    log.exception("offer listener failed")

        return deliver

    async def close(self) -> None:
        tenants, self._tenants = list(self._tenants.values()), {}
        for tenant in tenants:
            await _unsubscribe(tenant.subscriptions)


async def _unsubscribe(subscriptions: list[Subscription]) -> None:
    for subscription in subscriptions:
        try:
            await subscription.unsubscribe()
        except Exception as error:  # a closed connection: nothing left to stop
            log.debug("offer subscription already gone: %s", error)
