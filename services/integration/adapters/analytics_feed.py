"""The analytics store's durable consumer on the region's event stream.

One consumer over the event types the store folds, read strictly in stream order in batches (an
`EventFeed`): a batch is acknowledged only after `ingest` committed it. When a commit fails, the
consumer is re-created at its ack floor after a pause, so the failed batch comes again before
anything after it: a contact's close is never folded before the events that came ahead of it.
A restart resumes at the ack floor the same way; the store recognises by event id what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.waiting import event_or_timeout
from contactcenter.events.v1 import events_pb2
from integration.adapters.analytics_agent_store import AGENT_STATE_TYPES, agent_state_event
from integration.adapters.analytics_codec import EPISODE_TYPES, FOLDED_TYPES, contact_event, surge_episode
from integration.adapters.analytics_journey_store import JOURNEY_TYPES, journey_path_row
from integration.adapters.analytics_reanalysis_files import REANALYSIS_TYPES, contact_reanalysis
from integration.adapters.event_feed import EventFeed
from integration.domain.analytics_agent_states import AgentStateEvent
from integration.domain.analytics_episodes import SurgeEpisode
from integration.domain.analytics_facts import ContactEvent
from integration.domain.analytics_journey_paths import JourneyPathRow
from integration.domain.analytics_reanalysis import ContactReanalysis

log = logging.getLogger(__name__)

DURABLE = "analytics"
#: Pauses before reading again after a failed commit; the last repeats.
RETRY_SECONDS = (0.5, 2.0, 10.0)
#: How long the read at the end of a gathering window waits when nothing more is there.
PULL_REST_SECONDS = 0.05

Item = ContactEvent | SurgeEpisode | ContactReanalysis | AgentStateEvent | JourneyPathRow
Ingest = Callable[[Sequence[Item]], Awaitable[int]]


def filter_subjects(region: str) -> list[str]:
    return [
        f"{naming.EVENT_PREFIX}.{region}.*.{kind}.*"
        for kind in (*FOLDED_TYPES, *EPISODE_TYPES, *REANALYSIS_TYPES, *AGENT_STATE_TYPES, *JOURNEY_TYPES)
    ]


class AnalyticsFeed:
    def __init__(
        self,
        js: JetStreamContext,
        region: str,
        ingest: Ingest,
        *,
        durable: str = DURABLE,
        batch: int = 512,
        gather_seconds: float = 1.0,
    ) -> None:
        self._ingest = ingest
        self._batch = batch
        self._gather = gather_seconds
        self._feed = EventFeed(
            js,
            region,
            durable,
            filter_subjects(region),
            start_time=None,
            batch=batch,
            max_ack_pending=batch * 2,
            ack_all=True,
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.undecodable = 0

    async def start(self) -> None:
        await self._feed.open()
        self._task = asyncio.create_task(self._run(), name=f"analytics-{self._feed.durable}")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Finish the batch in hand (its commit and acks), then stop."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=grace_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self._feed.close()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                messages = await self._gathered()
                if not messages:
                    continue
                events = []
                for message in messages:
                    try:
                        events.append(events_pb2.Event.FromString(message.data))
                    except DecodeError:
                        # Never decodable, never foldable: counted and passed, not retried forever.
                        self.undecodable += 1
                        log.error("analytics: undecodable event on %s skipped", message.subject)
                folded = [e for e in map(_analytics_item, events) if e is not None]
                await self._ingest(folded)
                await messages[-1].ack()  # acknowledges the whole batch (ack policy "all")
                failures = 0
            except Exception:
                if self._stopping.is_set():
                    return
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("analytics: batch not stored; reading again in %.1fs", pause, exc_info=True)
                await asyncio.sleep(pause)
                with contextlib.suppress(Exception):
                    await self._feed.close()
                    await self._feed.open()  # back at the ack floor: the failed batch comes first

    async def _gathered(self) -> list[Msg]:
        """A batch: what arrives within `gather_seconds` of its first event, at most `batch`.
        Each batch is one commit (Parquet parts, fsyncs, the manifest), so at a steady trickle
        a commit per event cost more than everything else the service does. The feed's standing
        pulls bring the window's events as they arrive, without a request per event."""
        messages = await self._feed.fetch(self._batch)
        if not messages or len(messages) >= self._batch:
            return messages
        await event_or_timeout(self._stopping, self._gather)
        while len(messages) < self._batch and not self._stopping.is_set():
            wanted = self._batch - len(messages)
            more = await self._feed.fetch(wanted, timeout=PULL_REST_SECONDS)
            messages += more
            if len(more) < wanted:
                break
        return messages


def _analytics_item(event: events_pb2.Event) -> Item | None:
    return (
        contact_event(event)
        or surge_episode(event)
        or contact_reanalysis(event)
        or agent_state_event(event)
        or journey_path_row(event)
    )
