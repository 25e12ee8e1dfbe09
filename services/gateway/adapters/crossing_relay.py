"""The home region's side of a handed-over contact's live events: each event of the contact,
as the region's rules let it leave (`shown`: redacted, or as it is), republished on the
contact's crossing subject that the receiving region's gateway follows.

Every home gateway instance that served the contact's view relays it, all in one queue group,
so each event is republished once however many instances relay, and keeps being relayed when
one of them stops. A relay ends with the contact (`contact_closed`) or with the process. Core
NATS only: nothing is stored, in either region.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ccmesh import naming
from contactcenter.events.v1 import events_pb2
from gateway.adapters.contact_events import crossing_subject, decode_event

log = logging.getLogger(__name__)

#: Every home instance's relays share it: one republish per event.
QUEUE_GROUP = "crossing-relay"
#: The event as it may leave the region; None: it does not.
Shown = Callable[[events_pb2.Event], events_pb2.Event | None]


class CrossingRelays:
    def __init__(self, nc: Client, region: str) -> None:
        self._nc = nc
        self._region = region
        self._relays: dict[tuple[str, str], list[Subscription]] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    async def relay(self, tenant_id: str, contact_id: str, shown: Shown) -> None:
        """Relay the contact's live events from now on (once per contact and process)."""
        key = (tenant_id, contact_id)
        if key in self._relays:
            return
        target = crossing_subject(self._region, tenant_id, contact_id)

        async def republish(message: Msg) -> None:
            event = decode_event(message)
            crossing = shown(event) if event is not None else None
            if crossing is not None:
                await self._nc.publish(target, crossing.SerializeToString(), headers=message.headers)

        async def closed(_: Msg) -> None:
            # Not awaited here: unsubscribing cancels the task this callback runs in.
            task = asyncio.get_running_loop().create_task(self.stop(tenant_id, contact_id))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

        # Claimed before the first await: two views at once make one relay, not a leaked one.
        subscriptions: list[Subscription] = []
        self._relays[key] = subscriptions
        try:
            subscriptions.append(
                await self._nc.subscribe(
                    naming.event_subject(self._region, tenant_id, "*", contact_id),
                    queue=QUEUE_GROUP,
                    cb=republish,
                )
            )
            # Every instance hears the close (outside the queue group), so every relay ends.
            subscriptions.append(
                await self._nc.subscribe(
                    naming.event_subject(self._region, tenant_id, "contact_closed", contact_id), cb=closed
                )
            )
        except BaseException:
            await self.stop(tenant_id, contact_id)
            raise

    async def stop(self, tenant_id: str, contact_id: str) -> None:
        for subscription in self._relays.pop((tenant_id, contact_id), []):
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def close(self) -> None:
        for tenant_id, contact_id in list(self._relays):
            await self.stop(tenant_id, contact_id)

    def relaying(self) -> int:
        return len(self._relays)
