"""One subscription's durable JetStream consumer on the region's event stream.

Ordering per contact across crashes: a restarted worker must not see a later event of a
contact before an unacknowledged earlier one. JetStream would hand out new messages at once
and redeliver the unacknowledged ones only after `ack_wait`, so `open()` re-creates the
consumer at its ack floor: everything not yet acknowledged comes again, in stream order
(what was acknowledged above the floor comes again too, with the same webhook-id).

Between opens, messages come through standing pulls (`ccmesh.pull_feed.PullFeed`), not a fetch
per batch: an idle subscription costs a pull every ten seconds and the server's heartbeat, not
two requests and a status reply twice a second. The consumer's `max_ack_pending` bounds what is
delivered and not yet acknowledged, so what waits in hand never exceeds what the reader has room
for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.consumer_metrics import consumer_metrics
from ccmesh.creation import retry_creation
from ccmesh.pull_feed import PullFeed


class EventFeed:
    def __init__(
        self,
        js: JetStreamContext,
        region: str,
        durable: str,
        filter_subjects: Sequence[str],
        *,
        start_time: datetime | None,
        batch: int,
        ack_wait_seconds: float = 30.0,
        max_ack_pending: int = 1024,
        ack_all: bool = False,
    ) -> None:
        self._js = js
        self._stream = naming.events_stream(region).name
        self.durable = durable
        self._filters = list(filter_subjects)
        self._start_time = start_time
        self._batch = batch
        self._ack_wait = ack_wait_seconds
        self._max_ack_pending = max_ack_pending
        # A reader that settles whole batches in order acknowledges the last message only.
        self._ack_policy = AckPolicy.ALL if ack_all else AckPolicy.EXPLICIT
        self._pulls: PullFeed | None = None

    async def open(self) -> None:
        await self._stop_pulling()  # reopened after a failure: the old pulls end first
        floor = 0
        with contextlib.suppress(NotFoundError):
            info = await self._js.consumer_info(self._stream, self.durable)
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            await self._js.delete_consumer(self._stream, self.durable)
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=self._ack_policy,
            ack_wait=self._ack_wait,
            max_deliver=-1,  # retries are counted by the worker, which dead-letters on its own
            max_ack_pending=self._max_ack_pending,
            filter_subjects=self._filters,
        )
        if floor > 0:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = floor + 1
        elif self._start_time is not None:
            config.deliver_policy = DeliverPolicy.BY_START_TIME
            config.opt_start_time = self._start_time
        else:
            config.deliver_policy = DeliverPolicy.ALL
        # On a cluster still starting, the stream may be electing its leader: retried, idempotent.
        await retry_creation(
            f"consumer {self.durable!r}", lambda: self._js.add_consumer(self._stream, config)
        )
        pulls = PullFeed.of(self._js, self._stream, self.durable, batch=self._batch)
        await pulls.start()
        self._pulls = pulls
        consumer_metrics().track(self._js, self._stream, self.durable)

    async def fetch(self, batch: int, timeout: float = 0.5) -> list[Msg]:
        """Up to `batch` messages in stream order; waits up to `timeout` seconds for the first
        (an empty list when none came)."""
        if self._pulls is None:
            raise RuntimeError("EventFeed.open() first")
        return await self._pulls.take(batch, wait=timeout)

    async def close(self) -> None:
        consumer_metrics().untrack(self._stream, self.durable)
        await self._stop_pulling()

    async def _stop_pulling(self) -> None:
        if self._pulls is not None:
            pulls, self._pulls = self._pulls, None
            with contextlib.suppress(Exception):  # the connection is gone: nothing to stop
                await pulls.close()

    async def delete(self) -> None:
        """Remove the consumer (the subscription is gone)."""
        await self.close()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self._stream, self.durable)


def contact_of(message: Msg) -> str:
    """The contact id: the last token of `ccevt.<region>.<tenant>.<type>.<contact>`."""
    return message.subject.rsplit(".", 1)[-1]
