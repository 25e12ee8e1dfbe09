"""The ACD of one routing instance: its use cases composed over one shared context, and the loop.

Each use case is its own module and shares the context (store, view, settings, event sink,
clock) with the others:

    acd_enqueue    configure queues, enqueue contacts (hours and closed actions)
    acd_presence   agent profiles, states, heartbeats
    acd_offers     reserve an agent (no over-booking across instances), accept, decline, complete
    acd_routing    the routing pass: overflow rules, then offers by the queue's strategy
    acd_transfers  an agent moves its contact to another queue
    acd_closing    a contact closed elsewhere leaves the ACD
    acd_sweeping   timed-out offers, lapsed heartbeats, unfinished hand-overs, orphaned slots
    acd_stats      queue statistics and decision explanations

`AcdService` wires them and runs the loop; callers (the RPC layer, the event consumers) use
its methods, which are the use cases' own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ccmesh.waiting import event_or_timeout
from routing.domain.contacts import ContactRecord
from routing.service_layer.acd_closing import close_contact
from routing.service_layer.acd_context import AcdContext, AcdSettings
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_handover import HandOver, RemoteQueues
from routing.service_layer.acd_offers import Offers, decision_record
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_routing import OverflowRules, RoutingPass, no_rules
from routing.service_layer.acd_stats import QueueReport, Stats, service_samples
from routing.service_layer.acd_sweeping import Sweeper
from routing.service_layer.acd_transfers import Transfer, Transfers
from routing.service_layer.ports import (
    NO_DIRECTORY,
    AcdRecords,
    AcdView,
    EventSink,
    RegionDirectory,
    no_events,
)

__all__ = [
    "AcdService",
    "AcdSettings",
    "OverflowRules",
    "QueueReport",
    "Transfer",
    "decision_record",
    "service_samples",
]

log = logging.getLogger(__name__)


class AcdService:
    def __init__(
        self,
        store: AcdRecords,
        mirror: AcdView,
        settings: AcdSettings | None = None,
        events: EventSink = no_events,
        clock: Callable[[], float] = time.time,
        overflow_rules: OverflowRules = no_rules,
        remote: RemoteQueues | None = None,
        directory: RegionDirectory = NO_DIRECTORY,
    ) -> None:
        self.settings = settings or AcdSettings()
        self.context = context = AcdContext(store, mirror, self.settings, events, clock, directory)
        self.store = store
        self.mirror = mirror
        #: Hands contacts to other regions' queues; None: rules to other regions do not act.
        self.hand_over = (
            None
            if remote is None
            else HandOver(
                store,
                remote,
                events,
                deadline_seconds=self.settings.handover_timeout_seconds,
                retry_seconds=self.settings.handover_retry_seconds,
            )
        )
        self.offers = Offers(context)
        self.enqueueing = Enqueueing(context)
        self.presence = Presence(context, self.offers)
        self.routing = RoutingPass(context, self.offers, overflow_rules, self.hand_over)
        self.transfers = Transfers(context)
        self.sweeper = Sweeper(context, self.offers, self.presence, self.hand_over)
        self.stats = Stats(context)

        self.now = context.now
        self.configure_queue = self.enqueueing.configure_queue
        self.enqueue = self.enqueueing.enqueue
        self.upsert_agent = self.presence.upsert_agent
        self.set_agent_state = self.presence.set_agent_state
        self.heartbeat = self.presence.heartbeat
        self.held_offers = self.presence.held_offers
        self.accept = self.offers.accept
        self.decline = self.offers.decline
        self.complete = self.offers.complete
        self.transfer = self.transfers.transfer
        self.route_pass = self.routing.run
        self.sweep = self.sweeper.sweep
        self.queue_stats = self.stats.queue_stats
        self.explain = self.stats.explain
        self._loop: asyncio.Task[None] | None = None

    async def close_contact(self, tenant: str, contact_id: str) -> ContactRecord:
        """The contact closed outside the ACD (see `acd_closing`); its record afterwards."""
        return await close_contact(self.store, self.context.events, tenant, contact_id, self.now())

    async def start(self) -> None:
        await self.mirror.start()
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            try:
                await self._loop
            except asyncio.CancelledError:
                pass
            except Exception:  # already logged by the loop; stopping must not fail on it
                log.exception("routing loop had failed")
        await self.mirror.stop()

    async def _run(self) -> None:
        next_sweep = 0.0
        while True:
            await event_or_timeout(self.mirror.changed, self.settings.tick_seconds)
            self.mirror.changed.clear()
            try:
                await self.route_pass()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.settings.tick_seconds
                    await self.sweep()
            except Exception:
                # The loop must outlive any one bad pass (a lost connection, a corrupt record):
                # state is in the bucket, so the next pass simply starts over.
                log.exception("routing pass failed, retrying")
                await asyncio.sleep(self.settings.tick_seconds)
