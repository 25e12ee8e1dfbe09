"""Metrics of the process's durable JetStream consumers: lag and dead letters.

    contactcenter.consumer.lag           gauge    messages of the stream the durable consumer has
                                                  not delivered yet (JetStream `num_pending`)
    contactcenter.consumer.ack_pending   gauge    messages delivered and not yet acknowledged
    contactcenter.consumer.dead_letters  counter  messages this process moved to the dead-letter
                                                  subject, per consumer

Lag is read from the server (`consumer_info`) every `POLL_SECONDS` by one task per process, not
at scrape time: a scrape runs on the exposition thread and must never wait for the event loop.
Replicas of a service share their durable consumers, so each reports the same lag: take `max`
across instances, `sum` for the dead-letter counter.

Attributes follow the messaging conventions (`messaging.destination.name` is the stream,
`messaging.consumer.group.name` the durable); both are names from code, so bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from nats.js.client import JetStreamContext
from opentelemetry import metrics

from ccmesh import telemetry

log = logging.getLogger(__name__)

#: How often the process asks the server for the lag of its consumers.
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class ConsumerKey:
    stream: str
    durable: str


@dataclass(frozen=True)
class Backlog:
    pending: int
    ack_pending: int


class ConsumerMetrics:
    """The process's consumers, their last read backlog, and the instruments reporting both."""

    def __init__(self, meter: metrics.Meter | None = None, poll_seconds: float = POLL_SECONDS) -> None:
        meter = meter or telemetry.meter()
        self._poll_seconds = poll_seconds
        self._tracked: dict[ConsumerKey, JetStreamContext] = {}
        self._backlogs: dict[ConsumerKey, Backlog] = {}
        self._task: asyncio.Task[None] | None = None
        meter.create_observable_gauge(
            "contactcenter.consumer.lag",
            [self._observe_lag],
            unit="{message}",
            description="Messages the durable consumer has not delivered yet (JetStream num_pending)",
        )
        meter.create_observable_gauge(
            "contactcenter.consumer.ack_pending",
            [self._observe_ack_pending],
            unit="{message}",
            description="Messages delivered to the durable consumer and not yet acknowledged",
        )
        self.dead_letters = meter.create_counter(
            "contactcenter.consumer.dead_letters",
            unit="{message}",
            description="Messages moved to the dead-letter subject, per durable consumer",
        )

    def track(self, js: JetStreamContext, stream: str, durable: str) -> None:
        """Report this consumer's lag from now on (call from the event loop, once it exists)."""
        key = ConsumerKey(stream, durable)
        self._tracked[key] = js
        # Zero, not absent, until something is dead-lettered: rates and alerts see a series.
        zero = {"messaging.destination.name": stream, "messaging.consumer.group.name": durable}
        self.dead_letters.add(0, zero)
        loop = asyncio.get_running_loop()
        # A task of an earlier loop (tests run several) is dead even if never marked done.
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._poll(), name="consumer-lag")

    def untrack(self, stream: str, durable: str) -> None:
        key = ConsumerKey(stream, durable)
        self._tracked.pop(key, None)
        self._backlogs.pop(key, None)
        if not self._tracked and self._task is not None:
            if not self._task.get_loop().is_closed():
                self._task.cancel()
            self._task = None

    def dead_lettered(self, stream: str, durable: str) -> None:
        one = {"messaging.destination.name": stream, "messaging.consumer.group.name": durable}
        self.dead_letters.add(1, one)

    async def refresh(self) -> None:
        """Read every tracked consumer's backlog now (the poll loop's one step)."""
        for key, js in list(self._tracked.items()):
            try:
                info = await js.consumer_info(key.stream, key.durable)
            except Exception as error:  # a leader election or reconnect: keep the last value
                log.debug("no lag for %s/%s: %s", key.stream, key.durable, error)
                continue
            if key in self._tracked:
                self._backlogs[key] = Backlog(int(info.num_pending or 0), int(info.num_ack_pending or 0))

    async def _poll(self) -> None:
        while self._tracked:
            await self.refresh()
            await asyncio.sleep(self._poll_seconds)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _observe_lag(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for key, backlog in list(self._backlogs.items()):
            yield metrics.Observation(
                backlog.pending,
                {"messaging.destination.name": key.stream, "messaging.consumer.group.name": key.durable},
            )

    def _observe_ack_pending(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for key, backlog in list(self._backlogs.items()):
            yield metrics.Observation(
                backlog.ack_pending,
                {"messaging.destination.name": key.stream, "messaging.consumer.group.name": key.durable},
            )


_process_metrics: ConsumerMetrics | None = None


def consumer_metrics() -> ConsumerMetrics:
    """The process's one instance (instruments are registered once per meter provider)."""
    global _process_metrics
    if _process_metrics is None:
        _process_metrics = ConsumerMetrics()
    return _process_metrics
